import { sql, type Selectable } from 'kysely';
import { kyselyOn, type Tables } from '@yunying/catalog';
import type { Queryable } from '../queryable';

/** Why a session ended (sessions.revoked_reason). */
export type SessionEnd = 'sign-out' | 'credentials-changed' | 'second-factor-reset' | 'password-changed' | 'revoked-by-user' | 'refresh-token-reuse' | 'ended-by-admin' | 'dormant';

export type RefreshTokenLookup = Pick<Selectable<Tables.RefreshTokens>, 'id' | 'sessionId' | 'expiresAt' | 'usedAt'> & {
  userId: string;
  sessionRevokedAt: Date | null;
  sessionExpiresAt: Date;
};

export type OpenSession = Pick<Selectable<Tables.Sessions>, 'id' | 'createdAt' | 'expiresAt' | 'sourceIp' | 'userAgent'>;

export async function insertSession(
  db: Queryable,
  session: { userId: string; createdAt: Date; expiresAt: Date; sourceIp: string; userAgent: string | null },
): Promise<string | undefined> {
  const row = await kyselyOn(db).insertInto('sessions').values(session).returning('id').executeTakeFirst();
  return row?.id;
}

export async function insertRefreshToken(db: Queryable, token: { sessionId: string; tokenHash: string; issuedAt: Date; expiresAt: Date }): Promise<string | undefined> {
  const row = await kyselyOn(db).insertInto('refreshTokens').values(token).returning('id').executeTakeFirst();
  return row?.id;
}

/** The refresh token with this hash and its session, both locked for the rest of the transaction. */
export async function lockRefreshToken(db: Queryable, tokenHash: string): Promise<RefreshTokenLookup | null> {
  const row = await kyselyOn(db)
    .selectFrom('refreshTokens')
    .innerJoin('sessions', 'sessions.id', 'refreshTokens.sessionId')
    .select([
      'refreshTokens.id',
      'refreshTokens.sessionId',
      'refreshTokens.expiresAt',
      'refreshTokens.usedAt',
      'sessions.userId',
      'sessions.revokedAt as sessionRevokedAt',
      'sessions.expiresAt as sessionExpiresAt',
    ])
    .where('refreshTokens.tokenHash', '=', tokenHash)
    .forUpdate(['refreshTokens', 'sessions'])
    .executeTakeFirst();
  return row ?? null;
}

export async function markRefreshTokenUsed(db: Queryable, id: string, usedAt: Date, replacedBy: string | undefined): Promise<void> {
  await kyselyOn(db)
    .updateTable('refreshTokens')
    .set({ usedAt, replacedBy: replacedBy ?? null })
    .where('id', '=', id)
    .execute();
}

export async function revokeSession(db: Queryable, id: string, at: Date, reason: SessionEnd): Promise<void> {
  await kyselyOn(db).updateTable('sessions').set({ revokedAt: at, revokedReason: reason }).where('id', '=', id).execute();
}

/** Ends the user's open sessions, all or all but one; returns how many. */
export async function revokeSessionsOfUser(db: Queryable, userId: string, reason: SessionEnd, exceptSessionId?: string): Promise<number> {
  let update = kyselyOn(db)
    .updateTable('sessions')
    .set({ revokedAt: sql<Date>`now()`, revokedReason: reason })
    .where('userId', '=', userId)
    .where('revokedAt', 'is', null);
  if (exceptSessionId !== undefined) update = update.where('id', '<>', exceptSessionId);
  const result = await update.executeTakeFirst();
  return Number(result.numUpdatedRows);
}

/** Signs out the open session named by id or by one of its refresh tokens; returns it, or null when none was open. */
export async function signOutSession(db: Queryable, by: { sessionId: string | null; refreshTokenHash: string | null }, at: Date): Promise<{ id: string; userId: string } | null> {
  const { sessionId, refreshTokenHash } = by;
  if (sessionId === null && refreshTokenHash === null) return null;
  const row = await kyselyOn(db)
    .updateTable('sessions')
    .set({ revokedAt: at, revokedReason: 'sign-out' })
    .where('revokedAt', 'is', null)
    .where((eb) =>
      eb.or([
        ...(sessionId !== null ? [eb('id', '=', sessionId)] : []),
        ...(refreshTokenHash !== null ? [eb('id', '=', eb.selectFrom('refreshTokens').select('refreshTokens.sessionId').where('refreshTokens.tokenHash', '=', refreshTokenHash))] : []),
      ]),
    )
    .returning(['id', 'userId'])
    .executeTakeFirst();
  return row ?? null;
}

export async function isSessionActive(db: Queryable, id: string, userId: string, now: Date): Promise<boolean> {
  const row = await kyselyOn(db).selectFrom('sessions').select(['revokedAt', 'expiresAt']).where('id', '=', id).where('userId', '=', userId).executeTakeFirst();
  return row !== undefined && row.revokedAt === null && row.expiresAt > now;
}

export async function listOpenSessions(db: Queryable, userId: string, now: Date): Promise<OpenSession[]> {
  return kyselyOn(db)
    .selectFrom('sessions')
    .select(['id', 'createdAt', 'expiresAt', 'sourceIp', 'userAgent'])
    .where('userId', '=', userId)
    .where('revokedAt', 'is', null)
    .where('expiresAt', '>', now)
    .orderBy('createdAt', 'desc')
    .limit(100)
    .execute();
}

export async function revokeOwnSession(db: Queryable, id: string, userId: string): Promise<boolean> {
  const result = await kyselyOn(db)
    .updateTable('sessions')
    .set({ revokedAt: sql<Date>`now()`, revokedReason: 'revoked-by-user' })
    .where('id', '=', id)
    .where('userId', '=', userId)
    .where('revokedAt', 'is', null)
    .executeTakeFirst();
  return result.numUpdatedRows > 0n;
}

/** Per user: when the newest session started (its last sign-in) and how many sessions are open at `now`. */
export async function signInActivity(db: Queryable, now: Date): Promise<Map<string, { lastSignInAt: Date | null; openSessions: number }>> {
  const rows = await kyselyOn(db)
    .selectFrom('users')
    .select((eb) => [
      'users.id',
      eb.selectFrom('sessions').select('sessions.createdAt').whereRef('sessions.userId', '=', 'users.id').orderBy('sessions.createdAt', 'desc').limit(1).as('lastSignInAt'),
      eb
        .selectFrom('sessions')
        .select(sql<string>`count(*)`.as('n'))
        .whereRef('sessions.userId', '=', 'users.id')
        .where('sessions.revokedAt', 'is', null)
        .where('sessions.expiresAt', '>', now)
        .as('openSessions'),
    ])
    .execute();
  return new Map(rows.map((r) => [r.id, { lastSignInAt: r.lastSignInAt ?? null, openSessions: Number(r.openSessions ?? 0) }]));
}
