import { AppError } from '@yunying/core';
import { inTransaction, type Pool } from '@yunying/catalog';
import type { Principal } from '../principal';
import { recordAccountChange } from '../stewardship';
import type { TotpSecrets } from '../totp';
import { unauthenticated, type AuthContext } from '../auth.shared';
import type { AdminContext, RequestOrigin, UserView } from '../auth.types';
import * as totpStore from '../repositories/totp.repository';
import type { TotpState } from '../repositories/totp.repository';
import * as sessions from '../repositories/sessions.repository';
import * as users from '../repositories/users.repository';
import type { UsersService } from './users.service';

export type { TotpState } from '../repositories/totp.repository';

/** TOTP second factor: enrolment (at sign-in or by the user), codes accepted once, reset by another admin. */
export class SecondFactorService {
  constructor(
    private readonly pool: Pool,
    private readonly totp: TotpSecrets,
    private readonly users: UsersService,
    private readonly context: AuthContext,
  ) {}

  async state(userId: string): Promise<TotpState | null> {
    return totpStore.findTotp(this.pool, userId);
  }

  /**
   * The secret a sign-in enrolment shows: the one awaiting confirmation when there is one (a reload of the page
   * shows the key already added to the app), else a new one.
   */
  async pendingEnrolment(user: UserView, state: { sealed: string; confirmed: boolean } | null): Promise<{ secret: string; uri: string }> {
    let secret = state !== null && !state.confirmed ? this.totp.open(user.id, state.sealed) : null;
    if (secret === null) {
      secret = this.totp.newSecret();
      if (!(await totpStore.storePendingTotp(this.pool, user.id, this.totp.seal(user.id, secret)))) throw unauthenticated('The sign-in has expired; please sign in again');
    }
    return { secret, uri: this.totp.uri(secret, user.username) };
  }

  /**
   * Whether `code` is current for the user's secret and later than the last accepted one; the step is recorded
   * with a conditional update, so two requests with the same code cannot both pass. A code for a pending
   * secret also confirms it.
   */
  async acceptCode(userId: string, state: { sealed: string; lastStep: number }, code: string): Promise<boolean> {
    const step = this.totp.check(this.totp.open(userId, state.sealed), code, state.lastStep, this.context.now());
    if (step === null) return false;
    return totpStore.useTotpStep(this.pool, userId, step, state.sealed);
  }

  /** Starts (or restarts, while unconfirmed) TOTP enrolment: the current password is required. */
  async enroll(principal: Principal, currentPassword: string, origin: RequestOrigin = {}): Promise<{ secret: string; uri: string }> {
    const user = await this.users.verifyOwnPassword(principal, currentPassword, origin);
    const existing = await totpStore.findTotp(this.pool, user.id);
    if (existing?.confirmed) throw new AppError('conflict', 'A one-time code generator is already set up');
    const secret = this.totp.newSecret();
    await totpStore.storePendingTotp(this.pool, user.id, this.totp.seal(user.id, secret));
    return { secret, uri: this.totp.uri(secret, user.username) };
  }

  /** Confirms enrolment with a current code; from then on sign-in needs a code. */
  async confirm(principal: Principal, code: string, origin: RequestOrigin = {}): Promise<void> {
    if (principal.kind !== 'user' || principal.userId === undefined) throw new AppError('forbidden', 'Only a signed-in user can set up a second factor');
    const sealed = await totpStore.findPendingTotpSecret(this.pool, principal.userId);
    if (sealed === null) throw new AppError('conflict', 'No enrolment awaiting confirmation');
    const step = this.totp.check(this.totp.open(principal.userId, sealed), code.trim(), 0, this.context.now());
    if (step === null) throw new AppError('bad_request', 'The one-time code is not valid');
    await totpStore.confirmTotp(this.pool, principal.userId, step);
    await this.context.audit.admin({ actor: principal, sourceIp: origin.sourceIp ?? null, requestId: origin.requestId ?? null }, 'totp-enabled', { targetUserId: principal.userId });
  }

  /**
   * Removes a user's TOTP generator (a lost or replaced phone), by an admin for another user: the next sign-in
   * of a role that requires a second factor enrols again. The user's sessions end (whoever holds the lost
   * device may be signed in) and the change counts for four eyes like any other change of the account.
   * Idempotent: without a generator nothing changes.
   */
  async reset(userId: string, context: AdminContext): Promise<void> {
    if (context.actor.userId === userId) throw new AppError('forbidden', 'Another admin resets your own second factor');
    const user = await this.users.getUser(userId);
    if (!user) throw new AppError('not_found', 'No such user');
    const removed = await inTransaction(this.pool, async (client) => {
      if (!(await totpStore.deleteTotp(client, userId))) return false;
      await users.bumpTokenVersion(client, userId);
      await sessions.revokeSessionsOfUser(client, userId, 'second-factor-reset');
      await recordAccountChange(client, userId, context.actor.userId, 'updated');
      return true;
    });
    if (removed) await this.context.audit.admin(context, 'totp-reset', { targetUserId: userId, targetUsername: user.username });
  }
}
