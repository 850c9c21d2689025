import type { Pool, PoolClient } from '@yunying/catalog';

export type DisposalStatus = 'requested' | 'approved' | 'rejected' | 'executed' | 'blocked';

export interface DisposalRequest {
  id: string;
  studyInstanceUid: string;
  clinicId: string;
  requestedBy: string | null;
  requestedAt: Date;
  reason: string;
  status: DisposalStatus;
  approvedBy: string | null;
  approvedAt: Date | null;
  decidedNote: string | null;
  executedAt: Date | null;
  result: unknown;
}

interface Row {
  id: string;
  study_instance_uid: string;
  clinic_id: string;
  requested_by: string | null;
  requested_at: Date;
  reason: string;
  status: DisposalStatus;
  approved_by: string | null;
  approved_at: Date | null;
  decided_note: string | null;
  executed_at: Date | null;
  result: unknown;
}

const SELECT = `SELECT d.id, s.study_instance_uid, s.clinic_id, d.requested_by, d.requested_at, d.reason, d.status, d.approved_by,
                       d.approved_at, d.decided_note, d.executed_at, d.result
                  FROM disposal_requests d JOIN studies s ON s.id = d.study_ref`;

function toRequest(row: Row): DisposalRequest {
  return {
    id: row.id,
    studyInstanceUid: row.study_instance_uid,
    clinicId: row.clinic_id,
    requestedBy: row.requested_by,
    requestedAt: row.requested_at,
    reason: row.reason,
    status: row.status,
    approvedBy: row.approved_by,
    approvedAt: row.approved_at,
    decidedNote: row.decided_note,
    executedAt: row.executed_at,
    result: row.result,
  };
}

export async function listDisposals(pool: Pool, limit: number): Promise<DisposalRequest[]> {
  const { rows } = await pool.query<Row>(`${SELECT} ORDER BY d.id DESC LIMIT $1`, [limit]);
  return rows.map(toRequest);
}

export async function findDisposal(db: Pool | PoolClient, id: string, lock = false): Promise<DisposalRequest | null> {
  const { rows } = await db.query<Row>(`${SELECT} WHERE d.id = $1 ${lock ? 'FOR UPDATE OF d' : ''}`, [id]);
  const row = rows[0];
  return row ? toRequest(row) : null;
}

export interface StudyRetentionState {
  studyRef: string;
  studyInstanceUid: string;
  clinicId: string;
  disposedAt: Date | null;
  legalHold: boolean;
  /** The latest retain-until of the study, its objects and every copy; null when it has none. */
  retainUntil: Date;
  objects: number;
}

/** Whether a study may be disposed of: the latest retain-until over the study, its objects and copies, and any hold. */
export async function studyRetentionState(db: Pool | PoolClient, studyInstanceUid: string, lock = false): Promise<StudyRetentionState | null> {
  const study = await db.query<{ id: string; clinic_id: string; disposed_at: Date | null; legal_hold: boolean; retain_until: Date }>(
    `SELECT id, clinic_id, disposed_at, legal_hold, retain_until FROM studies WHERE study_instance_uid = $1 ${lock ? 'FOR UPDATE' : ''}`,
    [studyInstanceUid],
  );
  const s = study.rows[0];
  if (!s) return null;
  const agg = await db.query<{ objects: string; hold: boolean | null; object_until: Date | null; copy_until: Date | null }>(
    `SELECT count(DISTINCT o.sha256) AS objects, bool_or(o.legal_hold) AS hold, max(o.retain_until) AS object_until, max(c.retain_until) AS copy_until
       FROM instances i JOIN objects o ON o.sha256 = i.sha256 LEFT JOIN copies c ON c.sha256 = o.sha256
      WHERE i.study_ref = $1`,
    [s.id],
  );
  const a = agg.rows[0];
  const dates = [s.retain_until, a?.object_until ?? null, a?.copy_until ?? null].filter((d): d is Date => d !== null);
  return {
    studyRef: s.id,
    studyInstanceUid,
    clinicId: s.clinic_id,
    disposedAt: s.disposed_at,
    legalHold: s.legal_hold || a?.hold === true,
    retainUntil: new Date(Math.max(...dates.map((d) => d.getTime()))),
    objects: Number(a?.objects ?? 0),
  };
}

export interface StudyCopy {
  sha256: string;
  key: string;
  target: string;
}

/** Every copy of every object of the study (all versions of all instances). */
export async function studyCopies(db: Pool | PoolClient, studyRef: string): Promise<StudyCopy[]> {
  const { rows } = await db.query<{ sha256: string; object_key: string; target: string }>(
    `SELECT DISTINCT c.sha256, c.object_key, c.target FROM instances i JOIN copies c ON c.sha256 = i.sha256 WHERE i.study_ref = $1 ORDER BY 1, 3`,
    [studyRef],
  );
  return rows.map((r) => ({ sha256: r.sha256, key: r.object_key, target: r.target }));
}

export async function studyObjectKeys(db: Pool | PoolClient, studyRef: string): Promise<{ sha256: string; key: string }[]> {
  const { rows } = await db.query<{ sha256: string; object_key: string }>(
    'SELECT DISTINCT o.sha256, o.object_key FROM instances i JOIN objects o ON o.sha256 = i.sha256 WHERE i.study_ref = $1 ORDER BY 1',
    [studyRef],
  );
  return rows.map((r) => ({ sha256: r.sha256, key: r.object_key }));
}

/**
 * The tombstone (see docs/keep-and-prove.md): the study row stays, marked disposed with the date and the
 * request, its patient attributes cleared; its instances, series, copies and objects rows are deleted.
 * The audit trail (audit_events, disposal_requests) is untouched.
 */
export async function writeTombstone(client: PoolClient, studyRef: string, requestId: string): Promise<{ instances: number; objects: number }> {
  const objects = await client.query<{ sha256: string }>('SELECT DISTINCT sha256 FROM instances WHERE study_ref = $1', [studyRef]);
  const shas = objects.rows.map((r) => r.sha256);
  const instances = await client.query('DELETE FROM instances WHERE study_ref = $1', [studyRef]);
  // An object is kept while anything outside this study still refers to it (identical bytes cannot belong
  // to two studies, but the check costs nothing).
  await client.query('DELETE FROM copies WHERE sha256 = ANY($1) AND NOT EXISTS (SELECT 1 FROM instances i WHERE i.sha256 = copies.sha256)', [shas]);
  const deleted = await client.query('DELETE FROM objects WHERE sha256 = ANY($1) AND NOT EXISTS (SELECT 1 FROM instances i WHERE i.sha256 = objects.sha256)', [shas]);
  await client.query('DELETE FROM series WHERE study_ref = $1', [studyRef]);
  await client.query(
    `UPDATE studies SET disposed_at = now(), disposal_request_ref = $2, patient_name = NULL, patient_id = NULL, patient_birth_date = NULL,
            patient_sex = NULL, accession_number = NULL, referring_physician_name = NULL, study_description = NULL,
            number_of_series = 0, number_of_instances = 0
      WHERE id = $1`,
    [studyRef, requestId],
  );
  return { instances: instances.rowCount ?? 0, objects: deleted.rowCount ?? 0 };
}
