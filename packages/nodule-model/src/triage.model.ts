/**
 * The whole-frame triage model behind onnxruntime-node (the mirror of train/served.py):
 *   frame -> FrameNet -> P(B-mode thyroid frame) and a nodule map -> candidates (connected components,
 *   most confident first) -> for each, a crop around its box -> NoduleNet -> ACR lexicon categories
 *   and a learned suspicion logit -> the combiner -> a calibrated score at the manifest's prevalence.
 * `scoreBox` runs the nodule half on a box a reader drew or clicked (reader-guided scoring).
 */
import * as ort from 'onnxruntime-node';
import { PermanentError } from '@yunying/core';
import type { Corners, FrameGeometry, GrayImage } from './frame.geometry';
import { cellsBox, cellsOutline, components, cropInput, letterboxInput } from './frame.geometry';
import type { HeadName, TriageManifest } from './triage.manifest';
import { HEAD_NAMES, defaultModelDir, loadTriageManifest } from './triage.manifest';
import type { LexiconItem, LexiconPrediction, NoduleFinding } from './tirads';
import { lexiconCategory, tiradsOf } from './tirads';

export type TriageLevel = 'urgent' | 'flagged' | 'routine';

/** One nodule candidate in image pixels, with what the heads said about it. */
export interface NoduleCandidate {
  confidence: number;
  box: Corners;
  outline: [number, number][];
  probabilities: Record<HeadName, number[]>;
  suspicionLogit: number;
  tallerThanWide: boolean;
  /** Calibrated score (combiner + prevalence offset). */
  score: number;
}

export interface FrameAnalysis {
  /** P(this frame is a B-mode thyroid ultrasound), the image half of the scope gate. */
  thyroid: number;
  /** Every candidate (most confident first), confident or not. */
  candidates: NoduleCandidate[];
  /** The candidates at or above the manifest's confidence threshold. */
  confident: NoduleCandidate[];
}

export interface TriageModelOptions {
  intraOpNumThreads?: number;
}

const sigmoid = (z: number): number => 1 / (1 + Math.exp(-z));

export function triageLevel(score: number, manifest: TriageManifest): TriageLevel {
  if (score >= manifest.thresholds.urgent.value) return 'urgent';
  if (score >= manifest.thresholds.triage.value) return 'flagged';
  return 'routine';
}

async function session(file: string, threads: number): Promise<ort.InferenceSession> {
  return ort.InferenceSession.create(file, {
    executionProviders: ['cpu'],
    intraOpNumThreads: threads,
    interOpNumThreads: 1,
    graphOptimizationLevel: 'all',
  });
}

function tensorData(out: ort.InferenceSession.OnnxValueMapType, name: string): Float32Array {
  const t = out[name];
  if (!t || !(t.data instanceof Float32Array)) throw new PermanentError(`model output ${name} is missing or not float32`);
  return t.data;
}

export class TriageModel {
  private constructor(
    private readonly frameSession: ort.InferenceSession,
    private readonly noduleSession: ort.InferenceSession,
    readonly manifest: TriageManifest,
  ) {}

  static async load(modelDir: string = defaultModelDir(), options: TriageModelOptions = {}): Promise<TriageModel> {
    const manifest = loadTriageManifest(modelDir);
    const threads = options.intraOpNumThreads ?? 1;
    const frame = await session(manifest.framePath, threads);
    const nodule = await session(manifest.nodulePath, threads);
    const expect = (s: ort.InferenceSession, inputs: string[], outputs: string[], what: string): void => {
      for (const i of inputs) if (!s.inputNames.includes(i)) throw new PermanentError(`${what} model has no input named ${i}`);
      for (const o of outputs) if (!s.outputNames.includes(o)) throw new PermanentError(`${what} model has no output named ${o}`);
    };
    expect(frame, [manifest.frame.input], [manifest.frame.outputs.noduleMap, manifest.frame.outputs.thyroid], 'frame');
    expect(nodule, [manifest.nodule.input], [...HEAD_NAMES.map((h) => manifest.nodule.heads[h].output), manifest.nodule.suspicion], 'nodule');
    return new TriageModel(frame, nodule, manifest);
  }

