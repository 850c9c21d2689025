import { sql, type ExpressionBuilder, type Selectable } from 'kysely';
import { kyselyOn, type Tables } from '@yunying/catalog';
import { isRole, type Role } from '../principal';
import type { Queryable } from '../queryable';
import type { UserView } from '../auth.types';

const USER_COLUMNS = ['users.id', 'users.username', 'users.displayName', 'users.role', 'users.clinicId', 'users.disabled', 'users.tokenVersion', 'users.createdAt', 'users.enabledAt'] as const;

/** A user as the services see it (the columns above and the clinics granted), with the version access tokens must carry. */
export type UserRecord = Pick<Selectable<Tables.Users>, 'id' | 'username' | 'displayName' | 'clinicId' | 'disabled' | 'tokenVersion' | 'createdAt' | 'enabledAt'> & {
  role: Role;
  grants: string[];
};

export type UserWithPassword = UserRecord & Pick<Selectable<Tables.Users>, 'passwordHash'>;

/** The clinics a radiologist is granted, in one array column beside the user. */
function grants(eb: ExpressionBuilder<Tables.DB, 'users'>) {
  const granted = eb.selectFrom('radiologistGrants').select('radiologistGrants.clinicId').whereRef('radiologistGrants.userId', '=', 'users.id').orderBy('radiologistGrants.clinicId');
  return sql<string[]>`ARRAY(${granted})`.as('grants');
}

/** users.role is text with a check constraint; this narrows it to the Role union. */
function withRole<T extends { role: string }>(row: T): Omit<T, 'role'> & { role: Role } {
  if (!isRole(row.role)) throw new Error('users.role outside the schema check');
  return { ...row, role: row.role };
}

export function userView(record: UserRecord): UserView {
  return {
    id: record.id,
    username: record.username,
    displayName: record.displayName,
    role: record.role,
    clinicId: record.clinicId,
    disabled: record.disabled,
    grants: record.grants,
    createdAt: record.createdAt,
  };
}

function selectUsers(db: Queryable) {
  return kyselyOn(db)
    .selectFrom('users')
    .select((eb) => [...USER_COLUMNS, grants(eb)]);
}

export async function findUserById(db: Queryable, id: string): Promise<UserRecord | null> {
  const row = await selectUsers(db).where('users.id', '=', id).executeTakeFirst();
  return row ? withRole(row) : null;
}

export async function findUserByUsername(db: Queryable, username: string): Promise<UserRecord | null> {
  const row = await selectUsers(db).where('users.username', '=', username).executeTakeFirst();
  return row ? withRole(row) : null;
}

export async function findUserWithPassword(db: Queryable, by: { id: string } | { username: string }): Promise<UserWithPassword | null> {
  const query = selectUsers(db).select('users.passwordHash');
  const row = await ('id' in by ? query.where('users.id', '=', by.id) : query.where('users.username', '=', by.username)).executeTakeFirst();
  return row ? withRole(row) : null;
}

export async function listUsers(db: Queryable): Promise<UserRecord[]> {
  const rows = await selectUsers(db).orderBy('users.username').execute();
  return rows.map(withRole);
}

export async function insertUser(
  db: Queryable,
  user: { username: string; displayName: string; role: Role; clinicId: string | null; passwordHash: string },
): Promise<string | undefined> {
  const row = await kyselyOn(db).insertInto('users').values(user).returning('id').executeTakeFirst();
  return row?.id;
}

/**
 * Fields left undefined (or a null password) keep their value; `bumpTokenVersion` ends every access token of the
 * user; `enabledAt` records that a disabled account was turned back on (dormancy counts from there).
 */
export async function updateUser(
  db: Queryable,
  id: string,
  change: { displayName?: string; passwordHash?: string | null; disabled?: boolean; enabledAt?: Date; bumpTokenVersion: boolean },
): Promise<void> {
  await kyselyOn(db)
    .updateTable('users')
    .set((eb) => ({
      ...(change.displayName !== undefined ? { displayName: change.displayName } : {}),
      ...(change.passwordHash !== undefined && change.passwordHash !== null ? { passwordHash: change.passwordHash } : {}),
      ...(change.disabled !== undefined ? { disabled: change.disabled } : {}),
      ...(change.enabledAt !== undefined ? { enabledAt: change.enabledAt } : {}),
      tokenVersion: eb('tokenVersion', '+', change.bumpTokenVersion ? 1 : 0),
      updatedAt: sql<Date>`now()`,
    }))
    .where('id', '=', id)
    .execute();
}

/**
 * Disables the account if it is still dormant at `cutoff`: enabled, created and (re-)enabled before it, and no
 * session started since. Checked in the statement itself, so a sign-in between the keeper's listing and this
 * update keeps the account. Bumps the token version (access tokens stop at once); true when it was disabled.
 */
export async function disableIfDormant(db: Queryable, id: string, cutoff: Date): Promise<boolean> {
  const row = await kyselyOn(db)
    .updateTable('users')
    .set((eb) => ({ disabled: true, tokenVersion: eb('tokenVersion', '+', 1), updatedAt: sql<Date>`now()` }))
    .where('id', '=', id)
    .where('disabled', '=', false)
    .where('createdAt', '<', cutoff)
    .where((eb) => eb.or([eb('enabledAt', 'is', null), eb('enabledAt', '<', cutoff)]))
    .where((eb) => eb.not(eb.exists(eb.selectFrom('sessions').select('sessions.id').whereRef('sessions.userId', '=', 'users.id').where('sessions.createdAt', '>=', cutoff))))
    .returning('id')
    .executeTakeFirst();
  return row !== undefined;
}

/** Sets a new password and bumps the token version; returns the new version. */
export async function replacePassword(db: Queryable, id: string, passwordHash: string): Promise<number | undefined> {
  const row = await kyselyOn(db)
    .updateTable('users')
    .set((eb) => ({ passwordHash, tokenVersion: eb('tokenVersion', '+', 1), updatedAt: sql<Date>`now()` }))
    .where('id', '=', id)
    .returning('tokenVersion')
    .executeTakeFirst();
  return row?.tokenVersion;
}

export async function bumpTokenVersion(db: Queryable, id: string): Promise<void> {
  await kyselyOn(db)
    .updateTable('users')
    .set((eb) => ({ tokenVersion: eb('tokenVersion', '+', 1), updatedAt: sql<Date>`now()` }))
    .where('id', '=', id)
    .execute();
}

/** The user of a session with the session's state, in one indexed query (every request with an access token runs it). */
export async function findUserOfSession(db: Queryable, sessionId: string, userId: string): Promise<(UserRecord & { sessionRevokedAt: Date | null; sessionExpiresAt: Date }) | null> {
  const row = await kyselyOn(db)
    .selectFrom('sessions')
    .innerJoin('users', 'users.id', 'sessions.userId')
    .select((eb) => [...USER_COLUMNS, grants(eb), 'sessions.revokedAt as sessionRevokedAt', 'sessions.expiresAt as sessionExpiresAt'])
    .where('sessions.id', '=', sessionId)
    .where('users.id', '=', userId)
    .executeTakeFirst();
  return row ? withRole(row) : null;
}
