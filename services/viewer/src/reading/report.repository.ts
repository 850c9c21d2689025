import { clinicCondition, type Principal } from '@yunying/auth';
import { kyselyOn, sql, type AiResultRow, type Pool, type PoolClient, type QueryRunner, type Tables } from '@yunying/catalog';
import type { ClinicStudiesCursor } from './cursor';
import { EFFECTIVE_STATUS_SQL, RECEIVED_KEY_SQL } from './queue.repository';
import { TIRADS_CATEGORIES, type ReadingStatus, type TiradsCategory } from './reading.schemas';
import { TIRADS_SYSTEMS, type TiradsSystem } from '@yunying/nodule-model/tirads-report';
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
  tiradsCategory: TiradsCategory | null;
  findings: string;
  impression: string;
  aiResultRef: string | null;
  aiSuggestionAccepted: boolean | null;
  /** Structured findings as written (tirads.findings.ts StoredNodule[]). */
  nodules: Tables.JsonValue;
  tiradsSystem: string;
  authorUserId: string;
  authorUsername: string;
  authorDisplayName: string;
  signedAt: Date | null;
  createdAt: Date;
  updatedAt: Date;
}

/** A version with the author's names, as every report read returns it. */
function reportRows(db: Db) {
  return kyselyOn(db)
    .selectFrom('reports as r')
    .innerJoin('users as u', 'u.id', 'r.authorUserId')
    .select([
      'r.id',
      'r.version',
      'r.kind',
      'r.status',
      'r.tiradsCategory',
      'r.findings',
      'r.impression',
      'r.aiResultRef',
      'r.aiSuggestionAccepted',
      'r.nodules',
      'r.tiradsSystem',
      'r.authorUserId',
      'u.username as authorUsername',
      'u.displayName as authorDisplayName',
      'r.signedAt',
      'r.createdAt',
      'r.updatedAt',
    ]);
}

/** The enums as the reports table's CHECK constraints hold them (migrations 0300, 2000); anything else fails here. */
function toReportRow(r: Omit<ReportRow, 'kind' | 'status' | 'tiradsCategory'> & { kind: string; status: string; tiradsCategory: string | null }): ReportRow {
  const { kind, status, tiradsCategory } = r;
  if (kind !== 'report' && kind !== 'addendum') throw new Error(`report ${r.id}: unknown kind ${kind}`);
  if (status !== 'draft' && status !== 'signed') throw new Error(`report ${r.id}: unknown status ${status}`);
  if (tiradsCategory !== null && !(TIRADS_CATEGORIES as readonly string[]).includes(tiradsCategory)) throw new Error(`report ${r.id}: unknown TI-RADS category ${tiradsCategory}`);
  return { ...r, kind, status, tiradsCategory: tiradsCategory as TiradsCategory | null };
}

/** A stored triage result of the study and whether the study's queue order comes from it (studies.ai_result_ref). */
export type StudyAiResultRow = AiResultRow & { current: boolean };

export interface ClinicStudyRow {
  id: string;
  studyInstanceUid: string;
  patientName: string | null;
  patientId: string | null;
  studyDate: string | null;
  studyDescription: string | null;
  modalities: string[];
  numberOfInstances: number;
  receivedAt: Date;
  /** received_at as the exact text a cursor carries (RECEIVED_KEY_SQL). */
  receivedKey: string;
  status: ReadingStatus;
  signedVersions: number;
  lastSignedAt: Date | null;
}

/** Reports and AI results of a study. The signed-row immutability is the database's (migration 0300). */
export class ReportRepository {
  async versions(db: Db, studyRef: string, signedOnly: boolean): Promise<ReportRow[]> {
    let query = reportRows(db).where('r.studyRef', '=', studyRef);
    if (signedOnly) query = query.where('r.status', '=', 'signed');
    return (await query.orderBy('r.version').execute()).map(toReportRow);
  }

  async byVersion(db: Db, studyRef: string, version: number): Promise<ReportRow | null> {
    const row = await reportRows(db).where('r.studyRef', '=', studyRef).where('r.version', '=', version).executeTakeFirst();
    return row === undefined ? null : toReportRow(row);
  }

