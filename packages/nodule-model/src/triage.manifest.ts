/**
 * The triage manifest (models/thyroid-nodule/manifest.json), written by train_triage.py: the frame
 * network's ONNX graph with its sha256 and input geometry, the candidate rules, the measured
 * descriptors, the lexicon heads and the two suspicion combiners (automatic candidates, named boxes:
 * linear models on the descriptors), the
 * scope gate, and the thresholds chosen on served-path cross-validation. Loading verifies the graph's
 * sha256, so a service never serves a model its card does not describe.
 */
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { z } from 'zod';
import { PermanentError } from '@yunying/core';
import { DESCRIPTOR_NAMES } from './nodule.descriptors';

const file = z.object({ file: z.string().min(1), sha256: z.string().regex(/^[0-9a-f]{64}$/) });
const threshold = z.object({ value: z.number().min(0).max(1), rule: z.string() });
const head = z.object({
  categories: z.array(z.string()).min(2),
  points: z.array(z.number()),
  mean: z.array(z.number()),
  std: z.array(z.number().positive()),
  /** One row of weights (over the standardised descriptors) per category. */
  weights: z.array(z.array(z.number())),
  bias: z.array(z.number()),
});

const logistic = z.object({
  features: z.array(z.string()),
  mean: z.array(z.number()),
  std: z.array(z.number()),
  coef: z.array(z.number()),
  bias: z.number(),
  prevalence: z.number().gt(0).lt(1),
  prevalenceOffset: z.number(),
});

const manifestSchema = z.object({
  id: z.string().min(1),
  version: z.string().min(1),
  task: z.string(),
  files: z.object({ frame: file }),
  frame: z.object({
    input: z.string(),
    width: z.number().int().positive(),
    height: z.number().int().positive(),
    stride: z.number().int().positive(),
    normalisation: z.object({ mean: z.number(), std: z.number().positive() }),
    outputs: z.object({ noduleMap: z.string(), thyroid: z.string() }),
  }),
  descriptors: z.object({ names: z.array(z.enum(DESCRIPTOR_NAMES)), region: z.string() }),
  heads: z.object({ composition: head, echogenicity: head, margin: head, echogenicFoci: head }),
  candidates: z.object({
    segThreshold: z.number(),
    minCells: z.number().int().positive(),
    maxCandidates: z.number().int().positive(),
    confidenceThreshold: z.number(),
    aggregation: z.enum(['most-confident', 'max-score']),
    /** The score's region: the map component at this level that contains the candidate (3.3.0). */
    scoreThreshold: z.number().gt(0).lte(1),
  }),
  gate: z.object({ threshold: z.number(), colourFractionMax: z.number() }),
  /** The suspicion of an automatic candidate, read on its score region (fitted on the frame network's candidates). */
  combiner: logistic,
  /**
   * The suspicion of a named box (a reader's box, a crop's mask box), read on the box's own ellipse
   * (3.4.0, train/box_stage.py): fitted on the radiologists' outlined nodules, with its own thresholds.
   */
  boxCombiner: logistic.extend({ thresholds: z.object({ triage: threshold, urgent: threshold }) }),
  thresholds: z.object({ triage: threshold, urgent: threshold }),
  metrics: z.record(z.string(), z.unknown()),
});

export type TriageManifestData = z.infer<typeof manifestSchema>;
export type HeadName = keyof TriageManifestData['heads'];
export const HEAD_NAMES: readonly HeadName[] = ['composition', 'echogenicity', 'margin', 'echogenicFoci'];

export interface TriageManifest extends TriageManifestData {
  dir: string;
  framePath: string;
  /** One digest naming the model: the graph's sha256 with the fitted linear models, for results and audit. */
  sha256: string;
  raw: Record<string, unknown>;
}

/** The model shipped in this repository. Resolves from both src/ and dist/. */
export function defaultModelDir(): string {
  return path.resolve(__dirname, '../../../models/thyroid-nodule');
}

export function sha256File(filePath: string): string {
  return createHash('sha256').update(fs.readFileSync(filePath)).digest('hex');
}

export function parseTriageManifest(raw: unknown, dir: string): TriageManifest {
  const parsed = manifestSchema.safeParse(raw);
  if (!parsed.success) {
    const first = parsed.error.issues[0];
    throw new PermanentError(`model manifest is invalid: ${first ? `${first.path.join('.')}: ${first.message}` : 'unknown'}`);
  }
  const m = parsed.data;
  const n = m.combiner.features.length;
  const d = m.descriptors.names.length;
  for (const [name, c] of [['combiner', m.combiner], ['boxCombiner', m.boxCombiner]] as const) {
    if (c.features.join() !== m.descriptors.names.join() || c.mean.length !== n || c.std.length !== n || c.coef.length !== n) {
      throw new PermanentError(`model manifest is invalid: the ${name} does not match the descriptor list`);
    }
  }
  for (const h of HEAD_NAMES) {
    const spec = m.heads[h];
    const k = spec.categories.length;
    const shaped = spec.points.length === k && spec.bias.length === k && spec.weights.length === k && spec.weights.every((row) => row.length === d);
    if (!shaped || spec.mean.length !== d || spec.std.length !== d) throw new PermanentError(`model manifest is invalid: head ${h} does not match its categories and descriptors`);
  }
  if (m.candidates.scoreThreshold > m.candidates.segThreshold) throw new PermanentError('model manifest is invalid: the score region must contain the candidate (scoreThreshold <= segThreshold)');
  // The linear models and the candidate rules are part of the model as much as the graph: the name covers them.
  const sha256 = createHash('sha256').update(`${m.files.frame.sha256}:${JSON.stringify({ heads: m.heads, combiner: m.combiner, boxCombiner: m.boxCombiner, candidates: m.candidates })}`).digest('hex');
  return {
    ...m,
    dir,
    framePath: path.join(dir, m.files.frame.file),
    sha256,
    raw: raw as Record<string, unknown>,
  };
}

/** Reads and checks the manifest and the graph's sha256; any mismatch refuses the model. */
export function loadTriageManifest(dir: string = defaultModelDir()): TriageManifest {
  const manifestPath = path.join(dir, 'manifest.json');
  if (!fs.existsSync(manifestPath)) throw new PermanentError(`model manifest not found in ${dir}`);
  const raw: unknown = JSON.parse(fs.readFileSync(manifestPath, 'utf8'));
  const manifest = parseTriageManifest(raw, dir);
  for (const [name, spec, filePath] of [['frame', manifest.files.frame, manifest.framePath]] as const) {
    if (!fs.existsSync(filePath)) throw new PermanentError(`model file ${spec.file} (${name}) not found in ${dir}`);
    const actual = sha256File(filePath);
    if (actual !== spec.sha256) throw new PermanentError(`model file ${spec.file} has sha256 ${actual}, the manifest says ${spec.sha256}`);
  }
  return manifest;
}
