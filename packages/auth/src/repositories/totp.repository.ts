import { sql } from 'kysely';
import { kyselyOn } from '@yunying/catalog';
import type { Queryable } from '../queryable';

/** A user's TOTP generator (migration 1713): the sealed secret, whether confirmed, the last accepted step. */
export interface TotpState {
  sealed: string;
  confirmed: boolean;
  lastStep: number;
}

export async function findTotp(db: Queryable, userId: string): Promise<TotpState | null> {
  const row = await kyselyOn(db).selectFrom('userTotp').select(['secretSealed', 'confirmedAt', 'lastStep']).where('userId', '=', userId).executeTakeFirst();
  return row ? { sealed: row.secretSealed, confirmed: row.confirmedAt !== null, lastStep: Number(row.lastStep) } : null;
}

/** Stores a secret awaiting confirmation; a confirmed generator is left alone (returns false then). */
export async function storePendingTotp(db: Queryable, userId: string, sealed: string): Promise<boolean> {
  const result = await kyselyOn(db)
    .insertInto('userTotp')
    .values({ userId, secretSealed: sealed })
    .onConflict((conflict) =>
      conflict
        .column('userId')
        .doUpdateSet((eb) => ({ secretSealed: eb.ref('excluded.secretSealed'), lastStep: 0, createdAt: sql<Date>`now()` }))
        .where('userTotp.confirmedAt', 'is', null),
    )
    .executeTakeFirst();
  return (result.numInsertedOrUpdatedRows ?? 0n) > 0n;
}

/**
 * Records `step` as used, only if it is later than the last one and the secret is still `sealed` (a conditional
 * update, so two requests with one code cannot both pass); confirms a pending secret. Whether it was recorded.
 */
export async function useTotpStep(db: Queryable, userId: string, step: number, sealed: string): Promise<boolean> {
  const result = await kyselyOn(db)
    .updateTable('userTotp')
    .set((eb) => ({ lastStep: step, confirmedAt: eb.fn.coalesce('confirmedAt', sql<Date>`now()`) }))
    .where('userId', '=', userId)
    .where('lastStep', '<', String(step)) // int8 compares as its text form; PostgreSQL casts the parameter
    .where('secretSealed', '=', sealed)
    .executeTakeFirst();
  return result.numUpdatedRows > 0n;
}

export async function findPendingTotpSecret(db: Queryable, userId: string): Promise<string | null> {
  const row = await kyselyOn(db).selectFrom('userTotp').select('secretSealed').where('userId', '=', userId).where('confirmedAt', 'is', null).executeTakeFirst();
  return row?.secretSealed ?? null;
}

export async function confirmTotp(db: Queryable, userId: string, step: number): Promise<void> {
  await kyselyOn(db)
    .updateTable('userTotp')
    .set({ confirmedAt: sql<Date>`now()`, lastStep: step })
    .where('userId', '=', userId)
    .execute();
}

export async function deleteTotp(db: Queryable, userId: string): Promise<boolean> {
  const result = await kyselyOn(db).deleteFrom('userTotp').where('userId', '=', userId).executeTakeFirst();
  return result.numDeletedRows > 0n;
}
