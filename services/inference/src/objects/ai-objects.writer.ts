import type { IngestPipeline } from '@yunying/archive';
import { setAiResultSr, type Pool, type StoredAiResult } from '@yunying/catalog';
import { AppError, type Logger } from '@yunying/core';
import type { ScoredImage } from '../triage/result';
import { studyClinic, studyHeader } from '../triage/triage.repository';
import { buildMeasurementReport } from './measurement-report';
import { buildNoduleSeg, type BuiltObject } from './nodule-seg';
import { UNKNOWN_SOURCE, sourceFacts } from './source-facts';

/**
 * Writes a triaged result into the archive as standard AI objects through the one write path
 * (IngestPipeline: three locked copies, catalog, audit, outbox), as the study's own clinic, attributed
 * to the service: one SEG per scored image (its nodule outlines), then the TID 1500 measurement report.
 * The report's UID is recorded last, so a retry after a partial write writes the same objects again
 * (same bytes: `already_stored`) until the report is in.
 */
export class AiObjectsWriter {
  constructor(private readonly deps: { pool: Pool; pipeline: IngestPipeline; logger: Logger }) {}

  async write(result: StoredAiResult): Promise<void> {
    const header = await studyHeader(this.deps.pool, result.studyRef);
    if (header === null) return;
    const clinicId = await studyClinic(this.deps.pool, result.studyRef);
    if (clinicId === null) return;
    const scored = (result.images as ScoredImage[]).filter((i) => i.status === 'scored');
    const sources = await sourceFacts(this.deps.pool, result.studyRef, scored.map((i) => i.sopInstanceUid));
    const segs = new Map<string, string>();
    for (const image of scored) {
      if (image.nodules.length === 0) continue;
      const seg = buildNoduleSeg({ result, header, image, source: sources.get(image.sopInstanceUid) ?? UNKNOWN_SOURCE });
      await this.store(seg, clinicId, 'segmentation');
      segs.set(image.sopInstanceUid, seg.sopInstanceUid);
    }
    const report = buildMeasurementReport({ result, header, scored, sources, segs });
    await this.store(report, clinicId, 'measurement report');
    await setAiResultSr(this.deps.pool, result.id, report.sopInstanceUid);
  }

  private async store(object: BuiltObject, clinicId: string, what: string): Promise<void> {
    const outcome = await this.deps.pipeline.ingest(object.bytes, {
      clinicId,
      actor: { username: 'service:inference', role: null },
      sourceIp: null,
      via: 'SERVICE',
    });
    if (outcome.status !== 'rejected') return;
    // Storage or catalog unavailable: retry the job. Anything else is a bug in the object, not in the study.
    if (outcome.retryable) throw new AppError('unavailable', `${what} not stored yet: ${outcome.message}`);
    this.deps.logger.error({ reason: outcome.reason, message: outcome.message, what }, 'AI object refused by the ingest pipeline');
    throw new AppError('internal', `${what} refused: ${outcome.reason}`, { retryable: false });
  }
}
