/**
 * `npm run eval:triage`: exactly the served path (analyseInstance + decideStudy, the code the triage
 * worker runs) over folders with a labels.csv of `image,label,case,mask`:
 *   image  a PNG/JPEG frame or a DICOM file, relative to the folder;
 *   label  1 suspicious/malignant, 0 benign, empty for a non-thyroid image that must not be triaged
 *          (a folder with no label column, such as ultrasound-other, is all non-thyroid);
 *   case   groups images for case-level figures and CIs;
 *   mask   optional nodule mask (locator hit rate: top nodule box IoU >= 0.3 with an outlined nodule;
 *          and the named-box figure: each outlined nodule's box scored as a reader's box would be, which
 *          separates what the score does once the nodule is found from what the finder misses).
 * The DDTI layout (`tirads_binary_4plus`, `ddti_case`) is read too. PNG/JPEG frames are wrapped as US
 * instances with no body-part or description attributes, so the image half of the gate is measured.
 * Each image is a one-image study (image level); each case is one study of its images (case level).
 */
import fs from 'node:fs';
import path from 'node:path';
import { PermanentError } from '@yunying/core';
import { decodeFrame, parseInstance, toGray8 } from '@yunying/dicom';
import { makeInstance } from '@yunying/dicom/testing';
import type { Corners, GrayImage, MetricsReport, TriageModel } from '@yunying/nodule-model';
import { bootstrapMetrics, boxIou, parseCsv, readGrayImage, readRgbImage } from '@yunying/nodule-model';
import type { ImageAnalysis } from '../triage/analyse';
import { analyseInstance } from '../triage/analyse';
import type { StudyOutcome } from '../triage/study.decision';
import { decideStudy } from '../triage/study.decision';

export interface EvalRow {
  folder: string;
  image: string;
  label: 0 | 1 | null;
  /** A thyroid frame (labelled, or in a DDTI-layout folder without a TI-RADS); false: must not be triaged. */
  thyroid: boolean;
  caseId: string;
  mask: string | null;
}

export interface ImageResult {
  row: EvalRow;
  outcome: StudyOutcome['status'];
  score: number | null;
  reason: string | null;
  thyroid: number | null;
  hit: boolean | null;
  /** The most suspicious outlined nodule of the image scored as a named box (the reader-guided path); null without a mask. */
  namedBoxScore: number | null;
}

export interface TriageEvaluation {
  model: { id: string; version: string; sha256: string };
  n: number;
  images: ImageResult[];
  imageLevel: MetricsReport | null;
  caseLevel: MetricsReport | null;
  notTriaged: { total: number; labelled: number; thyroid: number; unlabelledTotal: number; unlabelledNotTriaged: number };
  noNoduleFound: { total: number; labelled: number };
  locator: { hits: number; of: number } | null;
  thresholds: { triage: number; urgent: number };
  /** Outlined nodules scored as named boxes (box combiner, its own thresholds); null when no labelled image has a mask. */
  namedBoxes: { imageLevel: MetricsReport; caseLevel: MetricsReport; thresholds: { triage: number; urgent: number } } | null;
}

export function readRows(folder: string): EvalRow[] {
  const [header, ...body] = parseCsv(fs.readFileSync(path.join(folder, 'labels.csv'), 'utf8'));
  if (!header) throw new PermanentError(`${folder}/labels.csv is empty`);
  const col = (...names: string[]): number => header.findIndex((h) => names.includes(h.trim()));
  const iImage = col('image');
  const iLabel = col('label', 'tirads_binary_4plus');
  // DDTI layout: an empty tirads_binary_4plus is a thyroid frame without a category, not a non-thyroid one.
  const ddti = header.some((h) => h.trim() === 'tirads_binary_4plus');
  // No label column at all (e.g. ultrasound-other): every image is one that must not be triaged.
  const noLabels = iLabel < 0;
  const iCase = col('case', 'ddti_case');
  const iMask = col('mask');
  if (iImage < 0) throw new PermanentError(`${folder}/labels.csv needs the column image`);
  return body.map((r, n) => {
    const raw = noLabels ? '' : (r[iLabel] ?? '').trim();
    if (raw !== '' && raw !== '0' && raw !== '1') throw new PermanentError(`${folder}/labels.csv row ${n + 2}: label must be 0, 1 or empty`);
    const image = (r[iImage] ?? '').trim();
    const mask = iMask >= 0 ? (r[iMask] ?? '').trim() : '';
    return {
      folder,
      image,
      label: raw === '' ? null : raw === '1' ? 1 : 0,
      thyroid: raw !== '' || ddti,
      caseId: `${path.basename(folder)}:${iCase >= 0 && (r[iCase] ?? '').trim() !== '' ? (r[iCase] ?? '').trim() : image}`,
      mask: mask === '' ? null : mask,
    };
  });
}

