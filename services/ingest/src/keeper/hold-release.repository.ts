import type { Pool, PoolClient } from '@yunying/catalog';

/** A request to lift a study's legal hold, decided by another, independent person (migration 1711). */
export interface HoldRelease {
  id: string;
  studyInstanceUid: string;
  clinicId: string;
  requestedBy: string | null;
  requestedAt: Date;
  reason: string;
  status: 'requested' | 'approved' | 'rejected';
  decidedBy: string | null;
  decidedAt: Date | null;
}

interface Row {
  id: string;
  study_instance_uid: string;
  clinic_id: string;
  requested_by: string | null;
  requested_at: Date;
  reason: string;
  status: HoldRelease['status'];
  decided_by: string | null;
  decided_at: Date | null;
}

const SELECT = `SELECT r.id::text, s.study_instance_uid, s.clinic_id::text, r.requested_by::text, r.requested_at, r.reason, r.status,
                       r.decided_by::text, r.decided_at
                  FROM legal_hold_releases r JOIN studies s ON s.id = r.study_ref`;

function toRelease(row: Row): HoldRelease {
  return {
    id: row.id,
    studyInstanceUid: row.study_instance_uid,
    clinicId: row.clinic_id,
    requestedBy: row.requested_by,
    requestedAt: row.requested_at,
    reason: row.reason,
    status: row.status,
    decidedBy: row.decided_by,
    decidedAt: row.decided_at,
  };
}

export async function findHoldRelease(db: Pool | PoolClient, id: string, lock = false): Promise<HoldRelease | null> {
  const { rows } = await db.query<Row>(`${SELECT} WHERE r.id = $1 ${lock ? 'FOR UPDATE OF r' : ''}`, [id]);
  const row = rows[0];
  return row ? toRelease(row) : null;
}

export async function listHoldReleases(db: Pool | PoolClient, limit: number): Promise<HoldRelease[]> {
  const { rows } = await db.query<Row>(`${SELECT} ORDER BY r.id DESC LIMIT $1`, [limit]);
  return rows.map(toRelease);
}

/** Inserts an open request; null when one is already open for the study. */
export async function insertHoldRelease(db: PoolClient, studyRef: string, requestedBy: string | null, reason: string): Promise<string | null> {
  const { rows } = await db.query<{ id: string }>(
    `INSERT INTO legal_hold_releases (study_ref, requested_by, reason) VALUES ($1, $2, $3)
     ON CONFLICT (study_ref) WHERE status = 'requested' DO NOTHING RETURNING id::text`,
    [studyRef, requestedBy, reason],
  );
  return rows[0]?.id ?? null;
}

export async function closeHoldRelease(db: PoolClient, id: string, status: 'approved' | 'rejected', decidedBy: string): Promise<void> {
  await db.query('UPDATE legal_hold_releases SET status = $2, decided_by = $3, decided_at = now() WHERE id = $1', [id, status, decidedBy]);
}
