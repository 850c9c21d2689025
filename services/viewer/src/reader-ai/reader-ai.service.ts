/**
 * Reader-guided scoring (as S-Detect and Koios do): a reader draws or adjusts a box around a nodule on
 * a frame and gets the model's ACR lexicon categories, points, TR level and suspicion score for that
 * nodule. The result is kept as a reader-initiated AI result, attributed and audited in the same
 * transaction, and never changes the study's automatic triage or its place in the queue.
 */
import type { AuditSink } from '@yunying/audit';
import { inTransaction, type Pool } from '@yunying/catalog';
import { AppError } from '@yunying/core';
import { decodeFrame, parseInstance, toGray8 } from '@yunying/dicom';
import { pixelSizeMm, type TriageModel } from '@yunying/nodule-model';
import { auditRead, auditReading, userIdOf, type Caller } from '../reading/reading.audit';
import type { ReaderAiRow } from './reader-ai.repository';
import { ReaderAiRepository } from './reader-ai.repository';

export interface ObjectReader {
  read(key: string, options?: { expectedSize?: number }): Promise<Uint8Array>;
}

export interface NoduleRequest {
  sopInstanceUid: string;
  frameNumber: number;
  box: { x: number; y: number; width: number; height: number };
}

/** Smaller than this (either side, in image pixels) is a click, not a nodule. */
const MIN_BOX = 8;

export class ReaderAiService {
  private readonly repo = new ReaderAiRepository();

  constructor(
    private readonly pool: Pool,
    private readonly store: ObjectReader,
    private readonly model: TriageModel,
    private readonly audit: AuditSink,
  ) {}

  async score(caller: Caller, studyUid: string, request: NoduleRequest): Promise<ReaderAiRow & { level: string }> {
    const requestedBy = userIdOf(caller);
    const found = await inTransaction(this.pool, (client) => this.repo.instance(client, studyUid, request.sopInstanceUid, caller.principal));
    if (!found) throw new AppError('not_found', 'Instance not found in this study');
    const bytes = await this.store.read(found.objectKey, { expectedSize: found.sizeBytes });
    const parsed = parseInstance(bytes);
    if (request.frameNumber > parsed.frames.length) throw new AppError('unprocessable', `frame ${request.frameNumber} does not exist (the image has ${parsed.frames.length})`);
    const gray = toGray8(await decodeFrame(bytes, parsed, request.frameNumber - 1));
    const x0 = Math.max(0, request.box.x);
    const y0 = Math.max(0, request.box.y);
    const x1 = Math.min(gray.width, request.box.x + request.box.width);
    const y1 = Math.min(gray.height, request.box.y + request.box.height);
    if (x1 - x0 < MIN_BOX || y1 - y0 < MIN_BOX) throw new AppError('unprocessable', `the box must overlap the image by at least ${MIN_BOX} x ${MIN_BOX} pixels`);
    const candidate = this.model.scoreBox(gray, { x0, y0, x1, y1 });
    const finding = this.model.finding(candidate, 1, 'reader', pixelSizeMm(parsed.dicomJson));
    const { manifest } = this.model;
    const row = await inTransaction(this.pool, async (client) => {
      const stored = await this.repo.insert(client, {
        studyRef: found.studyRef,
        sopInstanceUid: request.sopInstanceUid,
        frameNumber: request.frameNumber,
        requestedBy,
        model: { id: manifest.id, version: manifest.version, sha256: manifest.sha256 },
        box: { x: x0, y: y0, width: x1 - x0, height: y1 - y0 },
        finding,
      });
      await auditReading(client, caller, {
        type: 'DICOM Instances Accessed',
        action: 'C',
        studyInstanceUid: studyUid,
        clinicId: found.clinicId,
        details: { what: 'reader-ai-nodule', sopInstanceUid: request.sopInstanceUid, frame: request.frameNumber, resultId: stored.id },
      });
      return stored;
    });
    return { ...row, level: this.model.level(finding.score, 'box') };
  }

  async list(caller: Caller, studyUid: string): Promise<{ studyInstanceUid: string; results: ReaderAiRow[] }> {
    const { study, results } = await inTransaction(this.pool, async (client) => {
      const study = await this.repo.studyRef(client, studyUid, caller.principal);
      if (!study) throw new AppError('not_found', 'Study not found');
      return { study, results: await this.repo.list(client, study.id) };
    });
    await auditRead(this.audit, caller, { type: 'DICOM Instances Accessed', studyInstanceUid: studyUid, clinicId: study.clinicId, details: { what: 'reader-ai-results', count: results.length } });
    return { studyInstanceUid: studyUid, results };
  }
}
