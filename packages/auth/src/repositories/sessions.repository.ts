import type { Queryable } from '../queryable';

/** Why a session ended (sessions.revoked_reason). */
export type SessionEnd = 'sign-out' | 'credentials-changed' | 'second-factor-reset' | 'password-changed' | 'revoked-by-user' | 'refresh-token-reuse';

export interface RefreshTokenLookup {
  id: string;
  sessionId: string;
  expiresAt: Date;
  usedAt: Date | null;
  userId: string;
  sessionRevokedAt: Date | null;
  sessionExpiresAt: Date;
}

export async function insertSession(db: Queryable, session: { userId: string; createdAt: Date; expiresAt: Date; sourceIp: string }): Promise<string | undefined> {
  const { rows } = await db.query<{ id: string }>('INSERT INTO sessions (user_id, created_at, expires_at, source_ip) VALUES ($1, $2, $3, $4) RETURNING id::text', [
    session.userId,
    session.createdAt,
    session.expiresAt,
    session.sourceIp,
  ]);
  return rows[0]?.id;
}

export async function insertRefreshToken(db: Queryable, token: { sessionId: string; tokenHash: string; issuedAt: Date; expiresAt: Date }): Promise<string | undefined> {
  const { rows } = await db.query<{ id: string }>(
    'INSERT INTO refresh_tokens (session_id, token_hash, issued_at, expires_at) VALUES ($1, $2, $3, $4) RETURNING id::text',
    [token.sessionId, token.tokenHash, token.issuedAt, token.expiresAt],
  );
  return rows[0]?.id;
}

/** The refresh token with this hash and its session, both locked for the rest of the transaction. */
export async function lockRefreshToken(db: Queryable, tokenHash: string): Promise<RefreshTokenLookup | null> {
  const { rows } = await db.query<{ id: string; session_id: string; expires_at: Date; used_at: Date | null; user_id: string; s_revoked: Date | null; s_expires: Date }>(
    `SELECT rt.id::text, rt.session_id::text, rt.expires_at, rt.used_at, s.user_id::text, s.revoked_at AS s_revoked, s.expires_at AS s_expires
       FROM refresh_tokens rt JOIN sessions s ON s.id = rt.session_id WHERE rt.token_hash = $1 FOR UPDATE OF rt, s`,
    [tokenHash],
  );
  const row = rows[0];
  return row
    ? { id: row.id, sessionId: row.session_id, expiresAt: row.expires_at, usedAt: row.used_at, userId: row.user_id, sessionRevokedAt: row.s_revoked, sessionExpiresAt: row.s_expires }
    : null;
}

export async function markRefreshTokenUsed(db: Queryable, id: string, usedAt: Date, replacedBy: string | undefined): Promise<void> {
  await db.query('UPDATE refresh_tokens SET used_at = $2, replaced_by = $3 WHERE id = $1', [id, usedAt, replacedBy]);
}

export async function revokeSession(db: Queryable, id: string, at: Date, reason: SessionEnd): Promise<void> {
  await db.query('UPDATE sessions SET revoked_at = $2, revoked_reason = $3 WHERE id = $1', [id, at, reason]);
}

/** Ends the user's open sessions, all or all but one; returns how many. */
export async function revokeSessionsOfUser(db: Queryable, userId: string, reason: SessionEnd, exceptSessionId?: string): Promise<number> {
  const { rowCount } =
    exceptSessionId === undefined
      ? await db.query('UPDATE sessions SET revoked_at = now(), revoked_reason = $2 WHERE user_id = $1 AND revoked_at IS NULL', [userId, reason])
      : await db.query('UPDATE sessions SET revoked_at = now(), revoked_reason = $2 WHERE user_id = $1 AND id <> $3 AND revoked_at IS NULL', [userId, reason, exceptSessionId]);
  return rowCount ?? 0;
}

/** Signs out the open session named by id or by one of its refresh tokens; returns it, or null when none was open. */
export async function signOutSession(db: Queryable, by: { sessionId: string | null; refreshTokenHash: string | null }, at: Date): Promise<{ id: string; userId: string } | null> {
  const { rows } = await db.query<{ id: string; user_id: string }>(
    `UPDATE sessions s SET revoked_at = $3, revoked_reason = 'sign-out'
      WHERE s.revoked_at IS NULL AND (s.id = $1::uuid OR s.id = (SELECT session_id FROM refresh_tokens WHERE token_hash = $2))
      RETURNING s.id::text, s.user_id::text`,
    [by.sessionId, by.refreshTokenHash, at],
  );
  const row = rows[0];
  return row ? { id: row.id, userId: row.user_id } : null;
}

export async function isSessionActive(db: Queryable, id: string, userId: string, now: Date): Promise<boolean> {
  const { rows } = await db.query<{ ok: boolean }>('SELECT (revoked_at IS NULL AND expires_at > $3) AS ok FROM sessions WHERE id = $1 AND user_id = $2', [id, userId, now]);
  return rows[0]?.ok === true;
}

export async function listOpenSessions(db: Queryable, userId: string, now: Date): Promise<{ id: string; createdAt: Date; expiresAt: Date; sourceIp: string | null }[]> {
  const { rows } = await db.query<{ id: string; created_at: Date; expires_at: Date; source_ip: string | null }>(
    'SELECT id::text, created_at, expires_at, source_ip FROM sessions WHERE user_id = $1 AND revoked_at IS NULL AND expires_at > $2 ORDER BY created_at DESC LIMIT 100',
    [userId, now],
  );
  return rows.map((r) => ({ id: r.id, createdAt: r.created_at, expiresAt: r.expires_at, sourceIp: r.source_ip }));
}

export async function revokeOwnSession(db: Queryable, id: string, userId: string): Promise<boolean> {
  const { rowCount } = await db.query("UPDATE sessions SET revoked_at = now(), revoked_reason = 'revoked-by-user' WHERE id = $1 AND user_id = $2 AND revoked_at IS NULL", [id, userId]);
  return (rowCount ?? 0) > 0;
}
