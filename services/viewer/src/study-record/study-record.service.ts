import { appendAuditEvent, listStudyRetention, type RetentionRisk } from '@yunying/audit';
import { auditActor } from '@yunying/auth';
import { inTransaction, type Pool, type PoolClient } from '@yunying/catalog';
import { AppError } from '@yunying/core';
import type { Caller } from '../reading/reading.audit';
import { StudyRecordRepository, type CopyJson } from './study-record.repository';

export interface CopyView {
  target: string;
  state: string;
  lockMode: string;
  retainUntil: Date;
  versionId: string | null;
  /** Written (and verified at write) at. */
  writtenAt: Date;
  lastVerifiedAt: Date | null;
  failureReason: string | null;
  repairAttempts: number;
  lastRepairedAt: Date | null;
  /** The copy's lock ends before the study's retain-until (a real risk, unless a lock extension is pending). */
  lockShort: boolean;
}

export interface VersionView {
  version: number;
  current: boolean;
  sha256: string;
  sizeBytes: number;
  receivedAt: Date;
  copies: CopyView[];
}

export interface InstanceView {
  sopInstanceUid: string;
  seriesInstanceUid: string;
  modality: string | null;
  sopClassUid: string;
  versions: VersionView[];
}

export interface HistoryEntry {
  seq: number;
  occurredAt: Date;
  type: string;
  outcome: number;
  actor: string;
  /** The keeper's event (copy.bad, copy.repaired, copy.lock-extended, ...) or what the record says it is. */
  event: string | null;
  target: string | null;
  sha256: string | null;
}

export interface SignedReportView {
  version: number;
  kind: string;
  signedAt: Date | null;
  signer: string | null;
  algorithm: string;
  srSopInstanceUid: string;
  srStored: boolean;
}

export interface StudyRecordView {
  studyInstanceUid: string;
  clinic: { code: string; name: string; retentionYears: number };
  receivedAt: Date;
  retainUntil: Date;
  legalHold: boolean;
  disposedAt: Date | null;
  risks: RetentionRisk[];
  copiesRequired: number;
  instances: InstanceView[];
  history: HistoryEntry[];
  reports: SignedReportView[];
}

/** Most keeper events shown per study: a study re-verified weekly for 15 years has far fewer problems than this. */
const HISTORY_LIMIT = 500;

/**
 * The auditor's view of one study as a record (#20): every instance version with each copy's target, state,
 * lock and verification, the keeper's history for it (bad copies, repairs, lock extensions), and the signed
 * report versions (verified one by one through the signature endpoint). No patient identifiers: UIDs,
 * digests, targets and times. Tenancy in SQL (auditors see every clinic by role); audited as a Query.
 */
export class StudyRecordService {
  private readonly repo = new StudyRecordRepository();

  constructor(
    private readonly pool: Pool,
    private readonly staleVerificationMs: number,
  ) {}

  async get(caller: Caller, studyUid: string): Promise<StudyRecordView> {
    const risks = await listStudyRetention(this.pool, caller.principal, { studyInstanceUid: studyUid, staleBefore: new Date(Date.now() - this.staleVerificationMs), limit: 1 });
    return inTransaction(this.pool, async (client) => {
      const study = await this.repo.study(client, studyUid, caller.principal);
      if (!study) throw new AppError('not_found', 'Study not found');
      const view: StudyRecordView = {
        studyInstanceUid: studyUid,
        clinic: { code: study.code, name: study.name, retentionYears: study.retentionYears },
        receivedAt: study.receivedAt,
        retainUntil: study.retainUntil,
        legalHold: study.legalHold,
        disposedAt: study.disposedAt,
        risks: risks.studies[0]?.risks ?? [],
        copiesRequired: risks.studies[0]?.copiesRequired ?? 3,
        instances: await this.instances(client, study.id, study.retainUntil),
        history: await this.history(client, studyUid),
        reports: await this.reports(client, study.id),
      };
      await appendAuditEvent(client, {
        type: 'Query',
        actor: auditActor(caller.principal),
        sourceIp: caller.sourceIp,
        studyInstanceUid: studyUid,
        clinicId: study.clinicId,
        details: { what: 'study-record', instances: view.instances.length, history: view.history.length, reports: view.reports.length },
      });
      return view;
    });
  }

  private async instances(client: PoolClient, studyId: string, retainUntil: Date): Promise<InstanceView[]> {
    const bySop = new Map<string, InstanceView>();
    for (const r of await this.repo.instanceVersions(client, studyId)) {
      const instance = bySop.get(r.sopInstanceUid) ?? { sopInstanceUid: r.sopInstanceUid, seriesInstanceUid: r.seriesInstanceUid, modality: r.modality, sopClassUid: r.sopClassUid, versions: [] };
      instance.versions.push({
        version: r.version,
        current: r.isCurrent,
        sha256: r.sha256,
        sizeBytes: Number(r.sizeBytes),
        receivedAt: r.receivedAt,
        copies: r.copies.map((c) => copyView(c, retainUntil)),
      });
      bySop.set(r.sopInstanceUid, instance);
    }
    return [...bySop.values()];
  }

  private async history(client: PoolClient, studyUid: string): Promise<HistoryEntry[]> {
    const rows = await this.repo.history(client, studyUid, HISTORY_LIMIT);
    return rows.map((r) => ({ seq: Number(r.seq), occurredAt: r.occurredAt, type: r.eventType, outcome: r.outcome, actor: r.actorUsername, event: r.event, target: r.target, sha256: r.sha256 }));
  }

  private async reports(client: PoolClient, studyId: string): Promise<SignedReportView[]> {
    const rows = await this.repo.signedReports(client, studyId);
    return rows.map((r) => ({ version: r.version, kind: r.kind, signedAt: r.signedAt, signer: r.signer, algorithm: r.algorithm, srSopInstanceUid: r.srSopInstanceUid, srStored: r.srStoredAt !== null }));
  }
}

/** The copy's JSON timestamps as dates, and whether its lock ends before the study's retain-until. */
function copyView(c: CopyJson, studyRetainUntil: Date): CopyView {
  const retainUntil = new Date(c.retainUntil);
  return {
    ...c,
    retainUntil,
    writtenAt: new Date(c.writtenAt),
    lastVerifiedAt: c.lastVerifiedAt === null ? null : new Date(c.lastVerifiedAt),
    lastRepairedAt: c.lastRepairedAt === null ? null : new Date(c.lastRepairedAt),
    lockShort: retainUntil.getTime() < studyRetainUntil.getTime(),
  };
}
