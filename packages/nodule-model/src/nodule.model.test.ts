/** @jest-environment ./packages/nodule-model/ort.jest-environment.js */
import fs from 'node:fs';
import path from 'node:path';
import { defaultModelDir } from './manifest';
import { NoduleModel, outlineBox, triageLevel } from './nodule.model';
import { squareGeometry } from './preprocess';
import { syntheticGray } from './synthetic';

interface ParityCase {
  spec: { width: number; height: number; seed: number };
  probability: number;
  descriptors: number[];
  contributions?: number[];
}

const parity = JSON.parse(fs.readFileSync(path.join(defaultModelDir(), 'parity.json'), 'utf8')) as { cases: ParityCase[] };

describe('NoduleModel (onnxruntime-node)', () => {
  let model: NoduleModel;
  beforeAll(async () => {
    model = await NoduleModel.load();
  });
  afterAll(async () => {
    await model.close();
  });

  it('loads and returns a probability, named descriptors and an outline', async () => {
    const spec = { width: 300, height: 300, seed: 1 };
    const p = await model.predict(syntheticGray(spec), spec.width, spec.height);
    expect(p.probability).toBeGreaterThanOrEqual(0);
    expect(p.probability).toBeLessThanOrEqual(1);
    expect(p.descriptors.map((d) => d.name)).toEqual(model.manifest.descriptors.map((d) => d.name));
    for (const d of p.descriptors) {
      expect(Number.isFinite(d.value)).toBe(true);
      if (model.manifest.outputs.contributions !== null) expect(Number.isFinite(d.contribution)).toBe(true);
    }
    expect(p.outline.mask.length).toBe(model.manifest.input.size ** 2);
    for (const v of p.outline.mask) {
      expect(v).toBeGreaterThanOrEqual(0);
      expect(v).toBeLessThanOrEqual(1);
    }
    expect(['urgent', 'flagged', 'routine']).toContain(p.triage);
  });

  it('scores a batch with one output per input', async () => {
    const inputs = parity.cases.map((c) => model.preprocess(syntheticGray(c.spec), c.spec.width, c.spec.height));
    const out = await model.predictPreprocessed(inputs);
    expect(out).toHaveLength(inputs.length);
    for (const p of out) expect(p.probability).toBeGreaterThanOrEqual(0);
  });

  // The Python training script wrote these with the PyTorch model on the same synthetic images.
  it.each(parity.cases.map((c) => [`${c.spec.width}x${c.spec.height} seed ${c.spec.seed}`, c] as const))(
    'agrees with PyTorch on synthetic image %s within 1e-4',
    async (_name, c) => {
      const p = await model.predict(syntheticGray(c.spec), c.spec.width, c.spec.height);
      expect(Math.abs(p.probability - c.probability)).toBeLessThan(1e-4);
      c.descriptors.forEach((v, i) => expect(Math.abs((p.descriptors[i]?.value ?? Number.NaN) - v)).toBeLessThan(1e-4));
      (c.contributions ?? []).forEach((v, i) => expect(Math.abs((p.descriptors[i]?.contribution ?? Number.NaN) - v)).toBeLessThan(1e-4));
    },
  );

  it('maps the outline box back to input coordinates through the padding', () => {
    const geometry = squareGeometry(200, 100, 4); // side 200, top padding 50, 50 px per model pixel
    const mask = new Float32Array(16);
    mask[1 * 4 + 1] = 0.9;
    mask[1 * 4 + 2] = 0.6;
    expect(outlineBox(mask, geometry)).toEqual({ x: 50, y: 0, width: 100, height: 50 });
    expect(outlineBox(new Float32Array(16), geometry)).toBeNull();
  });

  it('buckets probabilities by the manifest thresholds', () => {
    const { triage, urgent } = model.manifest.thresholds;
    expect(triageLevel(urgent.value, model.manifest)).toBe('urgent');
    expect(triageLevel(triage.value, model.manifest)).toBe('flagged');
    expect(triageLevel(triage.value - 1e-6, model.manifest)).toBe('routine');
  });
});
