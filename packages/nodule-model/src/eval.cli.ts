/**
 * npm run eval:model -- --data <folder of nodule crops> [--model <dir>] [--json]
 * The nodule heads and combiner on crops (box from each crop's mask). For whole frames, the path the
 * service runs, use `npm run eval:triage`.
 */
import { parseArgs } from 'node:util';
import { evaluateCrops, formatCropReport } from './eval.service';
import { defaultModelDir } from './triage.manifest';
import { TriageModel } from './triage.model';

async function main(): Promise<void> {
  const { values } = parseArgs({ options: { data: { type: 'string' }, model: { type: 'string' }, json: { type: 'boolean', default: false } } });
  if (values.data === undefined) {
    process.stderr.write('usage: npm run eval:model -- --data <folder with labels.csv> [--model <dir>] [--json]\n');
    process.exitCode = 2;
    return;
  }
  const model = await TriageModel.load(values.model ?? defaultModelDir());
  try {
    const report = await evaluateCrops(model, values.data);
    process.stdout.write((values.json ? JSON.stringify(report, null, 2) : formatCropReport(report)) + '\n');
  } finally {
    await model.close();
  }
}

main().catch((error: unknown) => {
  process.stderr.write(`eval failed: ${error instanceof Error ? error.message : String(error)}\n`);
  process.exitCode = 1;
});
