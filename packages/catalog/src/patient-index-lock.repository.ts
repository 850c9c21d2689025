import type { PoolClient } from './database';

/**
 * Serializes writes to the patient index (migration 2030) per schema, for the rest of the caller's
 * transaction: linking, merging and unmerging (the viewer) and forgetting a disposed patient (the keeper)
 * each see a settled index.
 */
export async function lockPatientIndex(client: PoolClient): Promise<void> {
  await client.query('SELECT pg_advisory_xact_lock(7030, hashtext(current_schema()))');
}
