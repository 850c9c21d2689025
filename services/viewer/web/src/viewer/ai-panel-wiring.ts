import { errorText, getJson, sendJson } from '../app/api';
import { h } from '../app/dom';
import { t } from '../app/i18n';
import { obj } from '../app/json';
import { currentResult, parseAiResults, parseNodule, type AiImage } from './ai-result';
import { aiPanel, drawFinding } from './ai-panel';
import type { DrawnBox } from './stack-viewport';
import type { ViewerSession } from './viewer-session';

export interface AiWiring {
  readonly panel: HTMLElement;
  /** The toolbar's Outline button. */
  readonly outlineButton: HTMLButtonElement;
  /** Draws the AI outline on frame `index` when it has a finding and outlines are shown. */
  drawOn: (index: number) => void;
  /** Reader-guided scoring: the model on the box the reader drew; the answer joins the AI panel. */
  scoreBox: (box: DrawnBox) => void;
  toggleOutline: () => void;
  /** The study's current AI result into the session and the panel; a failure shows an empty panel. */
  load: () => Promise<void>;
}

/** The AI panel and what feeds it: the stored result, the outline on `image` (the viewport element), and scoring a drawn box. */
export function aiPanelWiring(session: ViewerSession, image: HTMLElement, jumpTo: (image: AiImage) => void): AiWiring {
  const studyPath = `/api/studies/${encodeURIComponent(session.studyUid)}`;
  let showOutline = true;
  const panel = aiPanel(jumpTo);
  const outlineButton = h('button', { type: 'button', 'aria-pressed': 'true', title: t('Show the AI outline (O)', '显示 AI 轮廓（O）') }, t('Outline', '轮廓'));

  function findingOn(index: number): AiImage | null {
    const frame = session.frames[index];
    const ai = session.ai;
    if (!ai || !frame || !showOutline) return null;
    return ai.images.find((i) => i.sopInstanceUid === frame.sopInstanceUid && i.frameNumber === frame.frameNumber) ?? null;
  }

  function drawOn(index: number): void {
    const finding = findingOn(index);
    if (finding) drawFinding(image, finding);
  }

  function scoreBox(box: DrawnBox): void {
    const frame = session.frames[box.index];
    if (!frame) return;
    panel.showReader(null, t('Scoring the box…', '正在对框选区域评分…'));
    sendJson('POST', `${studyPath}/ai/nodules`, {
      sopInstanceUid: frame.sopInstanceUid,
      frameNumber: frame.frameNumber,
      box: { x: box.x, y: box.y, width: box.width, height: box.height },
    }).then(
      (body) => panel.showReader(parseNodule(obj(body).finding), null),
      (error: unknown) => panel.showReader(null, errorText(error)),
    );
  }

  function toggleOutline(): void {
    showOutline = !showOutline;
    outlineButton.setAttribute('aria-pressed', String(showOutline));
    session.viewport?.scrollBy(0);
  }
  outlineButton.addEventListener('click', toggleOutline);

  const load = (): Promise<void> =>
    getJson(`${studyPath}/ai`, session.signal)
      .then((body) => {
        session.ai = currentResult(parseAiResults(body));
        panel.show(session.ai);
      })
      .catch(() => panel.show(null));

  return { panel: panel.el, outlineButton, drawOn, scoreBox, toggleOutline, load };
}
