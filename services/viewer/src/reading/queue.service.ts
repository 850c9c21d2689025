import { inTransaction, type CatalogReader, type Pool } from '@yunying/catalog';
import type { AuditSink } from '@yunying/audit';
import { AppError } from '@yunying/core';
import { decodeQueueCursor, encodeQueueCursor } from './cursor';
import { auditRead, auditReading, userIdOf, type Caller } from './reading.audit';
import { OPEN_STATUSES, type QueueQuery, type ReadingStatus } from './reading.schemas';
import { QueueRepository, type QueueRow } from './queue.repository';
import { recordOpened } from './reading-time.repository';

export interface QueueItem {
  studyInstanceUid: string;
  clinic: { id: string; code: string };
  patientName: string | null;
  patientId: string | null;
  studyDate: string | null;
  studyDescription: string | null;
  modalities: string[];
  numberOfInstances: number;
  priority: QueueRow['priority'];
  status: ReadingStatus;
  triageStatus: string;
  receivedAt: string;
  waitingSeconds: number;
  claim: { mine: boolean; userId: string; username: string | null; expiresAt: string } | null;
  ai: { resultId: string; modelId: string | null; modelVersion: string | null; status: string | null; score: number | null; category: string | null } | null;
  thumbnailUrl: string | null;
}

export interface QueuePage {
  items: QueueItem[];
  nextCursor: string | null;
}

export interface ClaimResult {
  studyInstanceUid: string;
  status: 'in_reading';
  claimExpiresAt: string;
}

/** The reading queue: listing in triage order, and the claim/release protocol (issue #6). */
export class QueueService {
  private readonly repo = new QueueRepository();

  constructor(
    private readonly pool: Pool,
    /** Where the list's Query record goes (group-committed). */
    private readonly audit: AuditSink,
    /** How long a claim lasts unless renewed (by claiming again); abandoned studies come back after it. */
    readonly claimTtlSeconds: number,
    /**
     * Where the list is read: a streaming replica where there is one (ServiceContext.reads). A claim or a
     * release made a moment ago may show a second late there, which is harmless: claims and releases are
     * decided on the primary, in one UPDATE each, and refuse what the list showed stale.
     */
    private readonly reads: CatalogReader = pool,
  ) {}

  async list(caller: Caller, query: QueueQuery): Promise<QueuePage> {
    const me = userIdOf(caller);
    const statuses = query.status ?? [...OPEN_STATUSES];
    // One extra row tells whether there is a next page.
    const rows = await this.repo.page(this.reads, {
      principal: caller.principal,
      statuses,
      limit: query.limit + 1,
      ...(query.clinic !== undefined ? { clinic: query.clinic } : {}),
      ...(query.modality !== undefined ? { modality: query.modality } : {}),
      ...(query.from !== undefined ? { from: query.from } : {}),
      ...(query.to !== undefined ? { to: query.to } : {}),
      ...(query.cursor !== undefined ? { after: decodeQueueCursor(query.cursor) } : {}),
    });
    const pageRows = rows.slice(0, query.limit);
    const last = pageRows.at(-1);
    // On the primary (a replica is read-only), committed before the response is sent.
    await auditRead(this.audit, caller, {
      type: 'Query',
      details: { what: 'reading-queue', count: pageRows.length, studies: pageRows.map((r) => r.studyInstanceUid) },
    });
    return {
      items: pageRows.map((r) => toItem(r, me)),
      nextCursor: rows.length > query.limit && last ? encodeQueueCursor({ rank: last.priorityRank, receivedAt: last.receivedKey, id: last.id }) : null,
    };
  }

  async claim(caller: Caller, studyUid: string): Promise<ClaimResult> {
    const me = userIdOf(caller);
    return inTransaction(this.pool, async (client) => {
      const claimed = await this.repo.claim(client, studyUid, me, this.claimTtlSeconds, caller.principal);
      if (!claimed) {
        const state = await this.repo.state(client, studyUid, caller.principal);
        if (!state) throw new AppError('not_found', 'Study not found');
        if (state.readingStatus === 'reported') throw new AppError('conflict', 'The study is already reported; add an addendum to the report instead');
        throw new AppError('conflict', 'The study is being read by someone else', {
          details: { claimedBy: state.claimedByUsername, claimExpiresAt: state.claimExpiresAt?.toISOString() ?? null },
        });
      }
      // Opening a study for reading starts its reading time (the dashboard's open -> sign).
      await recordOpened(client, claimed.id, me, claimed.clinicId);
      await auditReading(client, caller, {
        type: 'DICOM Instances Accessed',
        action: 'U',
        studyInstanceUid: claimed.studyInstanceUid,
        clinicId: claimed.clinicId,
        details: { what: 'claim', ttlSeconds: this.claimTtlSeconds },
      });
      return { studyInstanceUid: claimed.studyInstanceUid, status: 'in_reading', claimExpiresAt: claimed.claimExpiresAt.toISOString() };
    });
  }

  async release(caller: Caller, studyUid: string): Promise<{ studyInstanceUid: string; status: ReadingStatus }> {
    const me = userIdOf(caller);
    return inTransaction(this.pool, async (client) => {
      const released = await this.repo.release(client, studyUid, me, caller.principal);
      if (!released) {
        const state = await this.repo.state(client, studyUid, caller.principal);
        if (!state) throw new AppError('not_found', 'Study not found');
        throw new AppError('conflict', 'Only the reader holding the claim can release it');
      }
      await auditReading(client, caller, {
        type: 'DICOM Instances Accessed',
        action: 'U',
        studyInstanceUid: studyUid,
        clinicId: released.clinicId,
        details: { what: 'release' },
      });
      return { studyInstanceUid: studyUid, status: released.readingStatus };
    });
  }
}

/** The API's shape of a queue row: the claim and the AI result nested, times as ISO text, the thumbnail as a URL. */
function toItem(r: QueueRow, me: string): QueueItem {
  return {
    studyInstanceUid: r.studyInstanceUid,
    clinic: { id: r.clinicId, code: r.clinicCode },
    patientName: r.patientName,
    patientId: r.patientId,
    studyDate: r.studyDate,
    studyDescription: r.studyDescription,
    modalities: r.modalities,
    numberOfInstances: r.numberOfInstances,
    priority: r.priority,
    status: r.status,
    triageStatus: r.triageStatus,
    receivedAt: r.receivedAt.toISOString(),
    waitingSeconds: r.waitingSeconds,
    claim:
      r.claimedBy && r.claimExpiresAt
        ? { mine: r.claimedBy === me, userId: r.claimedBy, username: r.claimedByUsername, expiresAt: r.claimExpiresAt.toISOString() }
        : null,
    ai: r.aiResultId
      ? { resultId: r.aiResultId, modelId: r.aiModelId, modelVersion: r.aiModelVersion, status: r.aiStatus, score: r.aiScore, category: r.aiCategory }
      : null,
    // Served by the DICOMweb router (rendered thumbnail of the series, PS3.18 10.4.1.1.5 style).
    thumbnailUrl: r.thumbnailSeriesUid ? `/dicomweb/studies/${r.studyInstanceUid}/series/${r.thumbnailSeriesUid}/thumbnail` : null,
  };
}
