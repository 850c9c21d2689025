/**
 * npm run eval:triage -- --data <folder> [--data <folder> ...] [--model <dir>] [--json]
 *
 * Runs the served path on every image listed in each folder's labels.csv and prints n, AUC with a
 * case-bootstrap CI at image and case level, sensitivity/specificity at the manifest thresholds, the
 * locator hit rate when masks exist, and `not_triaged k of n`.
 *
 * The cross-validation of the served path on the training data is train_triage.py's (the same path in
 * Python, held to this one within 1e-4 by the parity test); this command measures folders the model
 * never saw.
 */
import path from 'node:path';
import { parseArgs } from 'node:util';
import { TriageModel, defaultModelDir } from '@yunying/nodule-model';
import type { TriageEvaluation } from './eval.triage';
import { evaluateTriage, formatTriageReport, readRows } from './eval.triage';

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      data: { type: 'string', multiple: true },
      model: { type: 'string' },
      json: { type: 'boolean', default: false },
    },
  });
  if (!values.data || values.data.length === 0) {
    process.stderr.write('usage: npm run eval:triage -- --data <folder with labels.csv> [--data ...] [--model <dir>] [--json]\n');
    process.exitCode = 2;
    return;
  }
  const rows = values.data.flatMap((folder) => readRows(path.resolve(folder)));
  const base = values.model ?? defaultModelDir();
  let evaluation: TriageEvaluation;
  const model = await TriageModel.load(base);
  try {
    // A progress counter only on a terminal: redirected to a file, '\r' updates pile up into one long line.
    const progress = process.stderr.isTTY ? (done: number, total: number): void => void process.stderr.write(`\r${done}/${total}`) : undefined;
    evaluation = await evaluateTriage(model, rows, progress);
    if (progress) process.stderr.write('\n');
  } finally {
    await model.close();
  }
  process.stdout.write((values.json ? JSON.stringify(evaluation, null, 2) : formatTriageReport(evaluation)) + '\n');
}

main().catch((error: unknown) => {
  process.stderr.write(`eval:triage failed: ${error instanceof Error ? error.message : String(error)}\n`);
  process.exitCode = 1;
});
