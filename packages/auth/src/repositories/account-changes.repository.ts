import { sql } from 'kysely';
import { kyselyOn } from '@yunying/catalog';
import type { Queryable } from '../queryable';

/** How one user shaped another's account (user_account_changes, migration 1710). */
export type AccountChange = 'created' | 'updated' | 'grant-added' | 'grant-revoked';

/**
 * Records that `changedBy` made `change` to the account `userId`, once per kind. Only a local account can be
 * the one who changed (an external identity has no row to refer to): otherwise nothing is recorded.
 */
export async function insertAccountChange(db: Queryable, userId: string, changedBy: string, change: AccountChange): Promise<void> {
  await kyselyOn(db)
    .insertInto('userAccountChanges')
    .columns(['userId', 'changedBy', 'change'])
    .expression((eb) =>
      eb
        .selectFrom('users as u')
        .select([sql<string>`${userId}::uuid`.as('userId'), 'u.id', sql<string>`${change}`.as('change')])
        // changedBy may be any subject (an external identity's is not a uuid): compared as text, never cast.
        .where(sql<boolean>`u.id::text = ${changedBy}`),
    )
    .onConflict((conflict) => conflict.doNothing())
    .execute();
}

/** The ways in which `changedBy` created or changed the account `userId` (empty: none). */
export async function findAccountChanges(db: Queryable, userId: string, changedBy: string): Promise<AccountChange[]> {
  const rows = await kyselyOn(db)
    .selectFrom('userAccountChanges')
    .select('change')
    .where('userId', '=', userId)
    .where('changedBy', '=', changedBy)
    .orderBy('change')
    // user_account_changes_change_check (migration 1710) holds change to AccountChange.
    .$narrowType<{ change: AccountChange }>()
    .execute();
  return rows.map((r) => r.change);
}