  /** The scoring system a clinic has chosen for new reports. */
  async clinicSystem(db: Db, clinicId: string): Promise<TiradsSystem> {
    return (await this.chosenSystem(db, clinicId)) ?? 'acr-2017';
  }

  /** The clinic's chosen system; null when there is no such clinic. */
  async chosenSystem(db: Db, clinicId: string): Promise<TiradsSystem | null> {
    const row = await kyselyOn(db).selectFrom('clinics').select('tiradsSystem').where('id', '=', clinicId).executeTakeFirst();
    if (row === undefined) return null;
    // The column's CHECK allows exactly TIRADS_SYSTEMS (migration 2031).
    if (!(TIRADS_SYSTEMS as readonly string[]).includes(row.tiradsSystem)) throw new Error(`clinic ${clinicId}: unknown TI-RADS system ${row.tiradsSystem}`);
    return row.tiradsSystem as TiradsSystem;
  }

  /** Sets the clinic's system for new reports; false when there is no such clinic. */
  async chooseSystem(db: Db, clinicId: string, system: TiradsSystem): Promise<boolean> {
    const result = await kyselyOn(db).updateTable('clinics').set({ tiradsSystem: system }).where('id', '=', clinicId).executeTakeFirst();
    return result.numUpdatedRows === 1n;
  }

  async latestVersion(db: Db, studyRef: string): Promise<number> {
    const row = await kyselyOn(db)
      .selectFrom('reports')
      .select((eb) => eb.fn.max('version').as('v'))
      .where('studyRef', '=', studyRef)
      .executeTakeFirst();
    return row?.v ?? 0;
  }

  async insert(db: Db, row: { studyRef: string; version: number; kind: 'report' | 'addendum'; authorUserId: string; content: StoredContent; signed: boolean }): Promise<void> {
    const c = row.content;
    await kyselyOn(db)
      .insertInto('reports')
      .values({
        studyRef: row.studyRef,
        version: row.version,
        kind: row.kind,
        authorUserId: row.authorUserId,
        tiradsCategory: c.tiradsCategory,
        findings: c.findings,
        impression: c.impression,
        aiResultRef: c.aiResultRef,
        aiSuggestionAccepted: c.aiSuggestionAccepted,
        status: row.signed ? 'signed' : 'draft',
        signedAt: row.signed ? sql<Date>`now()` : null,
        nodules: JSON.stringify(c.nodules),
        tiradsSystem: c.tiradsSystem,
      })
      .execute();
  }

  /** Replaces the content of the study's draft (never a signed row: the WHERE and the trigger both refuse). */
  async updateDraft(db: Db, studyRef: string, version: number, authorUserId: string, c: StoredContent): Promise<boolean> {
    const result = await kyselyOn(db)
      .updateTable('reports')
      .set({
        authorUserId,
        tiradsCategory: c.tiradsCategory,
        findings: c.findings,
        impression: c.impression,
        aiResultRef: c.aiResultRef,
        aiSuggestionAccepted: c.aiSuggestionAccepted,
        nodules: JSON.stringify(c.nodules),
        updatedAt: sql<Date>`now()`,
      })
      .where('studyRef', '=', studyRef)
      .where('version', '=', version)
      .where('status', '=', 'draft')
      .executeTakeFirst();
    return result.numUpdatedRows === 1n;
  }

  async sign(db: Db, studyRef: string, version: number, signerUserId: string): Promise<boolean> {
    const result = await kyselyOn(db)
      .updateTable('reports')
      .set({ status: 'signed', signedAt: sql<Date>`now()`, updatedAt: sql<Date>`now()`, authorUserId: signerUserId })
      .where('studyRef', '=', studyRef)
      .where('version', '=', version)
      .where('status', '=', 'draft')
      .executeTakeFirst();
    return result.numUpdatedRows === 1n;
  }

