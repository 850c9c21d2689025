import type { IngestPipeline } from '@yunying/archive';
import type { Pool } from '@yunying/catalog';
import { AppError, type Logger } from '@yunying/core';
import type { ScoredImage } from '../triage/result';
import type { StoredResult } from '../triage/triage.repository';
import { setResultSr, studyHeader } from '../triage/triage.repository';
import { buildTriageSr } from './sr.builder';

/**
 * Writes a triaged result into the archive as an SR through the one write path (IngestPipeline: three
 * locked copies, catalog, audit, outbox), as the study's own clinic, attributed to the service.
 */
export class SrWriter {
  constructor(private readonly deps: { pool: Pool; pipeline: IngestPipeline; logger: Logger }) {}

  async write(result: StoredResult): Promise<void> {
    const header = await studyHeader(this.deps.pool, result.studyRef);
    if (header === null) return;
    const { rows } = await this.deps.pool.query<{ clinic_id: string }>('SELECT clinic_id FROM studies WHERE id = $1', [result.studyRef]);
    const clinicId = rows[0]?.clinic_id;
    if (clinicId === undefined) return;
    const scored = (result.images as ScoredImage[]).filter((i) => i.status === 'scored');
    const sr = buildTriageSr({ result, header, scored });
    const outcome = await this.deps.pipeline.ingest(sr.bytes, {
      clinicId,
      actor: { username: 'service:inference', role: null },
      sourceIp: null,
      via: 'SERVICE',
    });
    if (outcome.status === 'rejected') {
      // Storage or catalog unavailable: retry the job. Anything else is a bug in the SR, not in the study.
      if (outcome.retryable) throw new AppError('unavailable', `structured report not stored yet: ${outcome.message}`);
      this.deps.logger.error({ reason: outcome.reason, message: outcome.message }, 'structured report refused by the ingest pipeline');
      throw new AppError('internal', `structured report refused: ${outcome.reason}`, { retryable: false });
    }
    await setResultSr(this.deps.pool, result.id, sr.sopInstanceUid);
  }
}
