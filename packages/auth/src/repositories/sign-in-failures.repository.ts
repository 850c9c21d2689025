import { sql } from 'kysely';
import { kyselyOn } from '@yunying/catalog';
import type { Queryable } from '../queryable';

/**
 * Failed sign-ins (`sign_in_failures`) and the addresses an account signed in from (`sign_in_known_sources`),
 * which the sign-in limiter counts over a sliding window.
 */
export interface FailureCounts {
  /** Failures of this username from this address, and the oldest of them. */
  pairFailures: number;
  pairOldest: Date | null;
  /** Failures from this address, any username, and the oldest of them. */
  ipFailures: number;
  ipOldest: Date | null;
  /** Failures of this username, any address, and the latest of them. */
  accountFailures: number;
  accountLast: Date | null;
  /** Whether the account signed in successfully from this address after `knownSince`. */
  known: boolean;
}

/** The failures after `since` that concern this username or address, counted three ways in one pass. */
export async function countFailures(db: Queryable, username: string, sourceIp: string, since: Date, knownSince: Date): Promise<FailureCounts | undefined> {
  const pair = sql<boolean>`source_ip = ${sourceIp} AND username = ${username}`;
  const ip = sql<boolean>`source_ip = ${sourceIp}`;
  const account = sql<boolean>`username = ${username}`;
  return kyselyOn(db)
    .selectFrom('signInFailures')
    .select((eb) => [
      sql<number>`count(*) FILTER (WHERE ${pair})::int`.as('pairFailures'),
      sql<Date | null>`min(attempted_at) FILTER (WHERE ${pair})`.as('pairOldest'),
      sql<number>`count(*) FILTER (WHERE ${ip})::int`.as('ipFailures'),
      sql<Date | null>`min(attempted_at) FILTER (WHERE ${ip})`.as('ipOldest'),
      sql<number>`count(*) FILTER (WHERE ${account})::int`.as('accountFailures'),
      sql<Date | null>`max(attempted_at) FILTER (WHERE ${account})`.as('accountLast'),
      eb
        .exists(
          eb
            .selectFrom('signInKnownSources as k')
            .select(sql`1`.as('one'))
            .where('k.username', '=', username)
            .where('k.sourceIp', '=', sourceIp)
            .where('k.lastSuccessAt', '>', knownSince),
        )
        .$castTo<boolean>()
        .as('known'),
    ])
    .where((eb) => eb.or([eb('sourceIp', '=', sourceIp), eb('username', '=', username)]))
    .where('attemptedAt', '>', since)
    .executeTakeFirst();
}

export async function insertFailure(db: Queryable, username: string, sourceIp: string, attemptedAt: Date): Promise<void> {
  await kyselyOn(db).insertInto('signInFailures').values({ username, sourceIp, attemptedAt }).execute();
}

/** Removes the failures of this username or address at or before `until` (they no longer count for anything). */
export async function deleteFailuresUntil(db: Queryable, username: string, sourceIp: string, until: Date): Promise<void> {
  await kyselyOn(db)
    .deleteFrom('signInFailures')
    .where((eb) => eb.or([eb('sourceIp', '=', sourceIp), eb('username', '=', username)]))
    .where('attemptedAt', '<=', until)
    .execute();
}

/** Clears the failures of this username from this address. */
export async function deletePairFailures(db: Queryable, username: string, sourceIp: string): Promise<void> {
  await kyselyOn(db).deleteFrom('signInFailures').where('username', '=', username).where('sourceIp', '=', sourceIp).execute();
}

/** The account signed in from this address at `at`. */
export async function recordKnownSource(db: Queryable, username: string, sourceIp: string, at: Date): Promise<void> {
  await kyselyOn(db)
    .insertInto('signInKnownSources')
    .values({ username, sourceIp, lastSuccessAt: at })
    .onConflict((conflict) => conflict.columns(['username', 'sourceIp']).doUpdateSet((eb) => ({ lastSuccessAt: eb.ref('excluded.lastSuccessAt') })))
    .execute();
}
