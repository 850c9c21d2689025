import * as cornerstone from 'cornerstone-core';
import { h, replace } from '../app/dom';
import type { AiImage, AiNodule, AiResult } from './ai-result';
import type { AiResultStatus } from '@yunying/nodule-model/ai-result-view';

const percent = (score: number | null): string => (score === null ? '—' : `${(score * 100).toFixed(0)}%`);

/** Every status of the wire contract has its text (a new one is a compile error here). */
const STATUS_TEXT: Record<AiResultStatus, string> = {
  triaged: 'Triaged',
  no_nodule_found: 'Thyroid study, no confident nodule found',
  not_triaged: 'Not triaged (not a thyroid ultrasound, or nothing to read)',
  failed: 'Triage failed',
};

const ITEM_TEXT: Record<string, string> = {
  composition: 'Composition',
  echogenicity: 'Echogenicity',
  shape: 'Shape',
  margin: 'Margin',
  echogenicFoci: 'Echogenic foci',
};

/**
 * The measurements behind the categories, in words a reader can check on the image (the model's
 * descriptors: packages/nodule-model/src/nodule.descriptors.ts).
 */
function measuredView(m: Record<string, number>): HTMLElement | null {
  const lines: string[] = [];
  if (m.echo !== undefined) {
    const ratio = Math.exp(m.echo);
    lines.push(`Echogenicity: nodule ${ratio < 1 ? `${((1 - ratio) * 100).toFixed(0)}% darker` : `${((ratio - 1) * 100).toFixed(0)}% brighter`} than the tissue around it`);
  }
  if (m.dark !== undefined) lines.push(`Composition: ${(m.dark * 100).toFixed(0)}% of the nodule near-anechoic (fluid)`);
  if (m.foci !== undefined) lines.push(`Echogenic foci: brightest spot ${(m.foci * 255).toFixed(0)} gray levels above its surroundings`);
  if (m.edge !== undefined) lines.push(`Margin: edge contrast ${m.edge.toFixed(2)} × the surroundings' texture`);
  if (m.taller !== undefined) lines.push(`Shape: height / width ${Math.exp(m.taller).toFixed(2)}`);
  if (lines.length === 0) return null;
  return h('details', { class: 'measured', 'data-testid': 'ai-measured' }, h('summary', {}, 'Measured on the image'), h('ul', { class: 'small' }, ...lines.map((l) => h('li', {}, l))));
}

/** One nodule: its ACR TI-RADS categories with their points, the TR level they add up to, and the score. */
function noduleView(n: AiNodule, title: string): HTMLElement {
  return h(
    'div',
    { class: 'nodule', 'data-testid': 'ai-nodule' },
    h('h3', {}, `${title}: `, h('span', { 'data-testid': 'ai-nodule-tr' }, `${n.trLevel} (${n.tiradsPoints} points)`), ` · score ${percent(n.score)}`),
    n.sizeMm ? h('p', { class: 'muted small' }, `${n.sizeMm.long} × ${n.sizeMm.short} mm (box)`) : null,
    n.locatedBy === 'calipers' ? h('p', { class: 'muted small', 'data-testid': 'ai-located-by' }, 'Box from the calipers on the image') : null,
    h(
      'table',
      { class: 'descriptors' },
      h('thead', {}, h('tr', {}, h('th', {}, 'ACR TI-RADS'), h('th', {}, 'AI suggests'), h('th', {}, 'Points'))),
      h(
        'tbody',
        {},
        ...n.lexicon.map((l) =>
          h(
            'tr',
            { 'data-testid': 'ai-lexicon' },
            h('td', {}, ITEM_TEXT[l.item] ?? l.item),
            h('td', {}, l.label, h('span', { class: 'muted' }, l.basis === 'outline' ? ' (from the outline)' : ` (${percent(l.confidence)})`)),
            h('td', {}, String(l.points)),
          ),
        ),
        h('tr', {}, h('th', {}, 'Total'), h('th', {}, n.trLevel), h('th', {}, String(n.tiradsPoints))),
      ),
    ),
    measuredView(n.measured),
  );
}

/**
 * The AI panel: study score and category, the model and its version, per-image scores (each a link to
 * its frame), the top image's nodules in ACR TI-RADS terms (category and points per lexicon item, the
 * TR level they add up to, the score), and a button to jump to it.
 */
