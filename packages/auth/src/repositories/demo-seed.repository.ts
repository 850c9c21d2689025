import { sql } from 'kysely';
import { kyselyOn, type PoolClient } from '@yunying/catalog';
import type { DimseAuthPolicy } from '../auth.types';

/**
 * Catalog writes of the demo seed: idempotent (what exists is kept), under a session advisory lock of the
 * schema so several processes may seed at once.
 */

/** 7008: the seed's lock class, beside the schema's hash (another schema seeds independently). */
export async function lockDemoSeed(client: PoolClient): Promise<void> {
  await sql`SELECT pg_advisory_lock(7008, hashtext(current_schema()))`.execute(kyselyOn(client));
}

export async function unlockDemoSeed(client: PoolClient): Promise<void> {
  await sql`SELECT pg_advisory_unlock(7008, hashtext(current_schema()))`.execute(kyselyOn(client));
}

/** The clinic with this code, created when missing (an existing one is kept as it is); its id. */
export async function ensureClinic(db: PoolClient, clinic: { code: string; name: string; retentionYears: number; dimseAuth: DimseAuthPolicy }): Promise<string> {
  const k = kyselyOn(db);
  await k
    .insertInto('clinics')
    .values(clinic)
    .onConflict((conflict) => conflict.column('code').doNothing())
    .execute();
  const row = await k.selectFrom('clinics').select('id').where('code', '=', clinic.code).executeTakeFirst();
  if (row === undefined) throw new Error(`demo clinic ${clinic.code} missing`);
  return row.id;
}

/** Registers the AE title for the clinic unless the title is already registered (to any clinic). */
export async function ensureAeTitle(db: PoolClient, aeTitle: string, clinicId: string): Promise<void> {
  await kyselyOn(db)
    .insertInto('clinicAeTitles')
    .values({ aeTitle, clinicId })
    .onConflict((conflict) => conflict.column('aeTitle').doNothing())
    .execute();
}
