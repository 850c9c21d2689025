/**
 * npm run eval:model -- --data <folder> [--model <dir>] [--json]
 * Prints n, AUC with a case-bootstrap CI, sensitivity/specificity at the manifest thresholds and ECE.
 */
import { parseArgs } from 'node:util';
import { evaluateFolder, formatReport } from './eval.service';
import { NoduleModel } from './nodule.model';
import { defaultModelDir } from './manifest';

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      data: { type: 'string' },
      model: { type: 'string' },
      json: { type: 'boolean', default: false },
    },
  });
  if (values.data === undefined) {
    process.stderr.write('usage: npm run eval:model -- --data <folder with labels.csv> [--model <dir>] [--json]\n');
    process.exitCode = 2;
    return;
  }
  const model = await NoduleModel.load(values.model ?? defaultModelDir());
  try {
    const report = await evaluateFolder(model, values.data);
    process.stdout.write((values.json ? JSON.stringify({ ...report, scores: undefined }, null, 2) : formatReport(report)) + '\n');
  } finally {
    await model.close();
  }
}

main().catch((error: unknown) => {
  process.stderr.write(`eval failed: ${error instanceof Error ? error.message : String(error)}\n`);
  process.exitCode = 1;
});
