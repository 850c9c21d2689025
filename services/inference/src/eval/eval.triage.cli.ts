/**
 * npm run eval:triage -- --data <folder> [--data <folder> ...] [--model <dir>] [--folds <dir>] [--json]
 *
 * Runs the served path on every image listed in each folder's labels.csv and prints n, AUC with a
 * case-bootstrap CI at image and case level, sensitivity/specificity at the manifest thresholds, the
 * locator hit rate when masks exist, and `not_triaged k of n`.
 *
 * --folds <dir>: served-path cross-validation. <dir>/fold<k>/ holds the networks trained without fold
 * k (frame.onnx, nodule.onnx) and heldout.json (the images of fold k); each image is scored by the
 * networks that never saw its case, with the shipped manifest's candidate rules, combiner, gate and
 * thresholds (train_triage.py --folds-out writes these).
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { TriageModel, defaultModelDir, sha256File } from '@yunying/nodule-model';
import type { EvalRow, ScoredRows, TriageEvaluation } from './eval.triage';
import { evaluateTriage, formatTriageReport, readRows, scoreRows, summarise } from './eval.triage';

async function foldModel(base: string, foldDir: string): Promise<TriageModel> {
  // The shipped manifest with this fold's graphs (and their sha256) in a scratch folder.
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'triage-fold-'));
  const manifest = JSON.parse(fs.readFileSync(path.join(base, 'manifest.json'), 'utf8')) as { files: Record<string, { file: string; sha256: string }> };
  for (const [key, spec] of Object.entries(manifest.files)) {
    fs.copyFileSync(path.join(foldDir, spec.file), path.join(dir, spec.file));
    manifest.files[key] = { file: spec.file, sha256: sha256File(path.join(dir, spec.file)) };
  }
  fs.writeFileSync(path.join(dir, 'manifest.json'), JSON.stringify(manifest));
  return TriageModel.load(dir);
}

async function crossValidate(base: string, foldsDir: string, rows: EvalRow[]): Promise<TriageEvaluation> {
  const folds = fs.readdirSync(foldsDir).filter((d) => /^fold\d+$/.test(d)).sort();
  if (folds.length === 0) throw new Error(`no fold<k> folders in ${foldsDir}`);
  const pooled: ScoredRows = { images: [], cases: new Map(), locator: { hits: 0, of: 0 } };
  const byImage = new Map(rows.map((r) => [r.image, r]));
  let facts: { model: TriageEvaluation['model']; thresholds: { triage: number; urgent: number } } | null = null;
  for (const fold of folds) {
    const heldout = JSON.parse(fs.readFileSync(path.join(foldsDir, fold, 'heldout.json'), 'utf8')) as { frames: string[]; others: string[] };
    const mine = [...heldout.frames, ...heldout.others].flatMap((image) => {
      const row = byImage.get(image);
      return row ? [row] : [];
    });
    const model = await foldModel(base, path.join(foldsDir, fold));
    try {
      const s = await scoreRows(model, mine, (done, total) => process.stderr.write(`\r${fold}: ${done}/${total}`));
      process.stderr.write('\n');
      pooled.images.push(...s.images);
      for (const [k, v] of s.cases) pooled.cases.set(k, v);
      pooled.locator.hits += s.locator.hits;
      pooled.locator.of += s.locator.of;
      const m = model.manifest;
      facts = { model: { id: `${m.id} (cross-validation, ${folds.length} folds)`, version: m.version, sha256: m.sha256 }, thresholds: { triage: m.thresholds.triage.value, urgent: m.thresholds.urgent.value } };
    } finally {
      await model.close();
    }
  }
  if (facts === null) throw new Error('no fold was evaluated');
  return summarise(facts.model, facts.thresholds, pooled);
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      data: { type: 'string', multiple: true },
      model: { type: 'string' },
      folds: { type: 'string' },
      json: { type: 'boolean', default: false },
    },
  });
  if (!values.data || values.data.length === 0) {
    process.stderr.write('usage: npm run eval:triage -- --data <folder with labels.csv> [--data ...] [--model <dir>] [--folds <dir>] [--json]\n');
    process.exitCode = 2;
    return;
  }
  const rows = values.data.flatMap((folder) => readRows(path.resolve(folder)));
  const base = values.model ?? defaultModelDir();
  let evaluation: TriageEvaluation;
  if (values.folds) {
    evaluation = await crossValidate(base, values.folds, rows);
  } else {
    const model = await TriageModel.load(base);
    try {
      evaluation = await evaluateTriage(model, rows, (done, total) => process.stderr.write(`\r${done}/${total}`));
      process.stderr.write('\n');
    } finally {
      await model.close();
    }
  }
  process.stdout.write((values.json ? JSON.stringify(evaluation, null, 2) : formatTriageReport(evaluation)) + '\n');
}

main().catch((error: unknown) => {
  process.stderr.write(`eval:triage failed: ${error instanceof Error ? error.message : String(error)}\n`);
  process.exitCode = 1;
});
