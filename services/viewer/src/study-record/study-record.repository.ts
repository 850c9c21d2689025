import { clinicCondition, type Principal } from '@yunying/auth';
import { kyselyOn, sql, type PoolClient, type Selectable, type Tables } from '@yunying/catalog';

/** The study as a record: its clinic, retention and state. */
export interface RecordStudyRow {
  id: string;
  clinicId: string;
  code: string;
  name: string;
  retentionYears: number;
  receivedAt: Date;
  retainUntil: Date;
  legalHold: boolean;
  disposedAt: Date | null;
}

type CopyRow = Selectable<Tables.Copies>;

/** A row's columns as JSON carries them: timestamps become text. */
type AsJson<T> = { [K in keyof T]: T[K] extends Date ? string : T[K] extends Date | null ? string | null : T[K] };

/**
 * One copy of an instance version, as json_build_object writes it: the generated copies columns under their
 * camelCase names (created_at as writtenAt, what the record calls it), timestamps as JSON text.
 */
export type CopyJson = AsJson<
  Pick<CopyRow, 'target' | 'state' | 'lockMode' | 'retainUntil' | 'versionId' | 'lastVerifiedAt' | 'failureReason' | 'repairAttempts' | 'lastRepairedAt'> & { writtenAt: CopyRow['createdAt'] }
>;

/** SQL of the auditor's study record (#20): the study, its instance versions with their copies, the keeper's history and the signed reports. */
export class StudyRecordRepository {
  /** The study within the caller's clinics, or null. */
  async study(db: PoolClient, studyUid: string, principal: Principal): Promise<RecordStudyRow | null> {
    const row = await kyselyOn(db)
      .selectFrom('studies as s')
      .innerJoin('clinics as c', 'c.id', 's.clinicId')
      .select(['s.id', 's.clinicId', 'c.code', 'c.name', 'c.retentionYears', 's.receivedAt', 's.retainUntil', 's.legalHold', 's.disposedAt'])
      .where('s.studyInstanceUid', '=', studyUid)
      .where(clinicCondition(principal, 's.clinic_id'))
      .executeTakeFirst();
    return row ?? null;
  }

  /** Every version of every instance of the study in series and instance order, each with its copies by target. */
  async instanceVersions(db: PoolClient, studyId: string) {
    return kyselyOn(db)
      .selectFrom('instances as i')
      .innerJoin('series as se', 'se.id', 'i.seriesRef')
      .select(['i.sopInstanceUid', 'se.seriesInstanceUid', 'se.modality', 'i.sopClassUid', 'i.version', 'i.isCurrent', 'i.sha256', 'i.sizeBytes', 'i.receivedAt'])
      .select(
        sql<CopyJson[]>`coalesce((SELECT json_agg(json_build_object('target', c.target, 'state', c.state, 'lockMode', c.lock_mode, 'retainUntil', c.retain_until,
          'versionId', c.version_id, 'writtenAt', c.created_at, 'lastVerifiedAt', c.last_verified_at, 'failureReason', c.failure_reason,
          'repairAttempts', c.repair_attempts, 'lastRepairedAt', c.last_repaired_at) ORDER BY c.target)
          FROM copies c WHERE c.sha256 = i.sha256), '[]')`.as('copies'),
      )
      .where('i.studyRef', '=', studyId)
      .orderBy(sql`se.series_number NULLS LAST`)
      .orderBy('se.id')
      .orderBy(sql`i.instance_number NULLS LAST`)
      .orderBy('i.sopInstanceUid')
      .orderBy('i.version')
      .execute();
  }

  /** The keeper's and the write path's events for the study, newest first, at most `limit`. */
  async history(db: PoolClient, studyUid: string, limit: number) {
    return kyselyOn(db)
      .selectFrom('auditEvents')
      .select(['seq', 'occurredAt', 'eventType', 'outcome', 'actorUsername'])
      .select([
        sql<string | null>`coalesce(details->>'event', details->>'what', details->>'outcome')`.as('event'),
        sql<string | null>`details->>'target'`.as('target'),
        sql<string | null>`details->>'sha256'`.as('sha256'),
      ])
      .where('studyInstanceUid', '=', studyUid)
      .where(sql<boolean>`(event_type IN ('DICOM Instances Transferred', 'DICOM Study Deleted') OR (event_type = 'Security Alert' AND details ? 'event'))`)
      .orderBy('seq', 'desc')
      .limit(limit)
      .execute();
  }

  /** The study's report versions that have a signature record, by version, with the signer's username. */
  async signedReports(db: PoolClient, studyId: string) {
    return kyselyOn(db)
      .selectFrom('reports as r')
      .innerJoin('reportRecords as rr', 'rr.reportId', 'r.id')
      .leftJoin('users as u', 'u.id', 'r.authorUserId')
      .select(['r.version', 'r.kind', 'r.signedAt', 'u.username as signer', 'rr.algorithm', 'rr.srSopInstanceUid', 'rr.srStoredAt'])
      .where('r.studyRef', '=', studyId)
      .orderBy('r.version')
      .execute();
  }
}
