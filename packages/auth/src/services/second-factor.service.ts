import { AppError } from '@yunying/core';
import { inTransaction, type Pool } from '@yunying/catalog';
import type { Principal } from '../principal';
import { recordAccountChange } from '../stewardship';
import type { TotpSecrets } from '../totp';
import { normaliseRecoveryCode, type RecoveryCodes } from '../recovery-codes';
import * as recoveryStore from '../repositories/recovery-codes.repository';
import { unauthenticated, type AuthContext } from '../auth.shared';
import type { AdminContext, RequestOrigin, SecondFactorStatus, UserView } from '../auth.types';
import type { Queryable } from '../queryable';
import * as totpStore from '../repositories/totp.repository';
import type { TotpState } from '../repositories/totp.repository';
import * as sessions from '../repositories/sessions.repository';
import * as users from '../repositories/users.repository';
import type { UsersService } from './users.service';

export type { TotpState } from '../repositories/totp.repository';

/**
 * TOTP second factor: enrolment (at sign-in or by the user), codes accepted once, single-use recovery codes for a
 * lost phone, reset by another admin.
 */
export class SecondFactorService {
  constructor(
    private readonly pool: Pool,
    private readonly totp: TotpSecrets,
    private readonly recovery: RecoveryCodes,
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

  /** Confirms enrolment with a current code; from then on sign-in needs a code. Returns the recovery codes, shown once. */
  async confirm(principal: Principal, code: string, origin: RequestOrigin = {}): Promise<{ recoveryCodes: string[] }> {
    const userId = ownUserId(principal);
    const sealed = await totpStore.findPendingTotpSecret(this.pool, userId);
    if (sealed === null) throw new AppError('conflict', 'No enrolment awaiting confirmation');
    const step = this.totp.check(this.totp.open(userId, sealed), code.trim(), 0, this.context.now());
    if (step === null) throw new AppError('bad_request', 'The one-time code is not valid');
    const recoveryCodes = await inTransaction(this.pool, async (client) => {
      await totpStore.confirmTotp(client, userId, step);
      return this.issueRecoveryCodes(client, userId);
    });
    await this.context.audit.admin({ actor: principal, sourceIp: origin.sourceIp ?? null, requestId: origin.requestId ?? null }, 'totp-enabled', { targetUserId: userId, recoveryCodes: recoveryCodes.length });
    return { recoveryCodes };
  }

  /** A new set of recovery codes (the old ones stop working); stored as keyed hashes, returned once. */
  async issueRecoveryCodes(db: Queryable, userId: string): Promise<string[]> {
    const codes = this.recovery.generate();
    const hashes = codes.map((code) => this.recovery.hash(userId, normaliseRecoveryCode(code) ?? code));
    await recoveryStore.replaceRecoveryCodes(db, userId, hashes);
    return codes;
  }

  /**
   * Spends one of the user's recovery codes if `code` is one of them and unused (a conditional update: one code
   * signs in once). False for anything else, including a six-digit TOTP code.
   */
  async acceptRecoveryCode(userId: string, code: string): Promise<boolean> {
    const normalised = normaliseRecoveryCode(code);
    if (normalised === null) return false;
    return recoveryStore.spendRecoveryCode(this.pool, userId, this.recovery.hash(userId, normalised));
  }

  /**
   * Replaces the caller's recovery codes (all used, or the sheet lost): the current password is required, as for
   * enrolment, and a confirmed generator (codes stand in for it, not for the password).
   */
  async regenerateRecoveryCodes(principal: Principal, currentPassword: string, origin: RequestOrigin = {}): Promise<{ recoveryCodes: string[] }> {
    const user = await this.users.verifyOwnPassword(principal, currentPassword, origin);
    const state = await totpStore.findTotp(this.pool, user.id);
    if (state?.confirmed !== true) throw new AppError('conflict', 'Set up a one-time code generator first: recovery codes stand in for it');
    const recoveryCodes = await this.issueRecoveryCodes(this.pool, user.id);
    await this.context.audit.admin({ actor: principal, sourceIp: origin.sourceIp ?? null, requestId: origin.requestId ?? null }, 'recovery-codes-issued', {
      targetUserId: user.id,
      recoveryCodes: recoveryCodes.length,
    });
    return { recoveryCodes };
  }

  /**
   * The caller's second factor: whether a generator is set up (or awaiting its first code), whether the role
   * requires one, and how many recovery codes are left.
   */
  async status(principal: Principal, required: boolean): Promise<SecondFactorStatus> {
    const userId = ownUserId(principal);
    const [state, recoveryCodes] = await Promise.all([totpStore.findTotp(this.pool, userId), recoveryStore.recoveryCodesState(this.pool, userId)]);
    return { totp: state === null ? 'none' : state.confirmed ? 'confirmed' : 'pending', required, recoveryCodes };
  }

  remainingRecoveryCodes(userId: string): Promise<number> {
    return recoveryStore.recoveryCodesState(this.pool, userId).then((state) => state.remaining);
  }

  /**
   * Removes a user's TOTP generator and recovery codes (a lost or replaced phone, no codes left), by an admin for another user: the next sign-in
   * of a role that requires a second factor enrols again. The user's sessions end (whoever holds the lost
   * device may be signed in) and the change counts for four eyes like any other change of the account.
   * Idempotent: without a generator nothing changes.
   */
  async reset(userId: string, context: AdminContext): Promise<void> {
    if (context.actor.userId === userId) throw new AppError('forbidden', 'Your own second factor can only be reset by another admin (four eyes)');
    const user = await this.users.getUser(userId);
    if (!user) throw new AppError('not_found', 'No such user');
    const removed = await inTransaction(this.pool, async (client) => {
      if (!(await totpStore.deleteTotp(client, userId))) return false;
      await recoveryStore.deleteRecoveryCodes(client, userId);
      await users.bumpTokenVersion(client, userId);
      await sessions.revokeSessionsOfUser(client, userId, 'second-factor-reset');
      await recordAccountChange(client, userId, context.actor.userId, 'updated');
      return true;
    });
    if (removed) await this.context.audit.admin(context, 'totp-reset', { targetUserId: userId, targetUsername: user.username });
  }
}

function ownUserId(principal: Principal): string {
  if (principal.kind !== 'user' || principal.userId === undefined) throw new AppError('forbidden', 'Only a signed-in user has a second factor');
  return principal.userId;
}
