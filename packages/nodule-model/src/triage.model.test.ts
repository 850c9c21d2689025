/** @jest-environment ./packages/nodule-model/ort.jest-environment.js */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describeUnless, sharedDataDir } from '../../../test/support/skip';
import { boxIou } from './frame.geometry';
import { readGrayImage } from './image.repository';
import { syntheticFrame } from './synthetic.frame';
import { defaultModelDir, loadTriageManifest } from './triage.manifest';
import type { NoduleCandidate } from './triage.model';
import { TriageModel } from './triage.model';
import type { GrayImage } from './frame.geometry';

interface ParityCandidate {
  confidence: number;
  box: [number, number, number, number];
  scoreBox: [number, number, number, number];
  descriptors: Record<string, number>;
  scoreDescriptors: Record<string, number>;
  probs: Record<string, number[]>;
  score: number;
}
interface ParityCase {
  image: string;
  width: number;
  height: number;
  thyroid: number;
  mapSum: number;
  mapMax: number;
  candidates: ParityCandidate[];
}

const parity = JSON.parse(fs.readFileSync(path.join(defaultModelDir(), 'parity.json'), 'utf8')) as { cases: ParityCase[]; readerBox: ParityCandidate };
const TOLERANCE = 1e-4;

async function expectParity(model: TriageModel, gray: GrayImage, expected: ParityCase): Promise<void> {
  const { thyroid, map } = await model.frameMap(gray);
  expect(Math.abs(thyroid - expected.thyroid)).toBeLessThan(TOLERANCE);
  expect(Math.abs(Math.max(...map) - expected.mapMax)).toBeLessThan(TOLERANCE);
  // The sum over ~1,700 cells: float32 round-off adds up, so the bound scales with the cell count.
  expect(Math.abs(map.reduce((s, v) => s + v, 0) - expected.mapSum)).toBeLessThan(TOLERANCE * map.length);
  const analysis = await model.analyseFrame(gray);
  expect(analysis.candidates).toHaveLength(expected.candidates.length);
  expected.candidates.forEach((want, i) => {
    const got = analysis.candidates[i] as NoduleCandidate;
    expect(Math.abs(got.confidence - want.confidence)).toBeLessThan(TOLERANCE);
    expect([got.box.x0, got.box.y0, got.box.x1, got.box.y1].map((v, k) => Math.abs(v - (want.box[k] ?? Number.NaN)))).toEqual([0, 0, 0, 0].map(() => expect.any(Number)));
    expect(boxIou(got.box, { x0: want.box[0], y0: want.box[1], x1: want.box[2], y1: want.box[3] })).toBeGreaterThan(0.9999);
    expectSameNodule(got, want);
  });
}

/** Descriptors, heads and score of one nodule agree with Python within 1e-4. */
function expectSameNodule(got: NoduleCandidate, want: ParityCandidate): void {
  for (const [name, value] of Object.entries(want.descriptors)) {
    expect({ name, diff: Math.abs((got.descriptors[name as keyof NoduleCandidate['descriptors']] ?? Number.NaN) - value) < TOLERANCE }).toEqual({ name, diff: true });
  }
  // The score's own region (the lower-level map component around the candidate; a reader's box itself).
  expect(boxIou(got.scoreBox, { x0: want.scoreBox[0], y0: want.scoreBox[1], x1: want.scoreBox[2], y1: want.scoreBox[3] })).toBeGreaterThan(0.9999);
  for (const [name, value] of Object.entries(want.scoreDescriptors)) {
    expect({ name, score: true, diff: Math.abs((got.scoreDescriptors[name as keyof NoduleCandidate['descriptors']] ?? Number.NaN) - value) < TOLERANCE }).toEqual({ name, score: true, diff: true });
  }
  for (const [head, probs] of Object.entries(want.probs)) {
    const mine = got.probabilities[head as keyof NoduleCandidate['probabilities']];
    probs.forEach((p, k) => expect(Math.abs((mine[k] ?? Number.NaN) - p)).toBeLessThan(TOLERANCE));
  }
  expect(Math.abs(got.score - want.score)).toBeLessThan(TOLERANCE);
}

