import { kyselyOn, type AiResultRow, type Pool, type PoolClient } from '@yunying/catalog';
import type { ClinicStudiesCursor } from './cursor';
import { EFFECTIVE_STATUS_SQL, RECEIVED_KEY_SQL } from './queue.repository';
import type { ReadingStatus, TiradsCategory } from './reading.schemas';
import type { TiradsSystem } from '@yunying/nodule-model/tirads-report';
import type { StoredNodule } from './tirads.findings';

type Db = Pool | PoolClient;

/** A version's content as stored: the request's fields with the server-scored nodules and overall category. */
export interface StoredContent {
  tiradsCategory: TiradsCategory | null;
  findings: string;
  impression: string;
  aiResultRef: string | null;
  aiSuggestionAccepted: boolean | null;
  nodules: StoredNodule[];
  /** The scoring system of the version (the clinic's when the version was created). */
  tiradsSystem: string;
}

export interface ReportRow {
  id: string;
  version: number;
  kind: 'report' | 'addendum';
  status: 'draft' | 'signed';
  tirads_category: TiradsCategory | null;
  findings: string;
  impression: string;
  ai_result_ref: string | null;
  ai_suggestion_accepted: boolean | null;
  /** Structured findings as written (tirads.findings.ts StoredNodule[]). */
  nodules: unknown;
  tirads_system: string;
  author_user_id: string;
  author_username: string | null;
  author_display_name: string | null;
  signed_at: Date | null;
  created_at: Date;
  updated_at: Date;
}

/** A stored triage result of the study and whether the study's queue order comes from it (studies.ai_result_ref). */
export type StudyAiResultRow = AiResultRow & { current: boolean };

export interface ClinicStudyRow {
  id: string;
  study_instance_uid: string;
  patient_name: string | null;
  patient_id: string | null;
  study_date: string | null;
  study_description: string | null;
  modalities: string[];
  number_of_instances: number;
  received_at: Date;
  received_key: string;
  status: ReadingStatus;
  signed_versions: number;
  last_signed_at: Date | null;
}

const REPORT_COLUMNS = `r.id::text, r.version, r.kind, r.status, r.tirads_category, r.findings, r.impression, r.ai_result_ref::text,
  r.ai_suggestion_accepted, r.nodules, r.tirads_system, r.author_user_id::text, u.username AS author_username, u.display_name AS author_display_name,
  r.signed_at, r.created_at, r.updated_at`;

/** Reports and AI results of a study. The signed-row immutability is the database's (migration 0300). */
export class ReportRepository {
  async versions(db: Db, studyRef: string, signedOnly: boolean): Promise<ReportRow[]> {
    const { rows } = await db.query<ReportRow>(
      `SELECT ${REPORT_COLUMNS} FROM reports r JOIN users u ON u.id = r.author_user_id
        WHERE r.study_ref = $1 ${signedOnly ? "AND r.status = 'signed'" : ''} ORDER BY r.version`,
      [studyRef],
    );
    return rows;
  }

  async byVersion(db: Db, studyRef: string, version: number): Promise<ReportRow | null> {
    const { rows } = await db.query<ReportRow>(
      `SELECT ${REPORT_COLUMNS} FROM reports r JOIN users u ON u.id = r.author_user_id WHERE r.study_ref = $1 AND r.version = $2`,
      [studyRef, version],
    );
    return rows[0] ?? null;
  }

  /** The scoring system a clinic has chosen for new reports. */
  async clinicSystem(db: Db, clinicId: string): Promise<TiradsSystem> {
    const { rows } = await db.query<{ tirads_system: TiradsSystem }>('SELECT tirads_system FROM clinics WHERE id = $1', [clinicId]);
    return rows[0]?.tirads_system ?? 'acr-2017';
  }

  async latestVersion(db: Db, studyRef: string): Promise<number> {
    const { rows } = await db.query<{ v: number | null }>('SELECT max(version) AS v FROM reports WHERE study_ref = $1', [studyRef]);
    return rows[0]?.v ?? 0;
  }

  async insert(db: Db, row: { studyRef: string; version: number; kind: 'report' | 'addendum'; authorUserId: string; content: StoredContent; signed: boolean }): Promise<void> {
    const c = row.content;
    await db.query(
      `INSERT INTO reports (study_ref, version, kind, author_user_id, tirads_category, findings, impression, ai_result_ref,
                            ai_suggestion_accepted, status, signed_at, nodules, tirads_system)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, CASE WHEN $11::boolean THEN now() END, $12::jsonb, $13)`,
      [row.studyRef, row.version, row.kind, row.authorUserId, c.tiradsCategory, c.findings, c.impression, c.aiResultRef, c.aiSuggestionAccepted, row.signed ? 'signed' : 'draft', row.signed, JSON.stringify(c.nodules), c.tiradsSystem],
    );
  }

