import { addClinicFilter, clinicCondition, type Principal } from '@yunying/auth';
import { kyselyOn, sql, type AiResultRow, type CatalogReader, type Pool, type PoolClient, type Selectable, type Tables } from '@yunying/catalog';
import type { QueueCursor } from './cursor';
import { READING_STATUSES, type ReadingStatus } from './reading.schemas';

type Db = Pool | PoolClient;

/**
 * The status a reader sees. A claim past its expiry is free again without any sweeper: wherever the
 * stored 'in_reading' has an expired claim, the study shows (and filters) as 'triaged' or 'new', and the
 * claim UPDATE treats it as unclaimed.
 */
export const EFFECTIVE_STATUS_SQL = `(CASE WHEN s.reading_status = 'in_reading' AND NOT (s.claim_expires_at > now())
  THEN (CASE WHEN s.triage_status = 'triaged' THEN 'triaged' ELSE 'new' END) ELSE s.reading_status END)`;

/** Microsecond UTC text of received_at, the exact key cursors carry. */
export const RECEIVED_KEY_SQL = `to_char(s.received_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"')`;

export interface QueueFilter {
  /** Whose queue: the clinics are limited to the principal's (addClinicFilter on the clinics table). */
  principal: Principal;
  clinic?: string;
  statuses: readonly ReadingStatus[];
  modality?: string;
  from?: string;
  to?: string;
  after?: QueueCursor;
  limit: number;
}

type StudyRow = Selectable<Tables.Studies>;

/**
 * One row of a queue page, as the page query names its columns (camelCase aliases, so no mapper): the study's
 * own columns from the generated table, the rest computed or joined.
 */
export type QueueRow = Pick<
  StudyRow,
  'id' | 'studyInstanceUid' | 'clinicId' | 'patientName' | 'patientId' | 'studyDate' | 'studyDescription' | 'modalities' | 'numberOfInstances' | 'triageStatus' | 'receivedAt'
> & {
  clinicCode: string;
  priority: 'urgent' | 'priority' | 'routine';
  /** Never null for a study in the queue (set with the priority). */
  priorityRank: number;
  /** The effective status (EFFECTIVE_STATUS_SQL). */
  status: ReadingStatus;
  /** received_at as the cursor carries it (RECEIVED_KEY_SQL). */
  receivedKey: string;
  waitingSeconds: number;
  /** The claim's holder, username and expiry: null once the claim has expired. */
  claimedBy: StudyRow['claimedBy'];
  claimedByUsername: string | null;
  claimExpiresAt: StudyRow['claimExpiresAt'];
  aiResultId: AiResultRow['id'] | null;
  aiModelId: AiResultRow['modelId'] | null;
  aiModelVersion: AiResultRow['modelVersion'] | null;
  aiStatus: AiResultRow['status'] | null;
  aiScore: AiResultRow['score'];
  aiCategory: AiResultRow['category'];
  thumbnailSeriesUid: string | null;
};

export interface ClaimedStudy {
  id: string;
  studyInstanceUid: string;
  clinicId: string;
  claimExpiresAt: Date;
}

export interface StudyState {
  id: string;
  clinicId: string;
  readingStatus: ReadingStatus;
  claimedBy: string | null;
  claimedByUsername: string | null;
  claimExpiresAt: Date | null;
  claimActive: boolean;
}

/** studies.reading_status as its CHECK holds it (migration 0300); anything else fails here. */
function readingStatus(studyRef: string, status: string): ReadingStatus {
  if (!(READING_STATUSES as readonly string[]).includes(status)) throw new Error(`study ${studyRef}: unknown reading status ${status}`);
  return status as ReadingStatus;
}

