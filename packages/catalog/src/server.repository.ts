import type { Pool } from './database';
import type { QueryRunner } from './typed/kysely';

/**
 * Questions to the PostgreSQL server about itself rather than about the catalog's tables: is it up, whom are we
 * connected as, is it a standby and how far behind. System views and functions are not in the generated types,
 * so these stay plain SQL.
 */

export async function pingDatabase(pool: Pool): Promise<void> {
  await pool.query('SELECT 1');
}

/** The role this connection runs as, and whether it is a superuser (who could switch the audit triggers off). */
export async function connectedRole(db: QueryRunner): Promise<{ role: string; superuser: boolean }> {
  const { rows } = await db.query<{ role: string; superuser: boolean }>('SELECT current_user AS role, rolsuper AS superuser FROM pg_roles WHERE rolname = current_user');
  return rows[0] ?? { role: 'unknown', superuser: false };
}

/**
 * Whether the server is a standby, and its lag in seconds: zero when it has replayed all the WAL it has received
 * (an idle primary sends nothing, so the time since the last replayed transaction alone would read as lag), else
 * the age of the last transaction it replayed. Not in recovery (the URL points at a primary): zero. Null when
 * the server answered nothing.
 */
export async function standbyLag(db: QueryRunner): Promise<{ standby: boolean; lag: number } | null> {
  const { rows } = await db.query<{ standby: boolean; lag: number }>(
    `SELECT pg_is_in_recovery() AS standby,
       CASE WHEN NOT pg_is_in_recovery() OR pg_last_wal_receive_lsn() = pg_last_wal_replay_lsn() THEN 0
            ELSE COALESCE(extract(epoch FROM now() - pg_last_xact_replay_timestamp()), 0) END::float8 AS lag`,
  );
  return rows[0] ?? null;
}
