import * as cornerstone from 'cornerstone-core';
import { h, replace } from '../app/dom';
import { language, t } from '../app/i18n';
import type { AiImage, AiNodule, AiResult } from './ai-result';
import type { AiResultStatus } from '@yunying/nodule-model/ai-result-view';
import { aiCysticNote, aiSpongiformNote, codeZh, isLexiconItem, itemText } from './tirads-zh';
import { aiReasonText } from './ai-reason-zh';

const percent = (score: number | null): string => (score === null ? '—' : `${(score * 100).toFixed(0)}%`);

/** Every status of the wire contract has its text (a new one is a compile error here). */
function statusText(status: AiResultStatus): string {
  switch (status) {
    case 'triaged':
      return t('Triaged', '已分诊');
    case 'no_nodule_found':
      return t('Thyroid study, no confident nodule found', '甲状腺检查，未发现明确结节');
    case 'not_triaged':
      return t('Not triaged (not a thyroid ultrasound, or nothing to read)', '未分诊（非甲状腺超声，或无可阅图像）');
    case 'failed':
      return t('Triage failed', '分诊失败');
  }
}

/** A triage level or queue priority as sent (urgent, flagged, priority, routine), in Chinese when the reader reads Chinese. */
function aiLevelText(level: string): string {
  const zh: Record<string, string> = { urgent: '紧急', flagged: '需关注', priority: '优先', routine: '常规' };
  return language() === 'zh' ? (zh[level] ?? level) : level;
}

/** The lexicon item's name, and the model's label of a code (in Chinese: the term of the Chinese reports). */
const itemName = (item: string): string => (isLexiconItem(item) ? itemText(item) : item);
const aiCodeLabel = (item: string, code: string, label: string): string => (language() === 'zh' && isLexiconItem(item) ? codeZh(item, code, label) : label);

/**
 * The measurements behind the categories, in words a reader can check on the image (the model's
 * descriptors: packages/nodule-model/src/nodule.descriptors.ts).
 */
function measuredView(m: Record<string, number>): HTMLElement | null {
  const lines: string[] = [];
  if (m.echo !== undefined) {
    const ratio = Math.exp(m.echo);
    const darker = `${((1 - ratio) * 100).toFixed(0)}%`;
    const brighter = `${((ratio - 1) * 100).toFixed(0)}%`;
    lines.push(
      t(
        `Echogenicity: nodule ${ratio < 1 ? `${darker} darker` : `${brighter} brighter`} than the tissue around it`,
        `回声：结节比周围组织${ratio < 1 ? `暗 ${darker}` : `亮 ${brighter}`}`,
      ),
    );
  }
  if (m.dark !== undefined) lines.push(t(`Composition: ${(m.dark * 100).toFixed(0)}% of the nodule near-anechoic (fluid)`, `成分：结节 ${(m.dark * 100).toFixed(0)}% 接近无回声（液性）`));
  if (m.foci !== undefined) lines.push(t(`Echogenic foci: brightest spot ${(m.foci * 255).toFixed(0)} gray levels above its surroundings`, `强回声灶：最亮点比周围高 ${(m.foci * 255).toFixed(0)} 个灰阶`));
  if (m.edge !== undefined) lines.push(t(`Margin: edge contrast ${m.edge.toFixed(2)} × the surroundings' texture`, `边缘：边缘对比度为周围纹理的 ${m.edge.toFixed(2)} 倍`));
  if (m.taller !== undefined) lines.push(t(`Shape: height / width ${Math.exp(m.taller).toFixed(2)}`, `形态：纵横比（高/宽）${Math.exp(m.taller).toFixed(2)}`));
  if (lines.length === 0) return null;
  return h('details', { class: 'measured', 'data-testid': 'ai-measured' }, h('summary', {}, t('Measured on the image', '图像测量依据')), h('ul', { class: 'small' }, ...lines.map((l) => h('li', {}, l))));
}

/** Where an AI category comes from: the head's confidence, the outline (shape), or the chart (a cystic nodule is anechoic). */
function basisText(l: AiNodule['lexicon'][number]): string {
  if (l.basis === 'outline') return t(' (from the outline)', '（依据轮廓）');
  if (l.basis === 'composition') return t(' (cystic: anechoic by the chart)', '（囊性：按评分表为无回声）');
  return t(` (${percent(l.confidence)})`, `（${percent(l.confidence)}）`);
}

