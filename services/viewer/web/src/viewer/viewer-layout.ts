import { h, replace } from '../app/dom';
import { t } from '../app/i18n';
import { shortcutHelp } from './shortcuts';

/** The pieces the viewer page is laid out from, each built by its own part. */
export interface ViewerLayout {
  banner: HTMLElement;
  status: HTMLElement;
  toolbar: HTMLElement[];
  imageRow: HTMLElement;
  frameLabel: HTMLElement;
  calibration: HTMLElement;
  measurements: HTMLElement;
  seriesList: HTMLElement;
  /** The side column's panels below the series list, top to bottom. */
  panels: HTMLElement[];
}

/**
 * The page shell: patient banner, back link and status; the image column (toolbar, image, frame info,
 * measurements, shortcut help) and the side column (series, then the panels).
 */
export function renderViewerLayout(root: HTMLElement, parts: ViewerLayout): void {
  const back = h('a', { href: '/queue', 'data-link': true, class: 'back' }, t('← Queue', '← 阅片队列'));
  const toolbar = h('div', { class: 'toolbar', role: 'toolbar', 'aria-label': t('Image tools', '图像工具') }, ...parts.toolbar);
  replace(
    root,
    h(
      'section',
      { class: 'viewer-page' },
      parts.banner,
      h('div', { class: 'viewer-bar' }, back, parts.status),
      h(
        'div',
        { class: 'viewer-layout' },
        h('div', { class: 'image-column' }, toolbar, parts.imageRow, h('div', { class: 'image-info' }, parts.frameLabel, parts.calibration), parts.measurements, h('p', { class: 'muted small shortcuts' }, shortcutHelp())),
        h('aside', { class: 'side-column' }, h('section', { class: 'panel' }, h('h2', {}, t('Series', '序列')), parts.seriesList), ...parts.panels),
      ),
    ),
  );
}
