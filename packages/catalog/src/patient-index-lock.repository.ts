import type { PoolClient } from './database';

/**
 * Serializes writes to the patient index (migration 2030) per schema, for the rest of the caller's
 * transaction: linking, merging and unmerging (the viewer) and forgetting a disposed patient (the keeper)
 * each see a settled index.
 */
export async function lockPatientIndex(client: PoolClient): Promise<void> {
  await client.query('SELECT pg_advisory_xact_lock(7030, hashtext(current_schema()))');
}

/**
 * A patient index person's root as SQL over `patient_index_persons` aliased `alias`: merges are flattened,
 * so merged_into always names a root (migration 2030).
 */
export const personRootSql = (alias: string): string => `coalesce(${alias}.merged_into, ${alias}.id)`;
