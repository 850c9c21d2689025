/**
 * The model manifest (models/thyroid-nodule/manifest.json): what the ONNX file expects and returns,
 * its triage thresholds and its cross-validated metrics. Loading verifies the model file's sha256, so
 * a service never scores studies with a model other than the one the manifest (and model card)
 * describes.
 */
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { PermanentError } from '@yunying/core';

export interface InputSpec {
  name: string;
  /** Model input is size x size, one channel. */
  size: number;
  normalisation: { scale: number; mean: number; std: number };
}

export interface DescriptorSpec {
  name: string;
  /** The TI-RADS feature this descriptor stands in for (composition, echogenicity, shape, margin, ...). */
  tiradsFeature: string;
  meaning: string;
}

export interface Threshold {
  value: number;
  rule: string;
}

export interface ModelManifest {
  id: string;
  version: string;
  sha256: string;
  /** Absolute path of the verified ONNX file. */
  modelPath: string;
  input: InputSpec;
  /** `contributions` is absent for models that predate per-descriptor contributions. */
  outputs: { probability: string; descriptors: string; mask: string; contributions: string | null };
  descriptors: DescriptorSpec[];
  thresholds: { triage: Threshold; urgent: Threshold };
  /** The manifest as written by the training script, for reports (metrics, training data). */
  raw: Record<string, unknown>;
}

/** The model shipped in this repository. Resolves from both src/ and dist/. */
export function defaultModelDir(): string {
  return path.resolve(__dirname, '../../../models/thyroid-nodule');
}

function invalid(what: string): PermanentError {
  return new PermanentError(`model manifest is invalid: ${what}`);
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function record(parent: Record<string, unknown>, key: string): Record<string, unknown> {
  const value = parent[key];
  if (!isRecord(value)) throw invalid(`${key} must be an object`);
  return value;
}

function str(parent: Record<string, unknown>, key: string): string {
  const value = parent[key];
  if (typeof value !== 'string' || value === '') throw invalid(`${key} must be a non-empty string`);
  return value;
}

function num(parent: Record<string, unknown>, key: string): number {
  const value = parent[key];
  if (typeof value !== 'number' || !Number.isFinite(value)) throw invalid(`${key} must be a finite number`);
  return value;
}

function threshold(parent: Record<string, unknown>, key: string): Threshold {
  const t = record(parent, key);
  const value = num(t, 'value');
  if (value < 0 || value > 1) throw invalid(`thresholds.${key}.value must be in [0, 1]`);
  return { value, rule: str(t, 'rule') };
}

export function sha256File(file: string): string {
  return createHash('sha256').update(fs.readFileSync(file)).digest('hex');
}

/** Parses and checks a manifest object; does not touch the model file. */
export function parseManifest(raw: unknown, modelDir: string): ModelManifest {
  if (!isRecord(raw)) throw invalid('not a JSON object');
  const input = record(raw, 'input');
  const shape = input.shape;
  if (!Array.isArray(shape) || shape.length !== 4 || shape[1] !== 1 || typeof shape[2] !== 'number' || shape[2] !== shape[3]) {
    throw invalid('input.shape must be [batch, 1, size, size]');
  }
  const norm = record(input, 'normalisation');
  const std = num(norm, 'std');
  if (std <= 0) throw invalid('input.normalisation.std must be positive');
  const outputs = record(raw, 'outputs');
  const names = record(outputs, 'descriptors').names;
  if (!Array.isArray(names)) throw invalid('outputs.descriptors.names must be an array');
  const descriptors = names.map((d: unknown): DescriptorSpec => {
    if (!isRecord(d)) throw invalid('descriptor entries must be objects');
    return { name: str(d, 'name'), tiradsFeature: str(d, 'tirads_feature'), meaning: str(d, 'meaning') };
  });
  const thresholds = record(raw, 'thresholds');
  const sha256 = str(raw, 'sha256').toLowerCase();
  if (!/^[0-9a-f]{64}$/.test(sha256)) throw invalid('sha256 must be 64 hex digits');
  const file = str(raw, 'file');
  if (path.isAbsolute(file) || file.split(/[\\/]/).includes('..')) throw invalid('file must be a plain relative name');
  record(outputs, 'probability');
  record(outputs, 'mask');
  return {
    id: str(raw, 'id'),
    version: str(raw, 'version'),
    sha256,
    modelPath: path.join(modelDir, file),
    input: {
      name: str(input, 'name'),
      size: shape[2],
      normalisation: { scale: num(norm, 'scale'), mean: num(norm, 'mean'), std },
    },
    outputs: {
      probability: 'probability',
      descriptors: 'descriptors',
      mask: 'mask',
      contributions: isRecord(outputs.contributions) ? 'contributions' : null,
    },
    descriptors,
    thresholds: { triage: threshold(thresholds, 'triage'), urgent: threshold(thresholds, 'urgent') },
    raw,
  };
}

/**
 * Reads `<modelDir>/manifest.json` and verifies the model file's sha256 against it.
 * Throws PermanentError when either is missing or they disagree: retrying cannot fix a wrong model.
 */
export function loadModelManifest(modelDir: string = defaultModelDir()): ModelManifest {
  const manifestPath = path.join(modelDir, 'manifest.json');
  let raw: unknown;
  try {
    raw = JSON.parse(fs.readFileSync(manifestPath, 'utf8'));
  } catch (cause: unknown) {
    throw new PermanentError('model manifest is missing or not valid JSON', { cause });
  }
  const manifest = parseManifest(raw, modelDir);
  if (!fs.existsSync(manifest.modelPath)) throw new PermanentError('model file named by the manifest is missing');
  const actual = sha256File(manifest.modelPath);
  if (actual !== manifest.sha256) {
    throw new PermanentError('model file does not match the sha256 in its manifest', {
      details: { modelId: manifest.id, version: manifest.version },
    });
  }
  return manifest;
}