  private get frameGeometry(): FrameGeometry {
    return { width: this.manifest.frame.width, height: this.manifest.frame.height, stride: this.manifest.frame.stride };
  }

  /** The frame network alone: P(thyroid B-mode) and the nodule map (mapWidth x mapHeight). */
  async frameMap(gray: GrayImage): Promise<{ thyroid: number; map: Float32Array; mapWidth: number; mapHeight: number }> {
    const { frame } = this.manifest;
    const input = letterboxInput(gray, this.frameGeometry, frame.normalisation);
    const out = await this.frameSession.run({ [frame.input]: new ort.Tensor('float32', input, [1, 1, frame.height, frame.width]) });
    const thyroid = tensorData(out, frame.outputs.thyroid)[0] ?? 0;
    return { thyroid, map: tensorData(out, frame.outputs.noduleMap), mapWidth: frame.width / frame.stride, mapHeight: frame.height / frame.stride };
  }

  /**
   * Candidates on a whole frame. `inside` (when given) keeps only candidates whose box centre lies in
   * one of these areas (the frame's B-mode ultrasound regions).
   */
  async analyseFrame(gray: GrayImage, inside?: readonly Corners[]): Promise<FrameAnalysis> {
    const { candidates: rules } = this.manifest;
    const { thyroid, map, mapWidth, mapHeight } = await this.frameMap(gray);
    const comps = components(map, mapWidth, mapHeight, rules.segThreshold)
      .filter((c) => c.cells.length >= rules.minCells)
      .sort((a, b) => b.confidence - a.confidence);
    const candidates: NoduleCandidate[] = [];
    for (const comp of comps) {
      if (candidates.length >= rules.maxCandidates) break;
      const box = cellsBox(comp.cells, mapWidth, gray.width, gray.height, this.frameGeometry);
      if (box.x1 - box.x0 < 1 || box.y1 - box.y0 < 1) continue;
      if (inside && inside.length > 0 && !inside.some((r) => within(r, (box.x0 + box.x1) / 2, (box.y0 + box.y1) / 2))) continue;
      const outline = cellsOutline(comp.cells, mapWidth, gray.width, gray.height, this.frameGeometry);
      candidates.push(await this.scoreCandidate(gray, box, comp.confidence, outline));
    }
    return { thyroid, candidates, confident: candidates.filter((c) => c.confidence >= rules.confidenceThreshold) };
  }

  /** Reader-guided: the nodule half on a box the reader drew (confidence 1: the reader chose it). */
  async scoreBox(gray: GrayImage, box: Corners): Promise<NoduleCandidate> {
    const outline: [number, number][] = [
      [box.x0, box.y0],
      [box.x1, box.y0],
      [box.x1, box.y1],
      [box.x0, box.y1],
    ];
    return this.scoreCandidate(gray, box, 1, outline);
  }

  private async scoreCandidate(gray: GrayImage, box: Corners, confidence: number, outline: [number, number][]): Promise<NoduleCandidate> {
    const { nodule } = this.manifest;
    const input = cropInput(gray, box, nodule.size, nodule.context, this.manifest.frame.normalisation);
    const out = await this.noduleSession.run({ [nodule.input]: new ort.Tensor('float32', input, [1, 1, nodule.size, nodule.size]) });
    const probabilities = {} as Record<HeadName, number[]>;
    for (const h of HEAD_NAMES) probabilities[h] = Array.from(tensorData(out, nodule.heads[h].output));
    const suspicionLogit = tensorData(out, nodule.suspicion)[0] ?? 0;
    const tallerThanWide = box.y1 - box.y0 > box.x1 - box.x0;
    const candidate = { confidence, box, outline, probabilities, suspicionLogit, tallerThanWide, score: 0 };
    candidate.score = this.score(candidate);
    return candidate;
  }

