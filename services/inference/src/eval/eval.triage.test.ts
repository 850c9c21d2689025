/** @jest-environment ./packages/nodule-model/ort.jest-environment.js */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import sharp from 'sharp';
import { TriageModel } from '@yunying/nodule-model';
import { syntheticFrame } from '@yunying/nodule-model/testing';
import { analyseInstance } from '../triage/analyse';
import { evaluateTriage, formatTriageReport, instanceBytes, readRows } from './eval.triage';

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

  it("takes a frame's nodule from the sonographer's calipers when they are on it, and from the finder otherwise", async () => {
    // Yellow '+' marks at the ends of the oval's width and height, as a scanner burns them in.
    const frame = syntheticFrame(W, H);
    const rgb = Buffer.alloc(W * H * 3);
    for (let p = 0; p < W * H; p++) rgb.fill(frame.data[p] ?? 0, 3 * p, 3 * p + 3);
    const cy = Math.round((oval.y0 + oval.y1) / 2);
    const cx = Math.round((oval.x0 + oval.x1) / 2);
    for (const [x, y] of [[oval.x0, cy], [oval.x1 - 1, cy], [cx, oval.y0], [cx, oval.y1 - 1]] as [number, number][]) {
      for (let d = -4; d <= 4; d++) for (const p of [y * W + x + d, (y + d) * W + x]) rgb.set([255, 230, 0], 3 * p);
    }
    await sharp(rgb, { raw: { width: W, height: H, channels: 3 } }).png().toFile(path.join(dir, 'measured.png'));
    const measured = await analyseInstance(model, await instanceBytes(path.join(dir, 'measured.png')));
    const plain = await analyseInstance(model, await instanceBytes(path.join(dir, 'frame.png')));
    if (measured.status !== 'analysed' || plain.status !== 'analysed') throw new Error('both frames should be analysed');
    const top = measured.best?.nodules[0];
    expect(top?.locatedBy).toBe('calipers');
    expect(top?.box).toEqual({ x: oval.x0, y: oval.y0, width: oval.x1 - oval.x0, height: oval.y1 - oval.y0 });
    expect(measured.best?.nodules).toHaveLength(1);
    for (const n of plain.best?.nodules ?? []) expect(n.locatedBy).toBeUndefined();
  });
});
