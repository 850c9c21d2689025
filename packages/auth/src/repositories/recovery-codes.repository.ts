import { sql } from 'kysely';
import { kyselyOn } from '@yunying/catalog';
import type { Queryable } from '../queryable';

/** A user's recovery codes (migration 2060): keyed hashes, each spent once. */

/** Replaces the user's codes by a new set (the old ones, used or not, stop working). */
export async function replaceRecoveryCodes(db: Queryable, userId: string, hashes: readonly string[]): Promise<void> {
  await kyselyOn(db).deleteFrom('userRecoveryCodes').where('userId', '=', userId).execute();
  if (hashes.length === 0) return;
  await kyselyOn(db)
    .insertInto('userRecoveryCodes')
    .values(hashes.map((codeHash) => ({ userId, codeHash })))
    .execute();
}

/**
 * Spends the code with this hash if it is the user's and unused: a conditional update, so two requests with one
 * code cannot both pass. Whether it was spent.
 */
export async function spendRecoveryCode(db: Queryable, userId: string, codeHash: string): Promise<boolean> {
  const result = await kyselyOn(db)
    .updateTable('userRecoveryCodes')
    .set({ usedAt: sql<Date>`now()` })
    .where('userId', '=', userId)
    .where('codeHash', '=', codeHash)
    .where('usedAt', 'is', null)
    .executeTakeFirst();
  return result.numUpdatedRows > 0n;
}

/** Unused codes left and when the set was made (null without a set). */
export async function recoveryCodesState(db: Queryable, userId: string): Promise<{ remaining: number; issuedAt: Date | null }> {
  const row = await kyselyOn(db)
    .selectFrom('userRecoveryCodes')
    .select((eb) => [eb.fn.countAll<string>().filterWhere('usedAt', 'is', null).as('remaining'), eb.fn.min('createdAt').as('issuedAt')])
    .where('userId', '=', userId)
    .executeTakeFirstOrThrow();
  return { remaining: Number(row.remaining), issuedAt: row.issuedAt ?? null };
}

export async function deleteRecoveryCodes(db: Queryable, userId: string): Promise<void> {
  await kyselyOn(db).deleteFrom('userRecoveryCodes').where('userId', '=', userId).execute();
}