export function aiPanel(onJump: (image: AiImage) => void): { el: HTMLElement; show: (result: AiResult | null) => void; showReader: (nodule: AiNodule | null, note: string | null) => void } {
  const el = h('section', { class: 'panel ai-panel', 'aria-labelledby': 'ai-heading', 'data-testid': 'ai-panel' }, h('h2', { id: 'ai-heading' }, 'AI triage'), h('p', { class: 'muted' }, 'Loading…'));
  // The reader's own box, scored on demand: kept below the automatic result, replaced by the next box.
  const reader = h('div', { class: 'reader-ai', 'data-testid': 'ai-reader', 'aria-live': 'polite' });
  const showReader = (nodule: AiNodule | null, note: string | null): void => {
    replace(reader, note ? h('p', { class: 'muted small' }, note) : null, nodule ? noduleView(nodule, 'Your box') : null);
  };
  const show = (result: AiResult | null): void => {
    if (!result) {
      replace(el, h('h2', { id: 'ai-heading' }, 'AI triage'), h('p', { class: 'muted' }, 'No AI result for this study.'), reader);
      return;
    }
    const best = result.images[0];
    const jump = h('button', { type: 'button', 'data-testid': 'jump-suspicious', disabled: !best, title: 'Shortcut: J' }, 'Most suspicious image');
    if (best) jump.addEventListener('click', () => onJump(best));
    const images = result.images.map((image, i) => {
      const link = h('button', { type: 'button', class: 'link' }, `Image ${i + 1}, frame ${image.frameNumber}: ${percent(image.score)}${image.category ? ` (${image.category})` : ''}`);
      link.addEventListener('click', () => onJump(image));
      return h('li', { 'data-testid': 'ai-image' }, link);
    });
    const nodules = best?.nodules ?? [];
    replace(
      el,
      h('h2', { id: 'ai-heading' }, 'AI triage'),
      h(
        'dl',
        { class: 'facts' },
        h('dt', {}, 'Study score'),
        h('dd', { 'data-testid': 'ai-score' }, percent(result.score)),
        h('dt', {}, 'Category'),
        // The queue priority repeats the category for urgent studies ("urgent · urgent"): shown only when it adds something.
        h('dd', {}, result.category ?? '—', result.priority && result.priority !== result.category ? ` · ${result.priority}` : ''),
        h('dt', {}, 'Model'),
        h('dd', { 'data-testid': 'ai-model' }, `${result.modelId} ${result.modelVersion}`),
        result.status !== 'triaged' ? h('dt', {}, 'Status') : null,
        result.status !== 'triaged' ? h('dd', { 'data-testid': 'ai-status' }, result.status === 'unknown' ? 'Unknown status' : STATUS_TEXT[result.status], result.reason ? `: ${result.reason}` : '') : null,
      ),
      jump,
      images.length > 0 ? h('h3', {}, 'Per image') : null,
      images.length > 0 ? h('ul', { class: 'plain' }, ...images) : null,
      ...nodules.map((n) => noduleView(n, `Nodule ${n.index}`)),
      reader,
      h('p', { class: 'muted small' }, 'A triage aid, not a diagnosis. Nothing here is copied into the report. Draw a box (B) to have the model read a nodule you choose.'),
    );
  };
  return { el, show, showReader };
}

/** Draws the nodule's outline (or box) over the image the finding belongs to, in image pixel coordinates. */
export function drawFinding(element: HTMLElement, image: AiImage): void {
  const canvas = element.querySelector('canvas');
  const context = canvas?.getContext('2d');
  if (!context) return;
  const points: [number, number][] =
    image.outline.length > 2
      ? image.outline
      : image.box
        ? [
            [image.box.x, image.box.y],
            [image.box.x + image.box.width, image.box.y],
            [image.box.x + image.box.width, image.box.y + image.box.height],
            [image.box.x, image.box.y + image.box.height],
          ]
        : [];
  if (points.length < 3) return;
  context.save();
  context.setTransform(1, 0, 0, 1, 0, 0);
  context.strokeStyle = '#ffcc00';
  context.lineWidth = 2;
  context.setLineDash(image.located ? [] : [6, 4]);
  context.beginPath();
  points.forEach(([x, y], i) => {
    const p = cornerstone.pixelToCanvas(element, { x, y });
    if (i === 0) context.moveTo(p.x, p.y);
    else context.lineTo(p.x, p.y);
  });
  context.closePath();
  context.stroke();
  context.restore();
}
