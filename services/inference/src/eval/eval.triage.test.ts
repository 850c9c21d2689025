/** @jest-environment ./packages/nodule-model/ort.jest-environment.js */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import sharp from 'sharp';
import { TriageModel } from '@yunying/nodule-model';
import { syntheticFrame } from '@yunying/nodule-model/testing';
import { evaluateTriage, formatTriageReport, readRows } from './eval.triage';

/**
 * `eval:triage` on a folder written here: the synthetic parity frame (a dark oval "nodule") in four
 * labelled cases with masks of the oval, and a uniform frame with no label (must not be triaged). The
 * figures' values on such a folder mean nothing; what is checked is that each number is the served
 * path's and the named-box figure is the reader-guided path on the outlined nodule.
 */
describe('eval:triage over a labels.csv folder', () => {
  let dir: string;
  let model: TriageModel;
  const W = 320;
  const H = 240;
  const oval = { x0: Math.ceil(W * 0.45 - W * 0.12), y0: Math.ceil(H * 0.5 - H * 0.14), x1: Math.floor(W * 0.45 + W * 0.12), y1: Math.floor(H * 0.5 + H * 0.14) };

  beforeAll(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'eval-triage-'));
    const frame = syntheticFrame(W, H);
    await sharp(Buffer.from(frame.data), { raw: { width: W, height: H, channels: 1 } }).png().toFile(path.join(dir, 'frame.png'));
    const mask = new Uint8Array(W * H);
    for (let y = oval.y0; y < oval.y1; y++) for (let x = oval.x0; x < oval.x1; x++) mask[y * W + x] = 255;
    await sharp(Buffer.from(mask), { raw: { width: W, height: H, channels: 1 } }).png().toFile(path.join(dir, 'mask.png'));
    await sharp(Buffer.alloc(W * H, 3), { raw: { width: W, height: H, channels: 1 } }).png().toFile(path.join(dir, 'blank.png'));
    const rows = ['image,label,case,mask', 'frame.png,1,a,mask.png', 'frame.png,0,b,mask.png', 'frame.png,1,c,mask.png', 'frame.png,0,d,', 'blank.png,,e,'];
    fs.writeFileSync(path.join(dir, 'labels.csv'), rows.join('\n') + '\n');
    model = await TriageModel.load();
  });
  afterAll(async () => {
    await model.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('reports the served path per image and case, the locator, and the outlined nodules scored as named boxes', async () => {
    const evaluation = await evaluateTriage(model, readRows(dir));
    expect(evaluation.n).toBe(5);
    expect(evaluation.images.find((i) => i.row.image === 'blank.png')?.outcome).toBe('not_triaged');
    expect(evaluation.locator?.of).toBe(3);
    // The named-box score of an image is the reader-guided path on its mask's box, nothing else.
    const direct = model.scoreBox(syntheticFrame(W, H), oval).score;
    const boxed = evaluation.images.filter((i) => i.namedBoxScore !== null);
    expect(boxed.map((i) => i.row.caseId.split(':').pop())).toEqual(['a', 'b', 'c']);
    for (const i of boxed) expect(i.namedBoxScore).toBeCloseTo(direct, 6);
    expect(evaluation.namedBoxes?.caseLevel.n).toBe(3);
    expect(evaluation.namedBoxes?.thresholds.triage).toBe(model.manifest.boxCombiner.thresholds.triage.value);
    const report = formatTriageReport(evaluation);
    expect(report).toMatch(/named boxes, case level: n 3 labelled cases with a mask/);
    expect(report).toMatch(/locator hit rate [0-9.]+ \(\d of 3 images with a mask/);
  });
});