  /** Replaces the content of the study's draft (never a signed row: the WHERE and the trigger both refuse). */
  async updateDraft(db: Db, studyRef: string, version: number, authorUserId: string, c: StoredContent): Promise<boolean> {
    const { rowCount } = await db.query(
      `UPDATE reports SET author_user_id = $3, tirads_category = $4, findings = $5, impression = $6, ai_result_ref = $7,
              ai_suggestion_accepted = $8, nodules = $9::jsonb, updated_at = now()
        WHERE study_ref = $1 AND version = $2 AND status = 'draft'`,
      [studyRef, version, authorUserId, c.tiradsCategory, c.findings, c.impression, c.aiResultRef, c.aiSuggestionAccepted, JSON.stringify(c.nodules)],
    );
    return rowCount === 1;
  }

  async sign(db: Db, studyRef: string, version: number, signerUserId: string): Promise<boolean> {
    const { rowCount } = await db.query(
      `UPDATE reports SET status = 'signed', signed_at = now(), updated_at = now(), author_user_id = $3
        WHERE study_ref = $1 AND version = $2 AND status = 'draft'`,
      [studyRef, version, signerUserId],
    );
    return rowCount === 1;
  }

  async markReported(db: Db, studyRef: string): Promise<void> {
    await db.query("UPDATE studies SET reading_status = 'reported', claimed_by = NULL, claim_expires_at = NULL WHERE id = $1", [studyRef]);
  }

  async aiResultBelongsTo(db: Db, aiResultId: string, studyRef: string): Promise<boolean> {
    const { rows } = await db.query('SELECT 1 FROM ai_results WHERE id = $1 AND study_ref = $2', [aiResultId, studyRef]);
    return rows.length === 1;
  }

  /** The per-image JSON of one AI result of the study (what an AI-marked report field is checked against). */
  async aiResultImages(db: Db, aiResultId: string, studyRef: string): Promise<unknown> {
    const { rows } = await db.query<{ images: unknown }>('SELECT images FROM ai_results WHERE id = $1 AND study_ref = $2', [aiResultId, studyRef]);
    return rows[0]?.images ?? null;
  }

  async aiResults(db: Db, studyRef: string): Promise<StudyAiResultRow[]> {
    const rows = await kyselyOn(db)
      .selectFrom('aiResults as a')
      .innerJoin('studies as s', 's.id', 'a.studyRef')
      .selectAll('a')
      .select((eb) => eb('a.id', '=', eb.ref('s.aiResultRef')).as('current'))
      .where('a.studyRef', '=', studyRef)
      .orderBy('a.createdAt', 'desc')
      .orderBy('a.id')
      .execute();
    // NULL (a study without a current result) is not current.
    return rows.map((r) => ({ ...r, current: r.current === true }));
  }

  /** A clinic's studies, newest first, with their reading status and signed report versions. */
  async clinicStudies(db: Db, f: { tenancySql: string; params: unknown[]; statuses?: readonly ReadingStatus[]; after?: ClinicStudiesCursor; limit: number }): Promise<ClinicStudyRow[]> {
    const params = [...f.params];
    const p = (value: unknown): string => {
      params.push(value);
      return `$${params.length}`;
    };
    const conditions = [f.tenancySql];
    if (f.statuses) conditions.push(`${EFFECTIVE_STATUS_SQL} = ANY(${p([...f.statuses])}::text[])`);
    if (f.after) conditions.push(`(s.received_at, s.id) < (${p(f.after.receivedAt)}::timestamptz, ${p(f.after.id)}::bigint)`);
    const { rows } = await db.query<ClinicStudyRow>(
      `SELECT s.id::text, s.study_instance_uid, s.patient_name, s.patient_id, s.study_date, s.study_description, s.modalities,
              s.number_of_instances, s.received_at, ${RECEIVED_KEY_SQL} AS received_key, ${EFFECTIVE_STATUS_SQL} AS status,
              coalesce(r.signed_versions, 0)::int AS signed_versions, r.last_signed_at
         FROM studies s
         LEFT JOIN LATERAL (
           SELECT count(*) AS signed_versions, max(signed_at) AS last_signed_at FROM reports WHERE study_ref = s.id AND status = 'signed'
         ) r ON true
        WHERE ${conditions.join(' AND ')}
        ORDER BY s.received_at DESC, s.id DESC
        LIMIT ${p(f.limit)}`,
      params,
    );
    return rows;
  }
}