/** A PNG/JPEG frame as a US instance with no body part or description: only the pixels speak. */
export async function instanceBytes(file: string): Promise<Uint8Array> {
  if (/\.(dcm|dicom)$/i.test(file)) return new Uint8Array(fs.readFileSync(file));
  const rgb = await readRgbImage(file);
  return makeInstance({
    rows: rgb.height,
    columns: rgb.width,
    photometric: 'RGB',
    patientName: '',
    patientId: '',
    studyDescription: '',
    seriesDescription: '',
    extra: { BodyPartExamined: null },
    seed: file,
    pixelPattern: (_frame, row, column, sample) => rgb.data[(row * rgb.width + column) * 3 + sample] ?? 0,
  });
}

/** Boxes of the outlined nodules in a mask (8-connected regions of at least 60 px, as in training). */
export async function maskBoxes(file: string): Promise<Corners[]> {
  const mask = await readGrayImage(file);
  const { width, height, data } = mask;
  const seen = new Uint8Array(width * height);
  const boxes: Corners[] = [];
  for (let start = 0; start < width * height; start++) {
    if ((data[start] ?? 0) <= 127 || seen[start]) continue;
    seen[start] = 1;
    const stack = [start];
    let n = 0;
    let x0 = width;
    let y0 = height;
    let x1 = -1;
    let y1 = -1;
    while (stack.length) {
      const i = stack.pop() ?? 0;
      n++;
      const x = i % width;
      const y = Math.floor(i / width);
      x0 = Math.min(x0, x);
      y0 = Math.min(y0, y);
      x1 = Math.max(x1, x);
      y1 = Math.max(y1, y);
      for (let dy = -1; dy <= 1; dy++) {
        for (let dx = -1; dx <= 1; dx++) {
          const xx = x + dx;
          const yy = y + dy;
          const j = yy * width + xx;
          if (xx >= 0 && yy >= 0 && xx < width && yy < height && (data[j] ?? 0) > 127 && !seen[j]) {
            seen[j] = 1;
            stack.push(j);
          }
        }
      }
    }
    if (n >= 60) boxes.push({ x0, y0, x1: x1 + 1, y1: y1 + 1 });
  }
  return boxes;
}

function scoreOf(outcome: StudyOutcome): number | null {
  return outcome.status === 'triaged' ? outcome.score : null;
}

export interface ScoredRows {
  images: ImageResult[];
  /** Case -> label (max over its labelled images) and the score of the case as one study. */
  cases: Map<string, { label: 0 | 1; score: number }>;
  locator: { hits: number; of: number };
}

/** The first frame's 8-bit gray exactly as the served path sees it (decoded from the instance it is wrapped in). */
async function grayOf(file: string): Promise<GrayImage> {
  const bytes = await instanceBytes(file);
  return toGray8(await decodeFrame(bytes, parseInstance(bytes), 0));
}

/** The most suspicious of an image's outlined nodules, each scored as a named box. */
async function namedBoxScore(model: TriageModel, row: EvalRow, truth: Corners[]): Promise<number | null> {
  if (truth.length === 0) return null;
  const gray = await grayOf(path.join(row.folder, row.image));
  return Math.max(...truth.map((box) => model.scoreBox(gray, box).score));
}

