import { appendAuditEvent, listStudyRetention, type RetentionRisk } from '@yunying/audit';
import { addClinicFilter, auditActor } from '@yunying/auth';
import { inTransaction, type Pool, type PoolClient } from '@yunying/catalog';
import { AppError } from '@yunying/core';
import type { Caller } from '../reading/reading.audit';

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
  constructor(
    private readonly pool: Pool,
    private readonly staleVerificationMs: number,
  ) {}

  async get(caller: Caller, studyUid: string): Promise<StudyRecordView> {
    const risks = await listStudyRetention(this.pool, caller.principal, { studyInstanceUid: studyUid, staleBefore: new Date(Date.now() - this.staleVerificationMs), limit: 1 });
    return inTransaction(this.pool, async (client) => {
      const params: unknown[] = [studyUid];
      const tenancy = addClinicFilter(caller.principal, 's.clinic_id', params);
      const { rows } = await client.query<{ id: string; clinic_id: string; code: string; name: string; retention_years: number; received_at: Date; retain_until: Date; legal_hold: boolean; disposed_at: Date | null }>(
        `SELECT s.id::text, s.clinic_id::text, c.code, c.name, c.retention_years, s.received_at, s.retain_until, s.legal_hold, s.disposed_at
           FROM studies s JOIN clinics c ON c.id = s.clinic_id WHERE s.study_instance_uid = $1 AND ${tenancy}`,
        params,
      );
      const study = rows[0];
      if (!study) throw new AppError('not_found', 'Study not found');
      const view: StudyRecordView = {
        studyInstanceUid: studyUid,
        clinic: { code: study.code, name: study.name, retentionYears: study.retention_years },
        receivedAt: study.received_at,
        retainUntil: study.retain_until,
        legalHold: study.legal_hold,
        disposedAt: study.disposed_at,
        risks: risks.studies[0]?.risks ?? [],
        copiesRequired: risks.studies[0]?.copiesRequired ?? 3,
        instances: await this.instances(client, study.id, study.retain_until),
        history: await this.history(client, studyUid),
        reports: await this.reports(client, study.id),
      };
      await appendAuditEvent(client, {
        type: 'Query',
        actor: auditActor(caller.principal),
        sourceIp: caller.sourceIp,
        studyInstanceUid: studyUid,
        clinicId: study.clinic_id,
        details: { what: 'study-record', instances: view.instances.length, history: view.history.length, reports: view.reports.length },
      });
      return view;
    });
  }

  private async instances(client: PoolClient, studyId: string, retainUntil: Date): Promise<InstanceView[]> {
    const { rows } = await client.query<{
      sop_instance_uid: string;
      series_instance_uid: string;
      modality: string | null;
      sop_class_uid: string;
      version: number;
      is_current: boolean;
      sha256: string;
      size_bytes: string;
      received_at: Date;
      copies: {
        target: string;
        state: string;
        lock_mode: string;
        retain_until: string;
        version_id: string | null;
        created_at: string;
        last_verified_at: string | null;
        failure_reason: string | null;
        repair_attempts: number;
        last_repaired_at: string | null;
      }[];
    }>(
      `SELECT i.sop_instance_uid, se.series_instance_uid, se.modality, i.sop_class_uid, i.version, i.is_current, i.sha256, i.size_bytes, i.received_at,
              coalesce((SELECT json_agg(json_build_object('target', c.target, 'state', c.state, 'lock_mode', c.lock_mode, 'retain_until', c.retain_until,
                          'version_id', c.version_id, 'created_at', c.created_at, 'last_verified_at', c.last_verified_at, 'failure_reason', c.failure_reason,
                          'repair_attempts', c.repair_attempts, 'last_repaired_at', c.last_repaired_at) ORDER BY c.target)
                          FROM copies c WHERE c.sha256 = i.sha256), '[]') AS copies
         FROM instances i JOIN series se ON se.id = i.series_ref
        WHERE i.study_ref = $1
        ORDER BY se.series_number NULLS LAST, se.id, i.instance_number NULLS LAST, i.sop_instance_uid, i.version`,
      [studyId],
    );
    const bySop = new Map<string, InstanceView>();
    for (const r of rows) {
      const instance = bySop.get(r.sop_instance_uid) ?? { sopInstanceUid: r.sop_instance_uid, seriesInstanceUid: r.series_instance_uid, modality: r.modality, sopClassUid: r.sop_class_uid, versions: [] };
      instance.versions.push({
        version: r.version,
        current: r.is_current,
        sha256: r.sha256,
        sizeBytes: Number(r.size_bytes),
        receivedAt: r.received_at,
        copies: r.copies.map((c) => ({
          target: c.target,
          state: c.state,
          lockMode: c.lock_mode,
          retainUntil: new Date(c.retain_until),
          versionId: c.version_id,
          writtenAt: new Date(c.created_at),
          lastVerifiedAt: c.last_verified_at === null ? null : new Date(c.last_verified_at),
          failureReason: c.failure_reason,
          repairAttempts: c.repair_attempts,
          lastRepairedAt: c.last_repaired_at === null ? null : new Date(c.last_repaired_at),
          lockShort: new Date(c.retain_until).getTime() < retainUntil.getTime(),
        })),
      });
      bySop.set(r.sop_instance_uid, instance);
    }
    return [...bySop.values()];
  }

  private async history(client: PoolClient, studyUid: string): Promise<HistoryEntry[]> {
    const { rows } = await client.query<{ seq: string; occurred_at: Date; event_type: string; outcome: number; actor_username: string; event: string | null; target: string | null; sha256: string | null }>(
      `SELECT seq::text, occurred_at, event_type, outcome, actor_username, coalesce(details->>'event', details->>'what', details->>'outcome') AS event, details->>'target' AS target, details->>'sha256' AS sha256
         FROM audit_events
        WHERE study_instance_uid = $1
          AND (event_type IN ('DICOM Instances Transferred', 'DICOM Study Deleted') OR (event_type = 'Security Alert' AND details ? 'event'))
        ORDER BY seq DESC LIMIT ${HISTORY_LIMIT}`,
      [studyUid],
    );
    return rows.map((r) => ({ seq: Number(r.seq), occurredAt: r.occurred_at, type: r.event_type, outcome: r.outcome, actor: r.actor_username, event: r.event, target: r.target, sha256: r.sha256 }));
  }

  private async reports(client: PoolClient, studyId: string): Promise<SignedReportView[]> {
    const { rows } = await client.query<{ version: number; kind: string; signed_at: Date | null; signer: string | null; algorithm: string; sr_sop_instance_uid: string; sr_stored_at: Date | null }>(
      `SELECT r.version, r.kind, r.signed_at, u.username AS signer, rr.algorithm, rr.sr_sop_instance_uid, rr.sr_stored_at
         FROM reports r JOIN report_records rr ON rr.report_id = r.id LEFT JOIN users u ON u.id = r.author_user_id
        WHERE r.study_ref = $1 ORDER BY r.version`,
      [studyId],
    );
    return rows.map((r) => ({ version: r.version, kind: r.kind, signedAt: r.signed_at, signer: r.signer, algorithm: r.algorithm, srSopInstanceUid: r.sr_sop_instance_uid, srStored: r.sr_stored_at !== null }));
  }
}
