/**
 * One triage job: the study's ultrasound images -> per-image findings -> the study result (its most
 * suspicious image) -> ai_results row, the study's reading priority, and the result as standard AI
 * objects (nodule SEGs, a TID 1500 SR).
 *
 * Every step is safe to repeat: the result is keyed by (study, model, version, instances seen), the
 * study update is conditional, and the AI objects have deterministic UIDs and bytes.
 */
import { applyAiResultToStudy, findAiResult, insertAiResult, type NewAiResult, type Pool, type StoredAiResult } from '@yunying/catalog';
import { PermanentError, isAppError, type Logger } from '@yunying/core';
import { isUltrasoundSopClass } from '@yunying/dicom';
import type { JobPayload } from '@yunying/jobs';
import { triageLevel, type TriageManifest } from '@yunying/nodule-model';
import type { ImageAnalysis } from './analyse';
import { MAX_FRAMES } from './analyse';
import type { ImageEntry, ScoredImage } from './result';
import { priorityFor, thresholdsOf } from './result';
import type { TriageMetrics, JobOutcome } from './triage.metrics';
import type { StoredInstance } from './triage.repository';
import { clinicScopeRules, currentInstances, studyActivity } from './triage.repository';
import { decideStudy } from './study.decision';

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
  manifest: TriageManifest;
  quietSeconds: number;
  /** Writes the AI objects of a 'triaged' result (SEGs, TID 1500 SR) into the archive (idempotent) and records the SR UID. */
  writeSr: (result: StoredAiResult) => Promise<void>;
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

    const existing = await findAiResult(pool, key);
    if (existing) {
      // A repeat (or a run that stopped after storing): finish what may be missing, change nothing else.
      await this.publish(existing);
      return 'duplicate';
    }

    const instances = await currentInstances(pool, activity.studyRef);
    const analysed = await this.analyseAll(instances);
    const rules = await clinicScopeRules(pool, activity.clinicId);
    const outcome = decideStudy(analysed.flatMap((a) => (a.analysis ? [a.analysis] : [])), manifest, rules);
    const images = analysed.map((a) => a.entry);
    const scored = images.filter((i): i is ScoredImage => i.status === 'scored').sort((a, b) => b.score - a.score);
    const finished = new Date();
    const stableAt = activity.lastArrival ? new Date(activity.lastArrival.getTime() + this.deps.quietSeconds * 1000) : started;
    const ordered = [...scored, ...images.filter((i) => i.status !== 'scored')];
    const base = { ...key, modelSha256: manifest.sha256, thresholds: thresholdsOf(manifest), images: ordered, gate: outcome.gate };
    const timings = {
      stableAt: stableAt.toISOString(),
      startedAt: started.toISOString(),
      finishedAt: finished.toISOString(),
      totalMs: finished.getTime() - started.getTime(),
      inferenceMs: round(analysed.reduce((sum, a) => sum + (a.analysis?.inferenceMs ?? 0), 0)),
      stableToResultSeconds: round((finished.getTime() - stableAt.getTime()) / 1000),
    };
    const failure = images.find((i) => i.status === 'failed');
    let result: NewAiResult;
    if (outcome.status === 'triaged') {
      result = { ...base, status: 'triaged', reason: outcome.reason, score: outcome.score, category: outcome.level, priority: priorityFor(outcome.level), timings };
    } else if (outcome.status === 'no_nodule_found') {
      result = { ...base, status: 'no_nodule_found', reason: outcome.reason, score: null, category: null, priority: 'routine', timings };
    } else if (failure && !images.some((i) => i.status === 'scored' || i.status === 'no_nodule')) {
      result = { ...base, status: 'failed', reason: 'reason' in failure ? failure.reason : 'failed', score: null, category: null, priority: null, timings };
    } else {
      result = { ...base, status: 'not_triaged', reason: notTriagedReason(instances, outcome.reason), score: null, category: null, priority: 'routine', timings };
    }

    const { result: stored, inserted } = await insertAiResult(pool, result);
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
    const { result } = await insertAiResult(this.deps.pool, {
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
      gate: null,
    });
    await applyAiResultToStudy(this.deps.pool, result);
  }

  private async publish(result: StoredAiResult): Promise<void> {
    await applyAiResultToStudy(this.deps.pool, result);
    if (result.status === 'triaged' && result.srSopInstanceUid === null) await this.deps.writeSr(result);
  }

  /** Reads and analyses the ultrasound instances, as many at once as there are analysis threads. */
  private async analyseAll(instances: StoredInstance[]): Promise<Analysed[]> {
    const out: Analysed[] = new Array<Analysed>(instances.length);
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

  private async analyseOne(instance: StoredInstance): Promise<Analysed> {
    const ids = { sopInstanceUid: instance.sopInstanceUid, seriesInstanceUid: instance.seriesInstanceUid, sopClassUid: instance.sopClassUid };
    if (!isUltrasoundSopClass(instance.sopClassUid)) {
      return { entry: { ...ids, status: 'skipped', reason: `not an ultrasound image (modality ${instance.modality ?? 'unknown'})` }, analysis: null };
    }
    // Storage errors propagate: they are transient and the job is retried.
    const bytes = await this.deps.store.read(instance.objectKey, { expectedSize: instance.sizeBytes });
    let analysis: ImageAnalysis;
    try {
      analysis = await this.deps.analyser.analyse(bytes, MAX_FRAMES);
    } catch (error) {
      if (isAppError(error) && !error.retryable) return { entry: { ...ids, status: 'failed', reason: error.message }, analysis: null };
      throw error;
    }
    if (analysis.status === 'not_usable') return { entry: { ...ids, status: 'not_usable', reason: analysis.reason }, analysis };
    this.deps.metrics.inference.observe(analysis.inferenceMs / 1000);
    const common = { ...ids, thyroid: analysis.thyroid, numberOfFrames: analysis.numberOfFrames, frames: analysis.frames, inferenceMs: round(analysis.inferenceMs) };
    const top = analysis.best?.nodules[0];
    if (!analysis.best || !top) return { entry: { ...common, status: 'no_nodule' }, analysis };
    return {
      entry: {
        ...common,
        status: 'scored',
        score: top.score,
        category: triageLevel(top.score, this.deps.manifest, top.locatedBy === 'calipers' ? 'box' : 'auto'),
        frameNumber: analysis.best.frameNumber,
        rows: analysis.rows,
        columns: analysis.columns,
        nodules: analysis.best.nodules,
        box: top.box,
        outline: top.outline,
      },
      analysis,
    };
  }
}

interface Analysed {
  entry: ImageEntry;
  analysis: ImageAnalysis | null;
}

function notTriagedReason(instances: StoredInstance[], reason: string): string {
  const us = instances.filter((i) => isUltrasoundSopClass(i.sopClassUid)).length;
  if (us === 0) {
    const modalities = [...new Set(instances.map((i) => i.modality ?? 'unknown'))].sort().join(', ');
    return `no ultrasound image in the study (modalities: ${modalities || 'none'})`;
  }
  return reason;
}

function round(v: number): number {
  return Math.round(v * 1000) / 1000;
}
