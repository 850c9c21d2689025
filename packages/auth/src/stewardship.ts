import { AppError } from '@yunying/core';
import type { Queryable } from './queryable';

/** How one user shaped another's account (recorded in user_account_changes, migration 1710). */
export type AccountChange = 'created' | 'updated' | 'grant-added' | 'grant-revoked';

/**
 * Records that `changedBy` created or changed the account `userId`. A change of one's own account is not
 * recorded (it gives no power over another person). Kept as a set: the first time of each kind counts.
 */
export async function recordAccountChange(db: Queryable, userId: string, changedBy: string | null | undefined, change: AccountChange): Promise<void> {
  if (!changedBy || changedBy === userId) return;
  // Only a local account can be the one who changed (an external identity has no row to refer to).
  await db.query(
    `INSERT INTO user_account_changes (user_id, changed_by, change)
     SELECT $1::uuid, u.id, $3 FROM users u WHERE u.id::text = $2 ON CONFLICT DO NOTHING`,
    [userId, changedBy, change],
  );
}

/** The ways in which `requesterId` created or changed the account of `approverId` (empty: none). */
export async function accountChangesBy(db: Queryable, approverId: string, requesterId: string): Promise<AccountChange[]> {
  const { rows } = await db.query<{ change: AccountChange }>(
    'SELECT change FROM user_account_changes WHERE user_id = $1 AND changed_by = $2 ORDER BY change',
    [approverId, requesterId],
  );
  return rows.map((r) => r.change);
}

/**
 * The four-eyes rule of disposals, retention shortening and legal-hold release: the approver is another
 * person, and not one whose account the requester created or changed (an admin who creates an auditor, or
 * resets an auditor's password, could otherwise sign in as it and approve their own request). Refuses with 403
 * naming the reason (no names); returns what the audit record of the decision should say.
 */
export async function assertIndependentApprover(
  db: Queryable,
  approverId: string | null,
  requesterId: string | null,
): Promise<{ requestedBy: string | null; approvedBy: string; fourEyes: 'independent' }> {
  if (approverId === null) throw new AppError('forbidden', 'Only a signed-in person can approve');
  if (approverId === requesterId) throw new AppError('forbidden', 'The requester cannot decide on their own request');
  if (requesterId !== null) {
    const changes = await accountChangesBy(db, approverId, requesterId);
    if (changes.length > 0) {
      throw new AppError('forbidden', `The requester ${changes.includes('created') ? 'created' : 'changed'} the approver's account; another person must approve`);
    }
  }
  return { requestedBy: requesterId, approvedBy: approverId, fourEyes: 'independent' };
}
