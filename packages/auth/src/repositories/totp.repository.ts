import type { Queryable } from '../queryable';

/** A user's TOTP generator (migration 1713): the sealed secret, whether confirmed, the last accepted step. */
export interface TotpState {
  sealed: string;
  confirmed: boolean;
  lastStep: number;
}

export async function findTotp(db: Queryable, userId: string): Promise<TotpState | null> {
  const { rows } = await db.query<{ secret_sealed: string; confirmed: boolean; last_step: string }>(
    'SELECT secret_sealed, confirmed_at IS NOT NULL AS confirmed, last_step::text FROM user_totp WHERE user_id = $1',
    [userId],
  );
  const row = rows[0];
  return row ? { sealed: row.secret_sealed, confirmed: row.confirmed, lastStep: Number(row.last_step) } : null;
}

/** Stores a secret awaiting confirmation; a confirmed generator is left alone (returns false then). */
export async function storePendingTotp(db: Queryable, userId: string, sealed: string): Promise<boolean> {
  const stored = await db.query(
    `INSERT INTO user_totp (user_id, secret_sealed) VALUES ($1, $2)
     ON CONFLICT (user_id) DO UPDATE SET secret_sealed = excluded.secret_sealed, last_step = 0, created_at = now() WHERE user_totp.confirmed_at IS NULL`,
    [userId, sealed],
  );
  return (stored.rowCount ?? 0) > 0;
}

/**
 * Records `step` as used, only if it is later than the last one and the secret is still `sealed` (a conditional
 * update, so two requests with one code cannot both pass); confirms a pending secret. Whether it was recorded.
 */
export async function useTotpStep(db: Queryable, userId: string, step: number, sealed: string): Promise<boolean> {
  const used = await db.query('UPDATE user_totp SET last_step = $2, confirmed_at = coalesce(confirmed_at, now()) WHERE user_id = $1 AND last_step < $2 AND secret_sealed = $3', [
    userId,
    step,
    sealed,
  ]);
  return (used.rowCount ?? 0) > 0;
}

export async function findPendingTotpSecret(db: Queryable, userId: string): Promise<string | null> {
  const { rows } = await db.query<{ secret_sealed: string }>('SELECT secret_sealed FROM user_totp WHERE user_id = $1 AND confirmed_at IS NULL', [userId]);
  return rows[0]?.secret_sealed ?? null;
}

export async function confirmTotp(db: Queryable, userId: string, step: number): Promise<void> {
  await db.query('UPDATE user_totp SET confirmed_at = now(), last_step = $2 WHERE user_id = $1', [userId, step]);
}

export async function deleteTotp(db: Queryable, userId: string): Promise<boolean> {
  const deleted = await db.query('DELETE FROM user_totp WHERE user_id = $1', [userId]);
  return (deleted.rowCount ?? 0) > 0;
}