  /** The combiner's features, in the manifest's order (see served.candidate_features). */
  features(c: Pick<NoduleCandidate, 'probabilities' | 'suspicionLogit' | 'tallerThanWide'>): number[] {
    const expected = (h: HeadName): number => {
      const points = this.manifest.nodule.heads[h].points;
      return c.probabilities[h].reduce((sum, p, i) => sum + p * (points[i] ?? 0), 0);
    };
    return [c.suspicionLogit, ...HEAD_NAMES.map(expected), c.tallerThanWide ? 3 : 0];
  }

  score(c: Pick<NoduleCandidate, 'probabilities' | 'suspicionLogit' | 'tallerThanWide'>): number {
    const { mean, std, coef, bias, prevalenceOffset } = this.manifest.combiner;
    const z = this.features(c).reduce((sum, f, i) => sum + ((f - (mean[i] ?? 0)) / (std[i] ?? 1)) * (coef[i] ?? 0), bias);
    return sigmoid(z + prevalenceOffset);
  }

  level(score: number): TriageLevel {
    return triageLevel(score, this.manifest);
  }

  /** A candidate in the reader's vocabulary: ACR categories, points and TR level (packages' tirads.ts). */
  finding(c: NoduleCandidate, index: number, source: NoduleFinding['source'], pixelMm: { x: number; y: number } | null): NoduleFinding {
    const lexicon: LexiconPrediction[] = HEAD_NAMES.map((h) => headPrediction(h, this.manifest.nodule.heads[h].categories, c.probabilities[h], this.manifest.nodule.heads[h].points));
    const shape = lexiconCategory('shape', c.tallerThanWide ? 'taller' : 'wider');
    lexicon.splice(2, 0, {
      item: 'shape',
      code: shape?.code ?? 'wider',
      label: shape?.label ?? 'Wider-than-tall',
      points: shape?.points ?? 0,
      confidence: 1,
      probabilities: {},
      basis: 'outline',
    });
    const { points, level } = tiradsOf(lexicon);
    const w = c.box.x1 - c.box.x0;
    const h = c.box.y1 - c.box.y0;
    const sizeMm = pixelMm
      ? { long: round1(Math.max(w * pixelMm.x, h * pixelMm.y)), short: round1(Math.min(w * pixelMm.x, h * pixelMm.y)) }
      : null;
    return {
      index,
      source,
      confidence: round4(c.confidence),
      box: { x: round1(c.box.x0), y: round1(c.box.y0), width: round1(w), height: round1(h) },
      outline: c.outline,
      score: round4(c.score),
      lexicon,
      tiradsPoints: points,
      trLevel: level,
      sizeMm,
    };
  }

  async close(): Promise<void> {
    await this.frameSession.release();
    await this.noduleSession.release();
  }
}

function headPrediction(item: LexiconItem, categories: string[], probabilities: number[], points: number[]): LexiconPrediction {
  let best = 0;
  for (let i = 1; i < probabilities.length; i++) if ((probabilities[i] ?? 0) > (probabilities[best] ?? 0)) best = i;
  const code = categories[best] ?? 'unknown';
  const category = lexiconCategory(item, code);
  const byCode: Record<string, number> = {};
  categories.forEach((c, i) => (byCode[c] = round4(probabilities[i] ?? 0)));
  return { item, code, label: category?.label ?? code, points: category?.points ?? points[best] ?? 0, confidence: round4(probabilities[best] ?? 0), probabilities: byCode, basis: 'model' };
}

function within(r: Corners, x: number, y: number): boolean {
  return x >= r.x0 && x <= r.x1 && y >= r.y0 && y <= r.y1;
}

const round1 = (v: number): number => Math.round(v * 10) / 10;
const round4 = (v: number): number => Math.round(v * 10000) / 10000;
