/**
 * One triage job: the study's ultrasound images -> per-image findings -> the study result (its most
 * suspicious image) -> ai_results row, the study's reading priority, and the result as a DICOM SR.
 *
 * Every step is safe to repeat: the result is keyed by (study, model, version, instances seen), the
 * study update is conditional, and the SR has deterministic UIDs and bytes.
 */
import type { Pool } from '@yunying/catalog';
import { PermanentError, isAppError, type Logger } from '@yunying/core';
import { isUltrasoundSopClass } from '@yunying/dicom';
import type { JobPayload } from '@yunying/jobs';
import { triageLevel, type ModelManifest } from '@yunying/nodule-model';
import type { ImageAnalysis } from './analyse';
import { MAX_FRAMES } from './analyse';
import type { ImageEntry, ScoredImage } from './result';
import { priorityFor, thresholdsOf } from './result';
import type { TriageMetrics, JobOutcome } from './triage.metrics';
import type { NewResult, StoredInstance, StoredResult } from './triage.repository';
import { applyToStudy, currentInstances, findResult, insertResult, studyActivity } from './triage.repository';

export interface Analyser {
  readonly size: number;
  analyse(bytes: Uint8Array, maxFrames: number): Promise<ImageAnalysis>;
}

export interface ObjectReader {
  read(key: string, options?: { expectedSize?: number }): Promise<Uint8Array>;
}

export interface TriageDeps {
  pool: Pool;
  store: ObjectReader;
  analyser: Analyser;
  manifest: ModelManifest;
  quietSeconds: number;
  /** Writes the SR of a 'triaged' result into the archive (idempotent) and records its UID. */
  writeSr: (result: StoredResult) => Promise<void>;
  metrics: TriageMetrics;
  logger: Logger;
}

type Payload = JobPayload<'triage', 'triage.run'>;

export class TriageService {
  constructor(private readonly deps: TriageDeps) {}

  async run(payload: Payload): Promise<JobOutcome> {
    const { pool, manifest, logger } = this.deps;
    const started = new Date();
    const activity = await studyActivity(pool, payload.studyInstanceUid);
    if (activity === null) return 'gone';
    // A later arrival changed the study: its own announcement (or the reconciler) queues the job for it.
    if (activity.instanceCount !== payload.instanceCount) return 'superseded';
    const key = { studyRef: activity.studyRef, modelId: payload.modelId, modelVersion: payload.modelVersion, instanceCount: payload.instanceCount };
    if (payload.modelId !== manifest.id || payload.modelVersion !== manifest.version) {
      throw new PermanentError(`job asks for model ${payload.modelId} ${payload.modelVersion}; this worker serves ${manifest.id} ${manifest.version}`);
    }

    const existing = await findResult(pool, key);
    if (existing) {
      // A repeat (or a run that stopped after storing): finish what may be missing, change nothing else.
      await this.publish(existing);
      return 'duplicate';
    }

    const instances = await currentInstances(pool, activity.studyRef);
    const images = await this.analyseAll(instances);
    const scored = images.filter((i): i is ScoredImage => i.status === 'scored').sort((a, b) => b.score - a.score);
    const others = images.filter((i) => i.status !== 'scored');
    const best = scored[0];
    const finished = new Date();
    const stableAt = activity.lastArrival ? new Date(activity.lastArrival.getTime() + this.deps.quietSeconds * 1000) : started;
    const base = { ...key, modelSha256: manifest.sha256, thresholds: thresholdsOf(manifest), images: [...scored, ...others] };
    const timings = {
      stableAt: stableAt.toISOString(),
      startedAt: started.toISOString(),
      finishedAt: finished.toISOString(),
      totalMs: finished.getTime() - started.getTime(),
      inferenceMs: round(scored.reduce((sum, i) => sum + i.inferenceMs, 0)),
      stableToResultSeconds: round((finished.getTime() - stableAt.getTime()) / 1000),
    };
    let result: NewResult;
    if (best) {
      const level = triageLevel(best.score, manifest);
      const failed = others.filter((i) => i.status === 'failed').length;
      result = {
        ...base,
        status: 'triaged',
        reason: failed > 0 ? `${failed} image(s) could not be decoded; scored from the other ${scored.length}` : null,
        score: best.score,
        category: level,
        priority: priorityFor(level),
        timings,
      };
    } else {
      const failure = others.find((i) => i.status === 'failed');
      result = {
        ...base,
        status: failure ? 'failed' : 'not_triaged',
        reason: failure && 'reason' in failure ? failure.reason : notTriagedReason(instances, others),
        score: null,
        category: null,
        priority: null,
        timings,
      };
    }

    const { result: stored, inserted } = await insertResult(pool, result);
    if (inserted) this.deps.metrics.stableToResult.observe(Math.max(0, timings.stableToResultSeconds));
    await this.publish(stored);
    logger.info(
      { studyInstanceUid: payload.studyInstanceUid, status: stored.status, category: stored.category, images: images.length, totalMs: timings.totalMs },
      'study triaged',
    );
    if (stored.status === 'failed') throw new PermanentError(stored.reason ?? 'triage failed');
    return stored.status;
  }

