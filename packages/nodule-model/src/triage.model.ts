/**
 * The whole-frame triage model (the mirror of train/served.py):
 *   frame -> FrameNet (onnxruntime-node) -> P(B-mode thyroid frame) and a nodule map -> candidates
 *   (connected components, most confident first) -> for each, the ellipse inscribed in its box on the
 *   full-resolution frame -> measured descriptors (nodule.descriptors.ts) -> the ACR lexicon heads; the
 *   suspicion combiner reads the same descriptors on a larger region, the ellipse of the map component at
 *   the lower `scoreThreshold` that contains the candidate (the tissue around the nodule carries what the
 *   tight box misses: served.py, the model card) -> a calibrated score at the manifest's prevalence.
 * `scoreBox` runs the nodule half on a box a reader drew or clicked (reader-guided scoring): the box's
 * own ellipse, scored by the box combiner (3.4.0; the frame combiner on a grown box scored the
 * radiologists' boxes at chance: train/box_stage.py).
 */
import * as ort from 'onnxruntime-node';
import { PermanentError } from '@yunying/core';
import type { Corners, FrameGeometry, GrayImage } from './frame.geometry';
import { cellsBox, cellsOutline, components, letterboxInput } from './frame.geometry';
import type { Descriptors } from './nodule.descriptors';
import { bytesOf, describe, ellipseRegion } from './nodule.descriptors';
import { SharedOpenings } from './frame.openings';
import type { HeadName, TriageManifest } from './triage.manifest';
import { HEAD_NAMES, defaultModelDir, loadTriageManifest } from './triage.manifest';
import type { LexiconItem, LexiconPrediction, NoduleFinding } from './tirads';
import { lexiconCategory, tiradsOf, withChartEchogenicity } from './tirads';

export type TriageLevel = 'urgent' | 'flagged' | 'routine';
/** Which combiner scored a nodule: an automatic candidate's, or a named box's. */
export type ScorePath = 'auto' | 'box';

/** One nodule candidate in image pixels, with what the heads said about it. */
export interface NoduleCandidate {
  confidence: number;
  box: Corners;
  outline: [number, number][];
  /** What was measured on the nodule's region (the evidence behind the categories). */
  descriptors: Descriptors;
  /** The region the score read (contains `box`; a named box's is the box) and what was measured there. */
  scoreBox: Corners;
  scoreDescriptors: Descriptors;
  /** Which combiner (and thresholds) scored it. */
  scorePath: ScorePath;
  probabilities: Record<HeadName, number[]>;
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

export function triageLevel(score: number, manifest: TriageManifest, path: ScorePath = 'auto'): TriageLevel {
  const thresholds = path === 'box' ? manifest.boxCombiner.thresholds : manifest.thresholds;
  if (score >= thresholds.urgent.value) return 'urgent';
  if (score >= thresholds.triage.value) return 'flagged';
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
    readonly manifest: TriageManifest,
  ) {}

  static async load(modelDir: string = defaultModelDir(), options: TriageModelOptions = {}): Promise<TriageModel> {
    const manifest = loadTriageManifest(modelDir);
    const threads = options.intraOpNumThreads ?? 1;
    const frame = await session(manifest.framePath, threads);
    if (!frame.inputNames.includes(manifest.frame.input)) throw new PermanentError(`frame model has no input named ${manifest.frame.input}`);
    for (const o of [manifest.frame.outputs.noduleMap, manifest.frame.outputs.thyroid]) {
      if (!frame.outputNames.includes(o)) throw new PermanentError(`frame model has no output named ${o}`);
    }
    return new TriageModel(frame, manifest);
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
    // Each candidate lies inside one component at the lower level: connected, and above that level.
    const context = components(map, mapWidth, mapHeight, rules.scoreThreshold);
    const owner = new Int32Array(mapWidth * mapHeight).fill(-1);
    context.forEach((c, j) => {
      for (const cell of c.cells) owner[cell] = j;
    });
    const candidates: NoduleCandidate[] = [];
    // Candidates of one context component share its score region, and a context box is often a
    // candidate's own box: each box's ellipse is measured once per frame (the same region, so the same values).
    // Both regions of a candidate lie in its score box, so a score box larger than the candidate's own
    // box gets one top-hat opening that all regions inside it read (frame.openings.ts).
    const measured = new Map<string, Descriptors | null>();
    const openings = new SharedOpenings(bytesOf(gray.data), gray.width, gray.height);
    const describeBox = (box: Corners): Descriptors | null => {
      const key = `${box.x0},${box.y0},${box.x1},${box.y1}`;
      let d = measured.get(key);
      if (d === undefined) {
        d = describe(gray, ellipseRegion(gray.width, gray.height, box), openings);
        measured.set(key, d);
      }
      return d;
    };
    for (const comp of comps) {
      if (candidates.length >= rules.maxCandidates) break;
      const box = cellsBox(comp.cells, mapWidth, gray.width, gray.height, this.frameGeometry);
      if (box.x1 - box.x0 < 1 || box.y1 - box.y0 < 1) continue;
      if (inside && inside.length > 0 && !inside.some((r) => within(r, (box.x0 + box.x1) / 2, (box.y0 + box.y1) / 2))) continue;
      const outline = cellsOutline(comp.cells, mapWidth, gray.width, gray.height, this.frameGeometry);
      // Measured on the ellipse inscribed in the box, as a reader's box is (served.analyse_map says why).
      const around = context[owner[comp.cells[0] ?? 0] ?? -1];
      const scoreBox = around ? cellsBox(around.cells, mapWidth, gray.width, gray.height, this.frameGeometry) : box;
      if (!sameBox(scoreBox, box)) openings.share(scoreBox);
      const candidate = this.scoreCandidate(describeBox, box, comp.confidence, outline, scoreBox);
      if (candidate) candidates.push(candidate);
    }
    return { thyroid, candidates, confident: candidates.filter((c) => c.confidence >= rules.confidenceThreshold) };
  }

