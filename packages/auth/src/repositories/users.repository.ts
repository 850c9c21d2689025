import { isRole } from '../principal';
import type { Queryable } from '../queryable';
import type { UserView } from '../auth.types';

/** A user as the services see it, with the version that access tokens must carry. */
export interface UserRecord extends UserView {
  tokenVersion: number;
}

export interface UserWithPassword extends UserRecord {
  passwordHash: string;
}

interface UserRow {
  id: string;
  username: string;
  display_name: string;
  role: string;
  clinic_id: string | null;
  disabled: boolean;
  token_version: number;
  grants: string[];
  created_at: Date;
}

const USER_COLUMNS = `u.id::text, u.username, u.display_name, u.role, u.clinic_id::text, u.disabled, u.token_version, u.created_at,
  ARRAY(SELECT g.clinic_id::text FROM radiologist_grants g WHERE g.user_id = u.id ORDER BY 1) AS grants`;

function userRecord(row: UserRow): UserRecord {
  if (!isRole(row.role)) throw new Error('users.role outside the schema check');
  return {
    id: row.id,
    username: row.username,
    displayName: row.display_name,
    role: row.role,
    clinicId: row.clinic_id,
    disabled: row.disabled,
    grants: row.grants,
    createdAt: row.created_at,
    tokenVersion: row.token_version,
  };
}

export function userView(record: UserRecord): UserView {
  const { tokenVersion: _version, ...view } = record;
  void _version;
  return view;
}

export async function findUserById(db: Queryable, id: string): Promise<UserRecord | null> {
  const { rows } = await db.query<UserRow>(`SELECT ${USER_COLUMNS} FROM users u WHERE u.id = $1`, [id]);
  return rows[0] ? userRecord(rows[0]) : null;
}

export async function findUserByUsername(db: Queryable, username: string): Promise<UserRecord | null> {
  const { rows } = await db.query<UserRow>(`SELECT ${USER_COLUMNS} FROM users u WHERE u.username = $1`, [username]);
  return rows[0] ? userRecord(rows[0]) : null;
}

export async function findUserWithPassword(db: Queryable, by: { id: string } | { username: string }): Promise<UserWithPassword | null> {
  const [column, value] = 'id' in by ? ['u.id', by.id] : ['u.username', by.username];
  const { rows } = await db.query<UserRow & { password_hash: string }>(`SELECT ${USER_COLUMNS}, u.password_hash FROM users u WHERE ${column} = $1`, [value]);
  const row = rows[0];
  return row ? { ...userRecord(row), passwordHash: row.password_hash } : null;
}

export async function listUsers(db: Queryable): Promise<UserRecord[]> {
  const { rows } = await db.query<UserRow>(`SELECT ${USER_COLUMNS} FROM users u ORDER BY u.username`);
  return rows.map(userRecord);
}

export async function insertUser(
  db: Queryable,
  user: { username: string; displayName: string; role: string; clinicId: string | null; passwordHash: string },
): Promise<string | undefined> {
  const { rows } = await db.query<{ id: string }>(
    'INSERT INTO users (username, display_name, role, clinic_id, password_hash) VALUES ($1, $2, $3, $4, $5) RETURNING id::text',
    [user.username, user.displayName, user.role, user.clinicId, user.passwordHash],
  );
  return rows[0]?.id;
}

/** Fields left undefined keep their value; `bumpTokenVersion` ends every access token of the user. */
export async function updateUser(
  db: Queryable,
  id: string,
  change: { displayName?: string; passwordHash?: string | null; disabled?: boolean; bumpTokenVersion: boolean },
): Promise<void> {
  await db.query(
    `UPDATE users SET display_name = coalesce($2, display_name), password_hash = coalesce($3, password_hash),
        disabled = coalesce($4, disabled), token_version = token_version + $5, updated_at = now() WHERE id = $1`,
    [id, change.displayName ?? null, change.passwordHash ?? null, change.disabled ?? null, change.bumpTokenVersion ? 1 : 0],
  );
}

/** Sets a new password and bumps the token version; returns the new version. */
export async function replacePassword(db: Queryable, id: string, passwordHash: string): Promise<number | undefined> {
  const { rows } = await db.query<{ token_version: number }>(
    'UPDATE users SET password_hash = $2, token_version = token_version + 1, updated_at = now() WHERE id = $1 RETURNING token_version',
    [id, passwordHash],
  );
  return rows[0]?.token_version;
}

export async function bumpTokenVersion(db: Queryable, id: string): Promise<void> {
  await db.query('UPDATE users SET token_version = token_version + 1, updated_at = now() WHERE id = $1', [id]);
}

/** The user of a session with the session's state, in one indexed query (every request with an access token runs it). */
export async function findUserOfSession(db: Queryable, sessionId: string, userId: string): Promise<(UserRecord & { sessionRevokedAt: Date | null; sessionExpiresAt: Date }) | null> {
  const { rows } = await db.query<UserRow & { s_revoked: Date | null; s_expires: Date }>(
    `SELECT ${USER_COLUMNS}, s.revoked_at AS s_revoked, s.expires_at AS s_expires
       FROM sessions s JOIN users u ON u.id = s.user_id WHERE s.id = $1 AND u.id = $2`,
    [sessionId, userId],
  );
  const row = rows[0];
  return row ? { ...userRecord(row), sessionRevokedAt: row.s_revoked, sessionExpiresAt: row.s_expires } : null;
}
