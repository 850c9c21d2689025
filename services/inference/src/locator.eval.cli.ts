/**
 * What the serving path (region -> locate -> keep the most suspicious candidate) does to the model's
 * scores, measured on the labelled DDTI crops: each crop is scored as the model was evaluated (the
 * whole crop, one run) and as the service scores a frame (the crop treated as the ultrasound region).
 * Reports AUC and sensitivity/specificity at the manifest thresholds for both, the score shift, how
 * well the located box matches the radiologist's outline, and the time per image.
 *
 *   node services/inference/dist/locator.eval.cli.js [DDTI folder] [--limit N]
 *
 * The shipped model was fitted on these crops, so absolute numbers are optimistic (training-set fit);
 * the difference between the two columns is the point.
 */
import fs from 'node:fs';
import path from 'node:path';
import sharp from 'sharp';
import { NoduleModel, auc, defaultModelDir, sensSpec } from '@yunying/nodule-model';
import { iou, locateNodule } from './triage/locate';
import type { Rect } from './triage/region';
import { ultrasoundRegion } from './triage/region';

async function gray(file: string): Promise<{ data: Uint8Array; width: number; height: number }> {
  const { data, info } = await sharp(file).greyscale().raw({ depth: 'uchar' }).toBuffer({ resolveWithObject: true });
  const out = new Uint8Array(info.width * info.height);
  for (let i = 0; i < out.length; i++) out[i] = data[i * info.channels] ?? 0;
  return { data: out, width: info.width, height: info.height };
}

function maskBox(mask: Uint8Array, width: number, height: number): Rect | null {
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
  return x1 < 0 ? null : { x: x0, y: y0, width: x1 - x0 + 1, height: y1 - y0 + 1 };
}

function quantile(values: number[], q: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? Number.NaN;
}

async function main(): Promise<void> {
  const args = process.argv.slice(2);
  const limitAt = args.indexOf('--limit');
  const limit = limitAt >= 0 ? Number(args[limitAt + 1]) : Infinity;
  const folder = args.find((a, i) => !a.startsWith('--') && i !== limitAt + 1) ?? path.resolve(__dirname, '../../../../shared/data/thyroid/ddti');
  const [header, ...lines] = fs.readFileSync(path.join(folder, 'labels.csv'), 'utf8').trim().split(/\r?\n/);
  const cols = (header ?? '').split(',');
  const at = (name: string): number => cols.indexOf(name);
  const rows = lines
    .map((l) => l.split(','))
    .filter((c) => c[at('tirads_binary_4plus')] === '0' || c[at('tirads_binary_4plus')] === '1')
    .slice(0, limit);

  const model = await NoduleModel.load(defaultModelDir());
  const { triage, urgent } = model.manifest.thresholds;
  const labels: number[] = [];
  const direct: number[] = [];
  const served: number[] = [];
  const overlaps: number[] = [];
  const ms: number[] = [];
  let located = 0;
  for (const c of rows) {
    const image = await gray(path.join(folder, c[at('image')] ?? ''));
    const truth = maskBox((await gray(path.join(folder, c[at('mask')] ?? ''))).data, image.width, image.height);
    labels.push(Number(c[at('tirads_binary_4plus')]));
    direct.push((await model.predict(image.data, image.width, image.height)).probability);
    const started = performance.now();
    const region = ultrasoundRegion({}, image.data, image.width, image.height) ?? { x: 0, y: 0, width: image.width, height: image.height };
    const finding = await locateNodule(model, image.data, image.width, region, {
      ...(process.env.LOCATE_K ? { maxCandidates: Number(process.env.LOCATE_K) } : {}),
      ...(process.env.LOCATE_RANK === 'outline' || process.env.LOCATE_RANK === 'probability' ? { rank: process.env.LOCATE_RANK } : {}),
    });
    ms.push(performance.now() - started);
    served.push(finding.probability);
    if (finding.located) located++;
    if (truth) overlaps.push(iou(finding.box, truth));
  }
  await model.close();

  const fmt = (v: number): string => v.toFixed(3);
  const report = (name: string, scores: number[]): string => {
    const t = sensSpec(scores, labels, triage.value);
    const u = sensSpec(scores, labels, urgent.value);
    const mean = scores.reduce((a, b) => a + b, 0) / scores.length;
    return `${name.padEnd(28)} AUC ${fmt(auc(scores, labels))}  mean ${fmt(mean)}  triage sens ${fmt(t.sensitivity)} spec ${fmt(t.specificity)}  urgent sens ${fmt(u.sensitivity)} spec ${fmt(u.specificity)}`;
  };
  const shift = served.map((s, i) => s - (direct[i] ?? 0));
  process.stdout.write(
    [
      `model ${model.manifest.id} ${model.manifest.version}; ${labels.length} labelled DDTI crops (${labels.filter((l) => l === 1).length} positive)`,
      report('direct (one run per crop)', direct),
      report('served (locate, keep max)', served),
      `score shift served - direct: median ${fmt(quantile(shift, 0.5))}, p10 ${fmt(quantile(shift, 0.1))}, p90 ${fmt(quantile(shift, 0.9))}`,
      `located (outline found): ${located}/${labels.length}; box IoU with the radiologist outline: median ${fmt(quantile(overlaps, 0.5))}, >= 0.3 in ${fmt(overlaps.filter((o) => o >= 0.3).length / overlaps.length)}`,
      `time per 300x300 image (region + locate + score, one thread): median ${fmt(quantile(ms, 0.5))} ms, p95 ${fmt(quantile(ms, 0.95))} ms`,
      '',
    ].join('\n'),
  );
}

main().catch((error: unknown) => {
  process.stderr.write(`${error instanceof Error ? error.message : String(error)}\n`);
  process.exit(1);
});
