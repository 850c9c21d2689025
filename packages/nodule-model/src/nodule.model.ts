/**
 * The thyroid-nodule model behind onnxruntime-node: one crop around a nodule in, P(TI-RADS >= 4), the
 * TI-RADS-like descriptors behind it and the predicted outline out. The graph segments the nodule
 * itself, so no outline is needed at serving time.
 */
import * as ort from 'onnxruntime-node';
import { PermanentError } from '@yunying/core';
import type { ModelManifest } from './manifest';
import { defaultModelDir, loadModelManifest } from './manifest';
import type { GrayPixels, InputGeometry, Preprocessed } from './preprocess';
import { preprocessGray } from './preprocess';

/** Reading-order buckets from the manifest thresholds. */
export type TriageLevel = 'urgent' | 'flagged' | 'routine';

export interface DescriptorValue {
  name: string;
  tiradsFeature: string;
  value: number;
  /**
   * This descriptor's additive share of the calibrated logit (positive pushes towards TI-RADS >= 4).
   * All zero when the shipped classifier scores from CNN features only; null when the model has no
   * contributions output. See the manifest.
   */
  contribution: number | null;
}

export interface Box {
  x: number;
  y: number;
  width: number;
  height: number;
}

export interface NodulePrediction {
  /** Calibrated P(radiologist TI-RADS >= 4). A triage score, not a diagnosis. */
  probability: number;
  triage: TriageLevel;
  descriptors: DescriptorValue[];
  outline: {
    /** Soft outline in model-input coordinates (size x size, row-major, 0..1). */
    mask: Float32Array;
    size: number;
    /** Bounding box of mask >= 0.5 in the coordinates of the image given to predict(); null if empty. */
    box: Box | null;
  };
}

export interface NoduleModelOptions {
  /** Threads per inference; 1 by default, matching the CPU budget the model was sized for. */
  intraOpNumThreads?: number;
}

export function triageLevel(probability: number, manifest: ModelManifest): TriageLevel {
  if (probability >= manifest.thresholds.urgent.value) return 'urgent';
  if (probability >= manifest.thresholds.triage.value) return 'flagged';
  return 'routine';
}

/** Bounding box of mask >= 0.5, mapped back through the pad-and-resize geometry. */
export function outlineBox(mask: Float32Array, geometry: InputGeometry): Box | null {
  const { size, scale, left, top, width, height } = geometry;
  let minX = size;
  let minY = size;
  let maxX = -1;
  let maxY = -1;
  for (let y = 0; y < size; y++) {
    for (let x = 0; x < size; x++) {
      if ((mask[y * size + x] ?? 0) >= 0.5) {
        if (x < minX) minX = x;
        if (x > maxX) maxX = x;
        if (y < minY) minY = y;
        if (y > maxY) maxY = y;
      }
    }
  }
  if (maxX < 0) return null;
  const clamp = (v: number, hi: number): number => Math.min(Math.max(v, 0), hi);
  const x0 = clamp(minX * scale - left, width);
  const x1 = clamp((maxX + 1) * scale - left, width);
  const y0 = clamp(minY * scale - top, height);
  const y1 = clamp((maxY + 1) * scale - top, height);
  return { x: x0, y: y0, width: x1 - x0, height: y1 - y0 };
}

export class NoduleModel {
  private constructor(
    private readonly session: ort.InferenceSession,
    readonly manifest: ModelManifest,
  ) {}

  /** Loads the manifest (verifying the model's sha256) and opens an onnxruntime session. */
  static async load(modelDir: string = defaultModelDir(), options: NoduleModelOptions = {}): Promise<NoduleModel> {
    const manifest = loadModelManifest(modelDir);
    const session = await ort.InferenceSession.create(manifest.modelPath, {
      executionProviders: ['cpu'],
      intraOpNumThreads: options.intraOpNumThreads ?? 1,
      interOpNumThreads: 1,
      graphOptimizationLevel: 'all',
    });
    const { probability, descriptors, mask, contributions } = manifest.outputs;
    for (const name of [probability, descriptors, mask, ...(contributions === null ? [] : [contributions])]) {
      if (!session.outputNames.includes(name)) throw new PermanentError(`model has no output named ${name}`);
    }
    if (!session.inputNames.includes(manifest.input.name)) {
      throw new PermanentError(`model has no input named ${manifest.input.name}`);
    }
    return new NoduleModel(session, manifest);
  }

  preprocess(gray: GrayPixels, width: number, height: number): Preprocessed {
    return preprocessGray(gray, width, height, this.manifest.input);
  }

  /** Scores one grayscale image (0..255 brightness, row-major): a crop around one nodule. */
  async predict(gray: GrayPixels, width: number, height: number): Promise<NodulePrediction> {
    const [prediction] = await this.predictPreprocessed([this.preprocess(gray, width, height)]);
    if (prediction === undefined) throw new PermanentError('model returned no prediction');
    return prediction;
  }

  /** Scores a batch of already preprocessed inputs in one run. */
  async predictPreprocessed(inputs: readonly Preprocessed[]): Promise<NodulePrediction[]> {
    if (inputs.length === 0) return [];
    const size = this.manifest.input.size;
    const plane = size * size;
    const batch = new Float32Array(inputs.length * plane);
    inputs.forEach((p, i) => {
      if (p.data.length !== plane) throw new PermanentError(`model input must be ${size}x${size}`);
      batch.set(p.data, i * plane);
    });
    const feeds: Record<string, ort.Tensor> = {
      [this.manifest.input.name]: new ort.Tensor('float32', batch, [inputs.length, 1, size, size]),
    };
    const out = await this.session.run(feeds);
    const prob = this.output(out, this.manifest.outputs.probability, inputs.length);
    const desc = this.output(out, this.manifest.outputs.descriptors, inputs.length * this.manifest.descriptors.length);
    const mask = this.output(out, this.manifest.outputs.mask, inputs.length * plane);
    const contribName = this.manifest.outputs.contributions;
    const contrib = contribName === null ? null : this.output(out, contribName, inputs.length * this.manifest.descriptors.length);
    const nDesc = this.manifest.descriptors.length;
    return inputs.map((p, i): NodulePrediction => {
      const probability = prob[i] ?? Number.NaN;
      const outlineMask = mask.slice(i * plane, (i + 1) * plane);
      return {
        probability,
        triage: triageLevel(probability, this.manifest),
        descriptors: this.manifest.descriptors.map((d, k) => ({
          name: d.name,
          tiradsFeature: d.tiradsFeature,
          value: desc[i * nDesc + k] ?? Number.NaN,
          contribution: contrib === null ? null : (contrib[i * nDesc + k] ?? Number.NaN),
        })),
        outline: { mask: outlineMask, size, box: outlineBox(outlineMask, p.geometry) },
      };
    });
  }

  async close(): Promise<void> {
    await this.session.release();
  }

  private output(out: ort.InferenceSession.OnnxValueMapType, name: string, expected: number): Float32Array {
    const tensor = out[name];
    if (tensor === undefined || tensor.type !== 'float32' || !(tensor.data instanceof Float32Array)) {
      throw new PermanentError(`model output ${name} is missing or not float32`);
    }
    if (tensor.data.length !== expected) {
      throw new PermanentError(`model output ${name} has ${tensor.data.length} values, expected ${expected}`);
    }
    return tensor.data;
  }
}