export class QueueRepository {
  /**
   * One page of the queue. The clinics are those the tenancy condition allows (in SQL, from the caller's
   * principal) narrowed by the `clinic` filter; the stored statuses scanned are the asked ones plus
   * 'in_reading' when an expired claim may show as 'new'/'triaged'. For each (clinic, stored status) an
   * ordered range scan of studies_reading_queue yields at most `limit` rows after the cursor; the merge of
   * those is the page. Cost grows with clinics x statuses x limit, not with the size of the archive.
   */
  async page(db: CatalogReader, f: QueueFilter): Promise<QueueRow[]> {
    const params: unknown[] = [];
    const tenancySql = addClinicFilter(f.principal, 'c.id', params);
    const p = (value: unknown): string => {
      params.push(value);
      return `$${params.length}`;
    };
    const stored = new Set<ReadingStatus>(f.statuses);
    if (f.statuses.includes('new') || f.statuses.includes('triaged')) stored.add('in_reading');
    // A stored status other than 'in_reading' is its own effective status, and it is scanned only because it was
    // asked for, so only the 'in_reading' range needs the row-level check (an expired claim shows as new/triaged).
    // Written as the bare CASE for every range, the planner guessed it kept 0.5 % of the rows, sorted each range
    // in full instead of reading its first `limit` rows in index order, and at 1 M studies the "US, status new"
    // page took 92 ms at p50 instead of a few (bench:scale, docs/benchmarks.md).
    const conditions: string[] = [`(pairs.status <> 'in_reading' OR ${EFFECTIVE_STATUS_SQL} = ANY(${p([...f.statuses])}::text[]))`];
    if (f.modality !== undefined) conditions.push(`${p(f.modality)}::text = ANY(s.modalities)`);
    if (f.from !== undefined) conditions.push(`s.study_date >= ${p(f.from)}`);
    if (f.to !== undefined) conditions.push(`s.study_date <= ${p(f.to)}`);
    if (f.after) conditions.push(`(s.priority_rank, s.received_at, s.id) > (${p(f.after.rank)}::smallint, ${p(f.after.receivedAt)}::timestamptz, ${p(f.after.id)}::bigint)`);
    const clinicNarrow = f.clinic === undefined ? '' : `AND (c.id::text = lower(${p(f.clinic)}) OR c.code = lower($${params.length}))`;
    const limit = p(f.limit);
    const sql = `
      WITH pairs AS (
        SELECT c.id AS clinic_id, st.status
          FROM clinics c CROSS JOIN unnest(${p([...stored])}::text[]) AS st(status)
         WHERE ${tenancySql} ${clinicNarrow}
      ), page AS (
        SELECT q.id, q.priority_rank, q.received_at
          FROM pairs CROSS JOIN LATERAL (
            SELECT s.id, s.priority_rank, s.received_at
              FROM studies s
             WHERE s.clinic_id = pairs.clinic_id AND s.reading_status = pairs.status AND s.disposed_at IS NULL AND ${conditions.join(' AND ')}
             ORDER BY s.priority_rank, s.received_at, s.id
             LIMIT ${limit}
          ) q
         ORDER BY q.priority_rank, q.received_at, q.id
         LIMIT ${limit}
      )
      SELECT s.id::text AS "id", s.study_instance_uid AS "studyInstanceUid", s.clinic_id::text AS "clinicId", c.code AS "clinicCode",
             s.patient_name AS "patientName", s.patient_id AS "patientId", s.study_date AS "studyDate", s.study_description AS "studyDescription",
             s.modalities AS "modalities", s.number_of_instances AS "numberOfInstances", s.priority AS "priority", s.priority_rank AS "priorityRank",
             s.triage_status AS "triageStatus", ${EFFECTIVE_STATUS_SQL} AS "status", s.received_at AS "receivedAt", ${RECEIVED_KEY_SQL} AS "receivedKey",
             floor(extract(epoch FROM now() - s.received_at))::int AS "waitingSeconds",
             CASE WHEN s.claim_expires_at > now() THEN s.claimed_by::text END AS "claimedBy",
             CASE WHEN s.claim_expires_at > now() THEN u.username END AS "claimedByUsername",
             CASE WHEN s.claim_expires_at > now() THEN s.claim_expires_at END AS "claimExpiresAt",
             a.id::text AS "aiResultId", a.model_id AS "aiModelId", a.model_version AS "aiModelVersion", a.status AS "aiStatus",
             a.score AS "aiScore", a.category AS "aiCategory", th.series_instance_uid AS "thumbnailSeriesUid"
        FROM page
        JOIN studies s ON s.id = page.id
        JOIN clinics c ON c.id = s.clinic_id
        LEFT JOIN users u ON u.id = s.claimed_by
        LEFT JOIN ai_results a ON a.id = s.ai_result_ref
        LEFT JOIN LATERAL (
          SELECT se.series_instance_uid FROM series se
           WHERE se.study_ref = s.id AND se.thumbnail_key IS NOT NULL
           ORDER BY se.series_number NULLS LAST, se.id LIMIT 1
        ) th ON true
       ORDER BY s.priority_rank, s.received_at, s.id`;
    const { rows } = await db.query<QueueRow>(sql, params);
    return rows;
  }