  /** Stores a 'failed' result for a job that cannot succeed, so the study shows why it has no score. */
  async recordFailure(payload: Payload, reason: string): Promise<void> {
    const activity = await studyActivity(this.deps.pool, payload.studyInstanceUid);
    if (activity === null || activity.instanceCount !== payload.instanceCount) return;
    const { result } = await insertResult(this.deps.pool, {
      studyRef: activity.studyRef,
      modelId: payload.modelId,
      modelVersion: payload.modelVersion,
      modelSha256: this.deps.manifest.sha256,
      instanceCount: payload.instanceCount,
      status: 'failed',
      reason,
      score: null,
      category: null,
      priority: null,
      thresholds: thresholdsOf(this.deps.manifest),
      images: [],
      timings: { failedAt: new Date().toISOString() },
    });
    await applyToStudy(this.deps.pool, result);
  }

  private async publish(result: StoredResult): Promise<void> {
    await applyToStudy(this.deps.pool, result);
    if (result.status === 'triaged' && result.srSopInstanceUid === null) await this.deps.writeSr(result);
  }

  /** Reads and analyses the ultrasound instances, as many at once as there are analysis threads. */
  private async analyseAll(instances: StoredInstance[]): Promise<ImageEntry[]> {
    const out: ImageEntry[] = new Array<ImageEntry>(instances.length);
    let next = 0;
    const lane = async (): Promise<void> => {
      for (let i = next++; i < instances.length; i = next++) {
        const instance = instances[i];
        if (instance) out[i] = await this.analyseOne(instance);
      }
    };
    await Promise.all(Array.from({ length: Math.max(1, this.deps.analyser.size) }, lane));
    return out;
  }

  private async analyseOne(instance: StoredInstance): Promise<ImageEntry> {
    const ids = { sopInstanceUid: instance.sopInstanceUid, seriesInstanceUid: instance.seriesInstanceUid, sopClassUid: instance.sopClassUid };
    if (!isUltrasoundSopClass(instance.sopClassUid)) {
      return { ...ids, status: 'skipped', reason: `not an ultrasound image (modality ${instance.modality ?? 'unknown'})` };
    }
    // Storage errors propagate: they are transient and the job is retried.
    const bytes = await this.deps.store.read(instance.objectKey, { expectedSize: instance.sizeBytes });
    let analysis: ImageAnalysis;
    try {
      analysis = await this.deps.analyser.analyse(bytes, MAX_FRAMES);
    } catch (error) {
      if (isAppError(error) && !error.retryable) return { ...ids, status: 'failed', reason: error.message };
      throw error;
    }
    if (analysis.status === 'not_usable') return { ...ids, status: 'not_usable', reason: analysis.reason };
    this.deps.metrics.inference.observe(analysis.inferenceMs / 1000);
    const { best } = analysis;
    return {
      ...ids,
      status: 'scored',
      score: best.score,
      category: triageLevel(best.score, this.deps.manifest),
      frameNumber: best.frameNumber,
      numberOfFrames: analysis.numberOfFrames,
      rows: analysis.rows,
      columns: analysis.columns,
      region: best.region,
      crop: best.crop,
      box: best.box,
      outline: best.outline,
      located: best.located,
      descriptors: best.descriptors,
      frameScores: analysis.frameScores,
      inferenceMs: round(analysis.inferenceMs),
    };
  }
}

function notTriagedReason(instances: StoredInstance[], others: ImageEntry[]): string {
  const us = instances.filter((i) => isUltrasoundSopClass(i.sopClassUid)).length;
  if (us === 0) {
    const modalities = [...new Set(instances.map((i) => i.modality ?? 'unknown'))].sort().join(', ');
    return `no ultrasound image in the study (modalities: ${modalities || 'none'})`;
  }
  const reasons = [...new Set(others.filter((i) => i.status === 'not_usable').map((i) => ('reason' in i ? i.reason : '')))];
  return `none of the ${us} ultrasound image(s) could be used: ${reasons.join('; ')}`;
}

function round(v: number): number {
  return Math.round(v * 1000) / 1000;
}
