/**
 * Scores a labelled folder with the shipped model through exactly the code path the inference service
 * uses (decode -> preprocessGray -> NoduleModel), and reports metrics with case-level bootstrap CIs.
 */
import fs from 'node:fs';
import path from 'node:path';
import { readGrayImage } from './image.repository';
import { parseLabels } from './labels';
import type { MetricsReport } from './metrics';
import { bootstrapMetrics } from './metrics';
import type { NoduleModel } from './nodule.model';
import type { Preprocessed } from './preprocess';

export interface ScoredImage {
  image: string;
  caseId: string;
  label: 0 | 1;
  probability: number;
}

export interface EvaluationReport {
  model: { id: string; version: string; sha256: string };
  folder: string;
  unlabelledSkipped: number;
  thresholds: { triage: number; urgent: number };
  metrics: MetricsReport;
  scores: ScoredImage[];
}

const BATCH = 32;

export async function evaluateFolder(model: NoduleModel, folder: string): Promise<EvaluationReport> {
  const { rows, unlabelled } = parseLabels(fs.readFileSync(path.join(folder, 'labels.csv'), 'utf8'));
  const scores: ScoredImage[] = [];
  for (let start = 0; start < rows.length; start += BATCH) {
    const chunk = rows.slice(start, start + BATCH);
    const inputs: Preprocessed[] = [];
    for (const row of chunk) {
      const img = await readGrayImage(path.join(folder, row.image));
      inputs.push(model.preprocess(img.data, img.width, img.height));
    }
    const predictions = await model.predictPreprocessed(inputs);
    chunk.forEach((row, i) => scores.push({ ...row, probability: predictions[i]?.probability ?? Number.NaN }));
  }
  const { triage, urgent } = model.manifest.thresholds;
  const metrics = bootstrapMetrics(
    scores.map((s) => s.probability),
    scores.map((s) => s.label),
    scores.map((s) => s.caseId),
    [triage.value, urgent.value],
  );
  return {
    model: { id: model.manifest.id, version: model.manifest.version, sha256: model.manifest.sha256 },
    folder,
    unlabelledSkipped: unlabelled,
    thresholds: { triage: triage.value, urgent: urgent.value },
    metrics,
    scores,
  };
}

function interval(v: { value: number; ci95: [number, number] }): string {
  return `${v.value.toFixed(4)} (95% CI ${v.ci95[0].toFixed(4)}-${v.ci95[1].toFixed(4)})`;
}

export function formatReport(report: EvaluationReport): string {
  const m = report.metrics;
  const lines = [
    `model ${report.model.id} ${report.model.version} (sha256 ${report.model.sha256.slice(0, 12)}...)`,
    `data  ${report.folder}`,
    `n     ${m.n} labelled images from ${m.groups} cases (${report.unlabelledSkipped} unlabelled skipped)`,
    `AUC   ${interval(m.auc)}`,
  ];
  const names = ['triage', 'urgent'];
  m.thresholds.forEach((t, i) => {
    lines.push(
      `${(names[i] ?? 'threshold').padEnd(6)} p >= ${t.threshold.toFixed(4)}: sensitivity ${interval(t.sensitivity)}, specificity ${interval(t.specificity)}`,
    );
  });
  lines.push(`ECE   ${interval(m.ece)} (10 equal-width bins)`);
  lines.push('CIs: 2000 bootstrap resamples of cases.');
  return lines.join('\n');
}
