import { AppError } from '@yunying/core';
import type { Queryable } from './queryable';
import { findAccountChanges, insertAccountChange, type AccountChange } from './repositories/account-changes.repository';

export type { AccountChange };

/**
 * Records that `changedBy` created or changed the account `userId`. A change of one's own account is not
 * recorded (it gives no power over another person). Kept as a set: the first time of each kind counts.
 */
export async function recordAccountChange(db: Queryable, userId: string, changedBy: string | null | undefined, change: AccountChange): Promise<void> {
  if (!changedBy || changedBy === userId) return;
  await insertAccountChange(db, userId, changedBy, change);
}

/** The ways in which `requesterId` created or changed the account of `approverId` (empty: none). */
export async function accountChangesBy(db: Queryable, approverId: string, requesterId: string): Promise<AccountChange[]> {
  return findAccountChanges(db, approverId, requesterId);
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