  /**
   * The claim, in one statement: it succeeds only if the study is visible to the caller, not reported, and
   * unclaimed, expired, or already the caller's (renewal). Two concurrent claims serialize on the row lock;
   * the second re-checks the WHERE against the first one's row and matches nothing.
   */
  async claim(db: Db, studyUid: string, userId: string, ttlSeconds: number, principal: Principal): Promise<ClaimedStudy | null> {
    const row = await kyselyOn(db)
      .updateTable('studies as s')
      .set({ claimedBy: userId, claimExpiresAt: sql<Date>`now() + make_interval(secs => ${ttlSeconds})`, readingStatus: 'in_reading' })
      .where('s.studyInstanceUid', '=', studyUid)
      .where(clinicCondition(principal, 's.clinic_id'))
      .where('s.readingStatus', '<>', 'reported')
      .where((eb) => eb.or([eb('s.claimedBy', 'is', null), eb('s.claimExpiresAt', '<=', sql<Date>`now()`), eb('s.claimedBy', '=', userId)]))
      .returning(['s.id', 's.studyInstanceUid', 's.clinicId', 's.claimExpiresAt'])
      .executeTakeFirst();
    if (row === undefined) return null;
    if (row.claimExpiresAt === null) throw new Error(`study ${row.id}: claimed without an expiry`);
    return { ...row, claimExpiresAt: row.claimExpiresAt };
  }

  /** Gives the study back: only its holder can (an expired claim of theirs too, if nobody took it since). */
  async release(db: Db, studyUid: string, userId: string, principal: Principal): Promise<{ id: string; clinicId: string; readingStatus: ReadingStatus } | null> {
    const row = await kyselyOn(db)
      .updateTable('studies as s')
      .set({ claimedBy: null, claimExpiresAt: null, readingStatus: sql<string>`CASE WHEN s.triage_status = 'triaged' THEN 'triaged' ELSE 'new' END` })
      .where('s.studyInstanceUid', '=', studyUid)
      .where(clinicCondition(principal, 's.clinic_id'))
      .where('s.readingStatus', '=', 'in_reading')
      .where('s.claimedBy', '=', userId)
      .returning(['s.id', 's.clinicId', 's.readingStatus'])
      .executeTakeFirst();
    return row === undefined ? null : { ...row, readingStatus: readingStatus(row.id, row.readingStatus) };
  }

  /** The study's reading state if the caller may see it (tenancy in SQL); null otherwise. */
  async state(db: Db, studyUid: string, principal: Principal, forUpdate = false): Promise<StudyState | null> {
    const query = kyselyOn(db)
      .selectFrom('studies as s')
      .leftJoin('users as u', 'u.id', 's.claimedBy')
      .select(['s.id', 's.clinicId', 's.readingStatus', 's.claimedBy', 'u.username as claimedByUsername', 's.claimExpiresAt'])
      .select(sql<boolean>`coalesce(s.claim_expires_at > now(), false)`.as('claimActive'))
      .where('s.studyInstanceUid', '=', studyUid)
      .where(clinicCondition(principal, 's.clinic_id'));
    const row = await (forUpdate ? query.forUpdate('s') : query).executeTakeFirst();
    return row === undefined ? null : { ...row, readingStatus: readingStatus(row.id, row.readingStatus) };
  }
}
