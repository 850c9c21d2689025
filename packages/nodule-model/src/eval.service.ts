/**
 * `npm run eval:model`: the nodule half of the triage model on nodule crops (the DDTI `cropped/`
 * layout: labels.csv with image, mask, ddti_case, tirads_binary_4plus). The box is the mask's
 * bounding box, so this measures the lexicon heads and the combiner without the finder; whole-frame
 * figures (the path users get) come from `npm run eval:triage`.
 */
import fs from 'node:fs';
import path from 'node:path';
import { PermanentError } from '@yunying/core';
import { readGrayImage } from './image.repository';
import { parseCsv } from './labels';
import type { MetricsReport } from './metrics';
import { bootstrapMetrics } from './metrics';
import type { TriageModel } from './triage.model';

export interface CropEvaluationReport {
  model: { id: string; version: string; sha256: string };
  folder: string;
  unlabelledSkipped: number;
  withoutMask: number;
  metrics: MetricsReport;
}

export async function evaluateCrops(model: TriageModel, folder: string): Promise<CropEvaluationReport> {
  const [header, ...rows] = parseCsv(fs.readFileSync(path.join(folder, 'labels.csv'), 'utf8'));
  if (!header) throw new PermanentError('labels.csv is empty');
  const col = (name: string): number => header.findIndex((h) => h.trim() === name);
  const [iImage, iMask, iCase, iLabel] = [col('image'), col('mask'), col('ddti_case'), col('tirads_binary_4plus')];
  if (iImage < 0 || iLabel < 0) throw new PermanentError('labels.csv needs the columns image and tirads_binary_4plus');
  const scores: number[] = [];
  const labels: (0 | 1)[] = [];
  const cases: string[] = [];
  let unlabelled = 0;
  let withoutMask = 0;
  for (const r of rows) {
    const label = (r[iLabel] ?? '').trim();
    if (label !== '0' && label !== '1') {
      unlabelled++;
      continue;
    }
    const img = await readGrayImage(path.join(folder, r[iImage] ?? ''));
    let box = { x0: 0, y0: 0, x1: img.width, y1: img.height };
    const maskFile = iMask >= 0 ? (r[iMask] ?? '').trim() : '';
    if (maskFile !== '') {
      const mask = await readGrayImage(path.join(folder, maskFile));
      box = maskBox(mask.data, mask.width, mask.height) ?? box;
    } else {
      withoutMask++;
    }
    const candidate = model.scoreBox(img, box);
    scores.push(candidate.score);
    labels.push(label === '1' ? 1 : 0);
    cases.push(iCase >= 0 ? (r[iCase] ?? '') : (r[iImage] ?? ''));
  }
  // Crops are named boxes: the box combiner's thresholds apply.
  const { triage, urgent } = model.manifest.boxCombiner.thresholds;
  return {
    model: { id: model.manifest.id, version: model.manifest.version, sha256: model.manifest.sha256 },
    folder,
    unlabelledSkipped: unlabelled,
    withoutMask,
    metrics: bootstrapMetrics(scores, labels, cases, [triage.value, urgent.value]),
  };
}

function maskBox(mask: Uint8Array, width: number, height: number): { x0: number; y0: number; x1: number; y1: number } | null {
  let x0 = width;
  let y0 = height;
  let x1 = -1;
  let y1 = -1;
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      if ((mask[y * width + x] ?? 0) > 127) {
        x0 = Math.min(x0, x);
        y0 = Math.min(y0, y);
        x1 = Math.max(x1, x);
        y1 = Math.max(y1, y);
      }
    }
  }
  return x1 < 0 ? null : { x0, y0, x1: x1 + 1, y1: y1 + 1 };
}

const interval = (v: { value: number; ci95: [number, number] }): string => `${v.value.toFixed(4)} (95% CI ${v.ci95[0].toFixed(4)}-${v.ci95[1].toFixed(4)})`;

export function formatCropReport(report: CropEvaluationReport): string {
  const m = report.metrics;
  const lines = [
    `model ${report.model.id} ${report.model.version} (sha256 ${report.model.sha256.slice(0, 12)}...), nodule heads on crops (box from the mask)`,
    `data  ${report.folder}`,
    `n     ${m.n} labelled crops from ${m.groups} cases (${report.unlabelledSkipped} unlabelled skipped, ${report.withoutMask} without mask: whole crop used)`,
    `AUC   ${interval(m.auc)}`,
  ];
  const names = ['triage', 'urgent'];
  m.thresholds.forEach((t, i) => {
    lines.push(`${(names[i] ?? 'threshold').padEnd(6)} p >= ${t.threshold.toFixed(4)}: sensitivity ${interval(t.sensitivity)}, specificity ${interval(t.specificity)}`);
  });
  lines.push('CIs: 2000 bootstrap resamples of cases. Whole-frame (served path) figures: npm run eval:triage.');
  return lines.join('\n');
}