/** One nodule: its ACR TI-RADS categories with their points, the TR level they add up to, and the score. */
function noduleView(n: AiNodule, title: string): HTMLElement {
  // Why the total is not the rows' sum for a spongiform nodule (the chart's footnote); a legacy cystic reading.
  const chartNote = aiSpongiformNote(n) ?? aiCysticNote(n);
  return h(
    'div',
    { class: 'nodule', 'data-testid': 'ai-nodule' },
    h(
      'h3',
      {},
      t(`${title}: `, `${title}：`),
      h('span', { 'data-testid': 'ai-nodule-tr' }, t(`${n.trLevel} (${n.tiradsPoints} points)`, `${n.trLevel}（${n.tiradsPoints} 分）`)),
      t(` · score ${percent(n.score)}`, ` · AI 评分 ${percent(n.score)}`),
    ),
    n.sizeMm ? h('p', { class: 'muted small' }, t(`${n.sizeMm.long} × ${n.sizeMm.short} mm (box)`, `${n.sizeMm.long} × ${n.sizeMm.short} mm（外接框）`)) : null,
    n.locatedBy === 'calipers' ? h('p', { class: 'muted small', 'data-testid': 'ai-located-by' }, t('Box from the calipers on the image', '框取自图像上的测量标记')) : null,
    h(
      'table',
      { class: 'descriptors' },
      h('thead', {}, h('tr', {}, h('th', {}, 'ACR TI-RADS'), h('th', {}, t('AI suggests', 'AI 建议')), h('th', {}, t('Points', '分值')))),
      h(
        'tbody',
        {},
        ...n.lexicon.map((l) =>
          h(
            'tr',
            { 'data-testid': 'ai-lexicon' },
            h('td', {}, itemName(l.item)),
            h('td', {}, aiCodeLabel(l.item, l.code, l.label), h('span', { class: 'muted' }, basisText(l))),
            h('td', {}, String(l.points)),
          ),
        ),
        h('tr', {}, h('th', {}, t('Total', '合计')), h('th', {}, n.trLevel), h('th', {}, String(n.tiradsPoints))),
      ),
    ),
    chartNote ? h('p', { class: 'muted small', 'data-testid': 'ai-chart-note' }, chartNote) : null,
    measuredView(n.measured),
  );
}

/**
 * The AI panel: study score and category, the model and its version, per-image scores (each a link to
 * its frame), the top image's nodules in ACR TI-RADS terms (category and points per lexicon item, the
 * TR level they add up to, the score), and a button to jump to it.
 */
export function aiPanel(onJump: (image: AiImage) => void): { el: HTMLElement; show: (result: AiResult | null) => void; showReader: (nodule: AiNodule | null, note: string | null) => void } {
  const heading = (): HTMLElement => h('h2', { id: 'ai-heading' }, t('AI triage', 'AI 分诊'));
  const el = h('section', { class: 'panel ai-panel', 'aria-labelledby': 'ai-heading', 'data-testid': 'ai-panel' }, heading(), h('p', { class: 'muted' }, t('Loading…', '正在加载…')));
  // The reader's own box, scored on demand: kept below the automatic result, replaced by the next box.
  const reader = h('div', { class: 'reader-ai', 'data-testid': 'ai-reader', 'aria-live': 'polite' });
  const showReader = (nodule: AiNodule | null, note: string | null): void => {
    replace(reader, note ? h('p', { class: 'muted small' }, note) : null, nodule ? noduleView(nodule, t('Your box', '手动框选')) : null);
  };
  const show = (result: AiResult | null): void => {
    if (!result) {
      replace(el, heading(), h('p', { class: 'muted' }, t('No AI result for this study.', '本检查无 AI 结果。')), reader);
      return;
    }
    const best = result.images[0];
    const jump = h('button', { type: 'button', 'data-testid': 'jump-suspicious', disabled: !best, title: t('Shortcut: J', '快捷键：J') }, t('Most suspicious image', '最可疑图像'));
    if (best) jump.addEventListener('click', () => onJump(best));
    const images = result.images.map((image, i) => {
      const link = h(
        'button',
        { type: 'button', class: 'link' },
        t(
          `Image ${i + 1}, frame ${image.frameNumber}: ${percent(image.score)}${image.category ? ` (${image.category})` : ''}`,
          `图像 ${i + 1}，第 ${image.frameNumber} 帧：${percent(image.score)}${image.category ? `（${aiLevelText(image.category)}）` : ''}`,
        ),
      );
      link.addEventListener('click', () => onJump(image));
      return h('li', { 'data-testid': 'ai-image' }, link);
    });
    const nodules = best?.nodules ?? [];
    replace(
      el,
      heading(),
      h(
        'dl',
        { class: 'facts' },
        h('dt', {}, t('Study score', '检查评分')),
        h('dd', { 'data-testid': 'ai-score' }, percent(result.score)),
        h('dt', {}, t('Category', '分诊级别')),
        // The queue priority repeats the category for urgent studies ("urgent · urgent"): shown only when it adds something.
        h('dd', {}, result.category === null ? '—' : aiLevelText(result.category), result.priority && result.priority !== result.category ? ` · ${aiLevelText(result.priority)}` : ''),
        h('dt', {}, t('Model', '模型')),
        h('dd', { 'data-testid': 'ai-model' }, `${result.modelId} ${result.modelVersion}`),
        result.status !== 'triaged' ? h('dt', {}, t('Status', '状态')) : null,
        result.status !== 'triaged'
          ? h('dd', { 'data-testid': 'ai-status' }, result.status === 'unknown' ? t('Unknown status', '未知状态') : statusText(result.status), result.reason ? `${t(': ', '：')}${aiReasonText(result.reason)}` : '')
          : null,
      ),
      jump,
      images.length > 0 ? h('h3', {}, t('Per image', '各图像评分')) : null,
      images.length > 0 ? h('ul', { class: 'plain' }, ...images) : null,
      ...nodules.map((n) => noduleView(n, t(`Nodule ${n.index}`, `结节 ${n.index}`))),
      reader,
      h(
        'p',
        { class: 'muted small' },
        t(
          'A triage aid, not a diagnosis. Nothing here is copied into the report. Draw a box (B) to have the model read a nodule you choose.',
          'AI 分诊仅作辅助，不作为诊断。此处内容不会复制到报告中。框选（B）一个结节，可让模型分析您所选的结节。',
        ),
      ),
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