describe('TriageModel (onnxruntime-node)', () => {
  let model: TriageModel;
  beforeAll(async () => {
    model = await TriageModel.load();
  });
  afterAll(async () => {
    await model.close();
  });

  it('matches Python within 1e-4 on the synthetic frame (gate, nodule map, candidates, descriptors, heads, score)', async () => {
    const expected = parity.cases.find((c) => c.image === 'synthetic');
    if (!expected) throw new Error('parity.json has no synthetic case');
    await expectParity(model, syntheticFrame(expected.width, expected.height), expected);
  });

  it("scores a reader's box like Python (the inscribed ellipse is the region measured)", () => {
    const got = model.scoreBox(syntheticFrame(), { x0: 100, y0: 80, x1: 190, y1: 160 });
    expectSameNodule(got, parity.readerBox);
    expect(got.outline).toHaveLength(24);
  });

  it('turns a candidate into ACR categories whose points add up to the TR level it reports', () => {
    const candidate = model.scoreBox(syntheticFrame(), { x0: 100, y0: 90, x1: 190, y1: 150 });
    const finding = model.finding(candidate, 1, 'reader', { x: 0.1, y: 0.1 });
    expect(finding.lexicon.map((l) => l.item)).toEqual(['composition', 'echogenicity', 'shape', 'margin', 'echogenicFoci']);
    // The chart's sum, or 0 for a spongiform nodule (its footnote: the other items add no points).
    const spongiform = finding.lexicon.some((l) => l.item === 'composition' && l.code === 'spongiform');
    expect(finding.tiradsPoints).toBe(spongiform ? 0 : finding.lexicon.reduce((s, l) => s + l.points, 0));
    expect(finding.sizeMm).toEqual({ long: 9, short: 6 });
    expect(finding.score).toBeGreaterThan(0);
    expect(finding.score).toBeLessThan(1);
    // A named box is scored on its own ellipse by the box combiner, not by the frame candidates' combiner.
    expect(candidate.scorePath).toBe('box');
    expect(candidate.scoreBox).toEqual(candidate.box);
    expect(candidate.scoreDescriptors).toEqual(candidate.descriptors);
    expect(model.score(candidate.descriptors, 'box')).toBeCloseTo(candidate.score, 12);
    expect(Math.abs(model.score(candidate.descriptors, 'auto') - candidate.score)).toBeGreaterThan(1e-6);
    expect(Object.keys(finding.measured ?? {})).toEqual(['echo', 'dark', 'het', 'foci', 'bright', 'edge', 'taller']);
  });

  it('refuses a model whose graph does not match the manifest sha256', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'triage-model-'));
    try {
      for (const f of ['manifest.json', 'frame.onnx']) fs.copyFileSync(path.join(defaultModelDir(), f), path.join(dir, f));
      const bytes = fs.readFileSync(path.join(dir, 'frame.onnx'));
      bytes[bytes.length - 1] = (bytes[bytes.length - 1] ?? 0) ^ 0xff;
      fs.writeFileSync(path.join(dir, 'frame.onnx'), bytes);
      expect(() => loadTriageManifest(dir)).toThrow(/frame.onnx has sha256/);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});

const frames = sharedDataDir('thyroid/ddti-frames');
describeUnless(frames ? null : 'shared data folder thyroid/ddti-frames is absent', 'TriageModel parity on real DDTI frames', () => {
  it('matches Python within 1e-4 on the frames listed in parity.json', async () => {
    const model = await TriageModel.load();
    try {
      const real = parity.cases.filter((c) => c.image !== 'synthetic');
      expect(real.length).toBeGreaterThan(0);
      for (const c of real) await expectParity(model, await readGrayImage(path.join(frames ?? '', c.image)), c);
    } finally {
      await model.close();
    }
  });
});
