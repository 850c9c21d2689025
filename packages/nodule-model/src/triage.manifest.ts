/**
 * The triage manifest (models/thyroid-nodule/manifest.json), written by train_triage.py: the two ONNX
 * graphs with their sha256, their input geometry, the candidate rules, the scope gate, the combiner
 * that turns a nodule's heads into a score, and the thresholds chosen on served-path cross-validation.
 * Loading verifies both files' sha256, so a service never serves a model its card does not describe.
 */
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { z } from 'zod';
import { PermanentError } from '@yunying/core';

const file = z.object({ file: z.string().min(1), sha256: z.string().regex(/^[0-9a-f]{64}$/) });
const threshold = z.object({ value: z.number().min(0).max(1), rule: z.string() });
const head = z.object({ output: z.string(), categories: z.array(z.string()).min(2), points: z.array(z.number()) });

const manifestSchema = z.object({
  id: z.string().min(1),
  version: z.string().min(1),
  task: z.string(),
  files: z.object({ frame: file, nodule: file }),
  frame: z.object({
    input: z.string(),
    width: z.number().int().positive(),
    height: z.number().int().positive(),
    stride: z.number().int().positive(),
    normalisation: z.object({ mean: z.number(), std: z.number().positive() }),
    outputs: z.object({ noduleMap: z.string(), thyroid: z.string() }),
  }),
  nodule: z.object({
    input: z.string(),
    size: z.number().int().positive(),
    context: z.number().positive(),
    heads: z.object({ composition: head, echogenicity: head, margin: head, echogenicFoci: head }),
    suspicion: z.string(),
  }),
  candidates: z.object({
    segThreshold: z.number(),
    minCells: z.number().int().positive(),
    maxCandidates: z.number().int().positive(),
    confidenceThreshold: z.number(),
    aggregation: z.enum(['most-confident', 'max-score']),
  }),
  gate: z.object({ threshold: z.number(), colourFractionMax: z.number() }),
  combiner: z.object({
    features: z.array(z.string()),
    mean: z.array(z.number()),
    std: z.array(z.number()),
    coef: z.array(z.number()),
    bias: z.number(),
    prevalence: z.number().gt(0).lt(1),
    prevalenceOffset: z.number(),
  }),
  thresholds: z.object({ triage: threshold, urgent: threshold }),
  metrics: z.record(z.string(), z.unknown()),
});

export type TriageManifestData = z.infer<typeof manifestSchema>;
export type HeadName = keyof TriageManifestData['nodule']['heads'];
export const HEAD_NAMES: readonly HeadName[] = ['composition', 'echogenicity', 'margin', 'echogenicFoci'];

export interface TriageManifest extends TriageManifestData {
  dir: string;
  framePath: string;
  nodulePath: string;
  /** One digest naming the pair of graphs (sha256 over both files' sha256), for results and audit. */
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
  if (m.combiner.mean.length !== n || m.combiner.std.length !== n || m.combiner.coef.length !== n) {
    throw new PermanentError('model manifest is invalid: combiner vectors differ in length from its feature list');
  }
  const sha256 = createHash('sha256').update(`${m.files.frame.sha256}:${m.files.nodule.sha256}`).digest('hex');
  return {
    ...m,
    dir,
    framePath: path.join(dir, m.files.frame.file),
    nodulePath: path.join(dir, m.files.nodule.file),
    sha256,
    raw: raw as Record<string, unknown>,
  };
}

/** Reads and checks the manifest and both graphs' sha256; any mismatch refuses the model. */
export function loadTriageManifest(dir: string = defaultModelDir()): TriageManifest {
  const manifestPath = path.join(dir, 'manifest.json');
  if (!fs.existsSync(manifestPath)) throw new PermanentError(`model manifest not found in ${dir}`);
  const raw: unknown = JSON.parse(fs.readFileSync(manifestPath, 'utf8'));
  const manifest = parseTriageManifest(raw, dir);
  for (const [name, spec, filePath] of [
    ['frame', manifest.files.frame, manifest.framePath],
    ['nodule', manifest.files.nodule, manifest.nodulePath],
  ] as const) {
    if (!fs.existsSync(filePath)) throw new PermanentError(`model file ${spec.file} (${name}) not found in ${dir}`);
    const actual = sha256File(filePath);
    if (actual !== spec.sha256) throw new PermanentError(`model file ${spec.file} has sha256 ${actual}, the manifest says ${spec.sha256}`);
  }
  return manifest;
}
