import { h } from '../app/dom';
import { t } from '../app/i18n';
import type { MeasuredLine } from './tirads-state';
import type { Measurement } from './stack-viewport';
import type { ViewerSession } from './viewer-session';

export interface MeasurementList {
  readonly el: HTMLUListElement;
  add: (m: Measurement) => void;
}

/**
 * The caliper lengths measured on this study. A calibrated one can become a nodule's long axis in the
 * report: `useLongAxis` answers false once the report is signed.
 */
export function measurementList(session: ViewerSession, useLongAxis: (lengthMm: number, line: MeasuredLine) => boolean): MeasurementList {
  const el = h('ul', { class: 'measurements', 'aria-label': t('Measurements', '测量'), 'data-testid': 'measurements' });

  function add(m: Measurement): void {
    const text = m.lengthMm === null ? t(`${m.lengthPx.toFixed(1)} px (no calibration)`, `${m.lengthPx.toFixed(1)} px（未校准）`) : `${m.lengthMm.toFixed(1)} mm`;
    const item = h('li', { 'data-testid': 'measurement' }, t(`Length ${text} · frame ${m.index + 1}`, `长度 ${text} · 第 ${m.index + 1} 帧`));
    const frame = session.frames[m.index];
    // A calibrated caliper can be a nodule's long axis; the signed SR then says on which image and frame.
    if (m.lengthMm !== null && m.points !== null && frame) {
      const lengthMm = m.lengthMm;
      const line = { sopInstanceUid: frame.sopInstanceUid, frameNumber: frame.frameNumber, points: m.points };
      const use = h('button', { type: 'button', class: 'link', 'data-testid': 'measurement-to-nodule' }, t('Use as nodule long axis', '用作结节长径'));
      use.addEventListener('click', () => {
        if (!useLongAxis(lengthMm, line)) session.status.set(t('The report is signed: add an addendum instead.', '报告已签署：请改为添加补充报告。'), 'error');
      });
      item.append(' · ', use);
    }
    el.append(item);
  }

  return { el, add };
}