/** Runs the served path on each row (a one-image study) and on each case (one study of its images). */
export async function scoreRows(model: TriageModel, rows: EvalRow[], onProgress?: (done: number, total: number) => void): Promise<ScoredRows> {
  const manifest = model.manifest;
  const images: ImageResult[] = [];
  const analyses = new Map<string, ImageAnalysis[]>();
  let hits = 0;
  let withMask = 0;
  for (const [n, row] of rows.entries()) {
    const analysis = await analyseInstance(model, await instanceBytes(path.join(row.folder, row.image)));
    const outcome = decideStudy([analysis], manifest);
    analyses.set(row.caseId, [...(analyses.get(row.caseId) ?? []), analysis]);
    let hit: boolean | null = null;
    let named: number | null = null;
    if (row.mask !== null) {
      const truth = await maskBoxes(path.join(row.folder, row.mask));
      if (row.label !== null) named = await namedBoxScore(model, row, truth);
      const top = analysis.status === 'analysed' ? analysis.best?.nodules[0] : undefined;
      const box = top ? { x0: top.box.x, y0: top.box.y, x1: top.box.x + top.box.width, y1: top.box.y + top.box.height } : null;
      hit = box !== null && truth.some((t) => boxIou(box, t) >= 0.3);
      withMask++;
      if (hit) hits++;
    }
    images.push({
      row,
      outcome: outcome.status,
      score: scoreOf(outcome),
      reason: outcome.status === 'triaged' ? null : outcome.reason,
      thyroid: analysis.status === 'analysed' ? analysis.thyroid : null,
      hit,
      namedBoxScore: named,
    });
    onProgress?.(n + 1, rows.length);
  }
  const cases = new Map<string, { label: 0 | 1; score: number }>();
  for (const i of images) {
    if (i.row.label === null) continue;
    const prev = cases.get(i.row.caseId);
    const label = Math.max(prev?.label ?? 0, i.row.label) as 0 | 1;
    // Not triaged or no nodule found: no score, so the case ranks lowest (never flagged), as in the queue.
    cases.set(i.row.caseId, { label, score: prev?.score ?? scoreOf(decideStudy(analyses.get(i.row.caseId) ?? [], manifest)) ?? 0 });
  }
  return { images, cases, locator: { hits, of: withMask } };
}

/** Image- and case-level figures of the named-box scores (a case: its most suspicious outlined nodule). */
function namedBoxFigures(images: ImageResult[], thresholdsOf: { triage: number; urgent: number }): TriageEvaluation['namedBoxes'] {
  const boxed = images.filter((i): i is ImageResult & { namedBoxScore: number; row: EvalRow & { label: 0 | 1 } } => i.namedBoxScore !== null && i.row.label !== null);
  if (boxed.length === 0) return null;
  const thresholds = [thresholdsOf.triage, thresholdsOf.urgent];
  const byCase = new Map<string, { label: 0 | 1; score: number }>();
  for (const i of boxed) {
    const prev = byCase.get(i.row.caseId);
    byCase.set(i.row.caseId, { label: Math.max(prev?.label ?? 0, i.row.label) as 0 | 1, score: Math.max(prev?.score ?? 0, i.namedBoxScore) });
  }
  const keys = [...byCase.keys()].sort();
  return {
    imageLevel: bootstrapMetrics(boxed.map((i) => i.namedBoxScore), boxed.map((i) => i.row.label), boxed.map((i) => i.row.caseId), thresholds),
    caseLevel: bootstrapMetrics(keys.map((k) => byCase.get(k)?.score ?? 0), keys.map((k) => byCase.get(k)?.label ?? 0), keys, thresholds),
    thresholds: thresholdsOf,
  };
}

/** Figures over scored rows (one model, or the pooled out-of-fold rows of cross-validation). */
export function summarise(
  model: TriageEvaluation['model'],
  thresholdsOf: { triage: number; urgent: number },
  scored: ScoredRows,
  boxThresholdsOf: { triage: number; urgent: number } = thresholdsOf,
): TriageEvaluation {
  const { images, cases } = scored;
  const thresholds = [thresholdsOf.triage, thresholdsOf.urgent];
  const labelled = images.filter((i) => i.row.label !== null);
  const imageLevel =
    labelled.length > 0
      ? bootstrapMetrics(
          labelled.map((i) => i.score ?? 0),
          labelled.map((i) => i.row.label ?? 0),
          labelled.map((i) => i.row.caseId),
          thresholds,
        )
      : null;
  const keys = [...cases.keys()].sort();
  const caseLevel =
    keys.length > 0
      ? bootstrapMetrics(
          keys.map((k) => cases.get(k)?.score ?? 0),
          keys.map((k) => cases.get(k)?.label ?? 0),
          keys,
          thresholds,
        )
      : null;
  const notTriaged = images.filter((i) => i.outcome === 'not_triaged');
  const unlabelled = images.filter((i) => !i.row.thyroid);
  return {
    model,
    n: images.length,
    images,
    imageLevel,
    caseLevel,
    notTriaged: {
      total: notTriaged.length,
      labelled: notTriaged.filter((i) => i.row.label !== null).length,
      thyroid: notTriaged.filter((i) => i.row.thyroid).length,
      unlabelledTotal: unlabelled.length,
      unlabelledNotTriaged: unlabelled.filter((i) => i.outcome === 'not_triaged').length,
    },
    noNoduleFound: { total: images.filter((i) => i.outcome === 'no_nodule_found').length, labelled: labelled.filter((i) => i.outcome === 'no_nodule_found').length },
    locator: scored.locator.of > 0 ? scored.locator : null,
    thresholds: thresholdsOf,
    namedBoxes: namedBoxFigures(images, boxThresholdsOf),
  };
}