  async markReported(db: Db, studyRef: string): Promise<void> {
    await kyselyOn(db).updateTable('studies').set({ readingStatus: 'reported', claimedBy: null, claimExpiresAt: null }).where('id', '=', studyRef).execute();
  }

  async aiResultBelongsTo(db: Db, aiResultId: string, studyRef: string): Promise<boolean> {
    return (await this.aiResultOfStudy(db, aiResultId, studyRef)) !== undefined;
  }

  /** The per-image JSON of one AI result of the study (what an AI-marked report field is checked against). */
  async aiResultImages(db: Db, aiResultId: string, studyRef: string): Promise<unknown> {
    return (await this.aiResultOfStudy(db, aiResultId, studyRef))?.images ?? null;
  }

  private async aiResultOfStudy(db: Db, aiResultId: string, studyRef: string) {
    return kyselyOn(db).selectFrom('aiResults').select('images').where('id', '=', aiResultId).where('studyRef', '=', studyRef).executeTakeFirst();
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

  /**
   * The caller's clinics' studies, newest first, with their reading status and signed report versions. The page
   * is chosen first, as the reading queue does it: for each of the caller's clinics an ordered range scan of
   * studies_clinic_received (migration 2070) yields at most `limit` rows after the cursor, and the merge of those is
   * the page; only its rows are then read whole and joined to their reports. Cost grows with clinics x limit, not
   * with a clinic's archive (a health-check centre keeps hundreds of thousands of studies for 15 years): without it
   * a clinic with 50,000 studies sorted all of them for every page (182 ms at 1 M studies, 20 clinics).
   */
  async clinicStudies(db: QueryRunner, f: { principal: Principal; statuses?: readonly ReadingStatus[]; after?: ClinicStudiesCursor; limit: number }): Promise<ClinicStudyRow[]> {
    const rangeConditions = [sql<boolean>`s.clinic_id = c.id`];
    if (f.statuses) rangeConditions.push(sql<boolean>`${sql.raw(EFFECTIVE_STATUS_SQL)} = ANY(${[...f.statuses]}::text[])`);
    if (f.after) rangeConditions.push(sql<boolean>`(s.received_at, s.id) < (${f.after.receivedAt}::timestamptz, ${f.after.id}::bigint)`);
    const page = sql<string>`(
      SELECT q.id FROM clinics c CROSS JOIN LATERAL (
        SELECT s.id, s.received_at FROM studies s
         WHERE ${sql.join(rangeConditions, sql` AND `)}
         ORDER BY s.received_at DESC, s.id DESC
         LIMIT ${f.limit}
      ) q
       WHERE ${clinicCondition(f.principal, 'c.id')}
       ORDER BY q.received_at DESC, q.id DESC
       LIMIT ${f.limit})`;
    return kyselyOn(db)
      .selectFrom('studies as s')
      .leftJoinLateral(
        (eb) =>
          eb
            .selectFrom('reports')
            .select([sql<string>`count(*)`.as('signedVersions'), sql<Date | null>`max(signed_at)`.as('lastSignedAt')])
            .where('studyRef', '=', sql<string>`s.id`)
            .where('status', '=', 'signed')
            .as('r'),
        (join) => join.onTrue(),
      )
      .select([
        's.id',
        's.studyInstanceUid',
        's.patientName',
        's.patientId',
        's.studyDate',
        's.studyDescription',
        's.modalities',
        's.numberOfInstances',
        's.receivedAt',
        sql<string>`${sql.raw(RECEIVED_KEY_SQL)}`.as('receivedKey'),
        sql<ReadingStatus>`${sql.raw(EFFECTIVE_STATUS_SQL)}`.as('status'),
        sql<number>`coalesce(r.signed_versions, 0)::int`.as('signedVersions'),
        'r.lastSignedAt',
      ])
      .where(sql<boolean>`s.id IN ${page}`)
      // Tenancy again on the rows themselves: the page's clinics already are the caller's.
      .where(clinicCondition(f.principal, 's.clinic_id'))
      .orderBy('s.receivedAt', 'desc')
      .orderBy('s.id', 'desc')
      .limit(f.limit)
      .execute();
  }
}