  /**
   * Reader-guided: the nodule half on a box the reader drew (confidence 1: the reader chose it); the
   * region measured is the ellipse inscribed in the box, the outline shown is that ellipse.
   */
  scoreBox(gray: GrayImage, box: Corners): NoduleCandidate {
    const candidate = this.scoreCandidate((b) => describe(gray, ellipseRegion(gray.width, gray.height, b)), box, 1, ellipseOutline(box), null);
    if (!candidate) throw new PermanentError('the box does not cover any of the image');
    return candidate;
  }

  /**
   * `describeBox`: the descriptors of the ellipse inscribed in a box of the frame. `scoreBox` null: a
   * named box, scored on its own region by the box combiner.
   */
  private scoreCandidate(describeBox: (box: Corners) => Descriptors | null, box: Corners, confidence: number, outline: [number, number][], scoreBox: Corners | null): NoduleCandidate | null {
    const descriptors = describeBox(box);
    if (!descriptors) return null;
    const scoreDescriptors = scoreBox ? describeBox(scoreBox) : descriptors;
    if (!scoreDescriptors) return null;
    const x = this.manifest.descriptors.names.map((n) => descriptors[n]);
    const probabilities = {} as Record<HeadName, number[]>;
    for (const h of HEAD_NAMES) probabilities[h] = softmaxHead(this.manifest.heads[h], x);
    const tallerThanWide = box.y1 - box.y0 > box.x1 - box.x0;
    const path: ScorePath = scoreBox ? 'auto' : 'box';
    const candidate = { confidence, box, outline, descriptors, scoreBox: scoreBox ?? box, scoreDescriptors, scorePath: path, probabilities, tallerThanWide, score: 0 };
    candidate.score = this.score(scoreDescriptors, path);
    return candidate;
  }

  /** The calibrated suspicion of one nodule: the path's combiner on its descriptors, at the stated prevalence. */
  score(descriptors: Descriptors, path: ScorePath = 'auto'): number {
    const { mean, std, coef, bias, prevalenceOffset } = path === 'box' ? this.manifest.boxCombiner : this.manifest.combiner;
    const z = this.manifest.descriptors.names.reduce((sum, n, i) => sum + ((descriptors[n] - (mean[i] ?? 0)) / (std[i] ?? 1)) * (coef[i] ?? 0), bias);
    return sigmoid(z + prevalenceOffset);
  }

  level(score: number, path: ScorePath = 'auto'): TriageLevel {
    return triageLevel(score, this.manifest, path);
  }

  /** A candidate in the reader's vocabulary: ACR categories, points and TR level (packages' tirads.ts). */
  finding(c: NoduleCandidate, index: number, source: NoduleFinding['source'], pixelMm: { x: number; y: number } | null): NoduleFinding {
    const lexicon: LexiconPrediction[] = withChartEchogenicity(HEAD_NAMES.map((h) => headPrediction(h, this.manifest.heads[h].categories, c.probabilities[h], this.manifest.heads[h].points)));
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
      measured: roundAll(c.descriptors),
    };
  }

  async close(): Promise<void> {
    await this.frameSession.release();
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

/** Softmax of one head's linear model over the standardised descriptors (served.apply_softmax). */
function softmaxHead(head: TriageManifest['heads'][HeadName], x: number[]): number[] {
  const z = x.map((v, i) => (v - (head.mean[i] ?? 0)) / (head.std[i] ?? 1));
  const logits = head.weights.map((row, k) => row.reduce((sum, w, i) => sum + w * (z[i] ?? 0), head.bias[k] ?? 0));
  const top = Math.max(...logits);
  const e = logits.map((l) => Math.exp(l - top));
  const total = e.reduce((a, b) => a + b, 0);
  return e.map((v) => v / total);
}

/** A 24-point polygon of the ellipse inscribed in a box (the outline of a reader's box). */
function ellipseOutline(box: Corners): [number, number][] {
  const cx = (box.x0 + box.x1) / 2;
  const cy = (box.y0 + box.y1) / 2;
  const ax = (box.x1 - box.x0) / 2;
  const ay = (box.y1 - box.y0) / 2;
  return Array.from({ length: 24 }, (_, i) => {
    const t = (2 * Math.PI * i) / 24;
    return [round1(cx + ax * Math.cos(t)), round1(cy + ay * Math.sin(t))] as [number, number];
  });
}

function roundAll(d: Descriptors): Descriptors {
  const out = { ...d };
  for (const k of Object.keys(out) as (keyof Descriptors)[]) out[k] = round4(out[k]);
  return out;
}

function within(r: Corners, x: number, y: number): boolean {
  return x >= r.x0 && x <= r.x1 && y >= r.y0 && y <= r.y1;
}

const round1 = (v: number): number => Math.round(v * 10) / 10;
const round4 = (v: number): number => Math.round(v * 10000) / 10000;

function sameBox(a: Corners, b: Corners): boolean {
  return a.x0 === b.x0 && a.y0 === b.y0 && a.x1 === b.x1 && a.y1 === b.y1;
}
