import type { Pool } from '@yunying/catalog';

/** Wrong access codes allowed before the share locks, and for how long it then stays locked. */
export const CODE_FAILURE_LIMIT = 5;
export const CODE_LOCK_SECONDS = 15 * 60;

export interface ShareRow {
  id: string;
  studyRef: string;
  studyInstanceUid: string;
  clinicId: string;
  hasCode: boolean;
  codeSha256: Buffer | null;
  createdBy: string;
  createdAt: Date;
  expiresAt: Date;
  revokedAt: Date | null;
  codeLockedUntil: Date | null;
  viewCount: number;
  lastViewedAt: Date | null;
}

interface Row {
  id: string;
  study_ref: string;
  study_instance_uid: string;
  clinic_id: string;
  code_sha256: Buffer | null;
  created_by: string;
  created_at: Date;
  expires_at: Date;
  revoked_at: Date | null;
  code_locked_until: Date | null;
  view_count: number;
  last_viewed_at: Date | null;
}

const COLUMNS = `sh.id, sh.study_ref::text, s.study_instance_uid, sh.clinic_id, sh.code_sha256, sh.created_by, sh.created_at,
  sh.expires_at, sh.revoked_at, sh.code_locked_until, sh.view_count, sh.last_viewed_at`;

function toShare(r: Row): ShareRow {
  return {
    id: r.id,
    studyRef: r.study_ref,
    studyInstanceUid: r.study_instance_uid,
    clinicId: r.clinic_id,
    hasCode: r.code_sha256 !== null,
    codeSha256: r.code_sha256,
    createdBy: r.created_by,
    createdAt: r.created_at,
    expiresAt: r.expires_at,
    revokedAt: r.revoked_at,
    codeLockedUntil: r.code_locked_until,
    viewCount: r.view_count,
    lastViewedAt: r.last_viewed_at,
  };
}

export class ShareRepository {
  constructor(private readonly pool: Pool) {}

  /** The study's row id and clinic, within the caller's tenancy (the filter is built by the caller). */
  async studyInScope(studyUid: string, tenancySql: string, params: unknown[]): Promise<{ studyRef: string; clinicId: string } | null> {
    const { rows } = await this.pool.query<{ id: string; clinic_id: string }>(
      `SELECT s.id::text, s.clinic_id FROM studies s WHERE s.study_instance_uid = $${params.length + 1} AND ${tenancySql}`,
      [...params, studyUid],
    );
    const row = rows[0];
    return row === undefined ? null : { studyRef: row.id, clinicId: row.clinic_id };
  }

  async insert(share: { id: string; studyRef: string; clinicId: string; tokenSha256: Buffer; codeSha256: Buffer | null; createdBy: string; expiresAt: Date }): Promise<ShareRow> {
    await this.pool.query(
      `INSERT INTO study_shares (id, study_ref, clinic_id, token_sha256, code_sha256, created_by, expires_at) VALUES ($1, $2, $3, $4, $5, $6, $7)`,
      [share.id, share.studyRef, share.clinicId, share.tokenSha256, share.codeSha256, share.createdBy, share.expiresAt],
    );
    const found = await this.byId(share.id);
    if (found === null) throw new Error('share vanished after insert');
    return found;
  }

  async byId(id: string): Promise<ShareRow | null> {
    const { rows } = await this.pool.query<Row>(`SELECT ${COLUMNS} FROM study_shares sh JOIN studies s ON s.id = sh.study_ref WHERE sh.id = $1`, [id]);
    return rows[0] === undefined ? null : toShare(rows[0]);
  }

  async byTokenHash(hash: Buffer): Promise<ShareRow | null> {
    const { rows } = await this.pool.query<Row>(`SELECT ${COLUMNS} FROM study_shares sh JOIN studies s ON s.id = sh.study_ref WHERE sh.token_sha256 = $1`, [hash]);
    return rows[0] === undefined ? null : toShare(rows[0]);
  }

  async forStudy(studyRef: string): Promise<ShareRow[]> {
    const { rows } = await this.pool.query<Row>(
      `SELECT ${COLUMNS} FROM study_shares sh JOIN studies s ON s.id = sh.study_ref WHERE sh.study_ref = $1 ORDER BY sh.created_at DESC, sh.id`,
      [studyRef],
    );
    return rows.map(toShare);
  }

  /** Idempotent: a revoked share keeps its first revocation. False when the share is not of this study. */
  async revoke(id: string, studyRef: string, userId: string): Promise<boolean> {
    const { rowCount } = await this.pool.query(
      `UPDATE study_shares SET revoked_at = COALESCE(revoked_at, now()), revoked_by = COALESCE(revoked_by, $3) WHERE id = $1 AND study_ref = $2`,
      [id, studyRef, userId],
    );
    return (rowCount ?? 0) > 0;
  }

  /** One wrong code, in one statement so parallel guesses all count; the limit-th failure locks the share. */
  async recordCodeFailure(id: string): Promise<void> {
    await this.pool.query(
      `UPDATE study_shares SET
         code_failures = code_failures + 1,
         code_locked_until = CASE WHEN code_failures + 1 >= $2 THEN now() + make_interval(secs => $3) ELSE code_locked_until END
       WHERE id = $1`,
      [id, CODE_FAILURE_LIMIT, CODE_LOCK_SECONDS],
    );
  }

  /** A successful view: the failure count starts over (a lock that has run out is cleared with it). */
  async recordView(id: string): Promise<void> {
    await this.pool.query(
      `UPDATE study_shares SET view_count = view_count + 1, last_viewed_at = now(), code_failures = 0, code_locked_until = NULL WHERE id = $1`,
      [id],
    );
  }

  /** The latest signed version (report or addendum): what the share shows. */
  async latestSignedReport(studyRef: string): Promise<{ kind: string; version: number; signedAt: Date; tiradsCategory: string | null; findings: string; impression: string } | null> {
    const { rows } = await this.pool.query<{ kind: string; version: number; signed_at: Date; tirads_category: string | null; findings: string; impression: string }>(
      `SELECT kind, version, signed_at, tirads_category, findings, impression FROM reports
        WHERE study_ref = $1 AND status = 'signed' ORDER BY version DESC LIMIT 1`,
      [studyRef],
    );
    const r = rows[0];
    return r === undefined ? null : { kind: r.kind, version: r.version, signedAt: r.signed_at, tiradsCategory: r.tirads_category, findings: r.findings, impression: r.impression };
  }
}