export async function evaluateTriage(model: TriageModel, rows: EvalRow[], onProgress?: (done: number, total: number) => void): Promise<TriageEvaluation> {
  const { manifest } = model;
  const scored = await scoreRows(model, rows, onProgress);
  const box = manifest.boxCombiner.thresholds;
  return summarise(
    { id: manifest.id, version: manifest.version, sha256: manifest.sha256 },
    { triage: manifest.thresholds.triage.value, urgent: manifest.thresholds.urgent.value },
    scored,
    { triage: box.triage.value, urgent: box.urgent.value },
  );
}

const interval = (v: { value: number; ci95: [number, number] }): string => `${v.value.toFixed(3)} (95% CI ${v.ci95[0].toFixed(3)}-${v.ci95[1].toFixed(3)})`;

function metricLines(name: string, m: MetricsReport | null, what: string): string[] {
  if (m === null) return [`${name}: no labelled ${what}`];
  const lines = [`${name}: n ${m.n} ${what} from ${m.groups} cases, AUC ${interval(m.auc)}`];
  const names = ['triage', 'urgent'];
  m.thresholds.forEach((t, i) => {
    lines.push(`  ${(names[i] ?? 'threshold').padEnd(6)} score >= ${t.threshold.toFixed(4)}: sensitivity ${interval(t.sensitivity)}, specificity ${interval(t.specificity)}`);
  });
  return lines;
}

export function formatTriageReport(e: TriageEvaluation): string {
  const by = (status: string): number => e.images.filter((i) => i.outcome === status).length;
  const lines = [
    `model ${e.model.id} ${e.model.version} (sha256 ${e.model.sha256.slice(0, 12)}...), served path: decode -> colour check -> gate -> nodule finder -> lexicon heads -> combiner -> study decision`,
    `n ${e.n} images: triaged ${by('triaged')}, no_nodule_found ${by('no_nodule_found')}, not_triaged ${by('not_triaged')}`,
    ...metricLines('image level', e.imageLevel, 'labelled images'),
    ...metricLines('case level', e.caseLevel, 'labelled cases'),
    `not_triaged ${e.notTriaged.total} of ${e.n} (${e.notTriaged.labelled} of them had a label; ${e.notTriaged.thyroid} thyroid frames in all; non-thyroid images not triaged: ${e.notTriaged.unlabelledNotTriaged} of ${e.notTriaged.unlabelledTotal})`,
    `no_nodule_found ${e.noNoduleFound.total} (${e.noNoduleFound.labelled} labelled)`,
  ];
  if (e.locator) lines.push(`locator hit rate ${(e.locator.hits / e.locator.of).toFixed(3)} (${e.locator.hits} of ${e.locator.of} images with a mask: top nodule box IoU >= 0.3 with an outlined nodule)`);
  if (e.namedBoxes) {
    lines.push(
      ...metricLines('named boxes, image level', e.namedBoxes.imageLevel, 'labelled images with a mask (their outlined nodules scored as a reader\'s box: the score once the nodule is found)'),
      ...metricLines('named boxes, case level', e.namedBoxes.caseLevel, 'labelled cases with a mask'),
    );
  }
  lines.push('Unscored images (not_triaged, no_nodule_found) rank lowest. CIs: 2000 bootstrap resamples of cases.');
  return lines.join('\n');
}
