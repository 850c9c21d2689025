/**
 * The model registry: every `<MODELS_DIR>/<folder>/manifest.json`. ACTIVE_MODEL names the model to
 * serve by folder name or by the manifest's `id`; the folder name wins when both match different
 * models. The model file's sha256 is checked against its manifest here, at start-up: a mismatch (or a
 * missing/invalid manifest) refuses start-up, naming the model.
 */
import fs from 'node:fs';
import path from 'node:path';
import { AppError } from '@yunying/core';
import { loadTriageManifest, type TriageManifest } from './triage.manifest';

export interface ActiveModel {
  dir: string;
  manifest: TriageManifest;
}

function manifestId(dir: string): string | null {
  try {
    const raw: unknown = JSON.parse(fs.readFileSync(path.join(dir, 'manifest.json'), 'utf8'));
    return typeof raw === 'object' && raw !== null && typeof (raw as { id?: unknown }).id === 'string' ? (raw as { id: string }).id : null;
  } catch {
    return null;
  }
}

export function listModels(modelsDir: string): { folder: string; dir: string; id: string | null }[] {
  if (!fs.existsSync(modelsDir)) return [];
  return fs
    .readdirSync(modelsDir, { withFileTypes: true })
    .filter((e) => e.isDirectory() && fs.existsSync(path.join(modelsDir, e.name, 'manifest.json')))
    .map((e) => ({ folder: e.name, dir: path.join(modelsDir, e.name), id: manifestId(path.join(modelsDir, e.name)) }))
    .sort((a, b) => a.folder.localeCompare(b.folder));
}

export function loadActiveModel(modelsDir: string, active: string): ActiveModel {
  const models = listModels(modelsDir);
  const chosen = models.find((m) => m.folder === active) ?? models.find((m) => m.id === active);
  if (!chosen) {
    const known = models.map((m) => `${m.folder}${m.id ? ` (${m.id})` : ''}`).join(', ') || 'none';
    throw new AppError('config_invalid', `active model "${active}" is not in the model registry ${modelsDir} (models: ${known})`);
  }
  try {
    return { dir: chosen.dir, manifest: loadTriageManifest(chosen.dir) };
  } catch (error) {
    const why = error instanceof Error ? error.message : String(error);
    throw new AppError('config_invalid', `model "${active}" (${chosen.dir}) refused: ${why}`, { cause: error });
  }
}
