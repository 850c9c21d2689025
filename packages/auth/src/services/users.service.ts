import { AppError } from '@yunying/core';
import { inTransaction, type Pool } from '@yunying/catalog';
import type { Principal, Role } from '../principal';
import { auditActor } from '../principal';
import { hashPassword, verifyPassword } from '../password';
import { assertPasswordAcceptable, type PasswordContext } from '../password-policy';
import { tooManyAttempts, type SignInLimiter } from '../sign-in-limiter';
import { recordAccountChange } from '../stewardship';
import type { Queryable } from '../queryable';
import { normalizeUsername, pgCode, principalOfUser, unauthenticated, USERNAME, UUID, type AuthContext } from '../auth.shared';
import type { AdminContext, OwnSessionView, RequestOrigin, UserListEntry, UserView } from '../auth.types';
import * as clinics from '../repositories/clinics.repository';
import * as sessions from '../repositories/sessions.repository';
import * as users from '../repositories/users.repository';
import type { TokenIssuer } from './token-issuer';

/**
 * An account unused this long is flagged in the admin's list as dormant, to be disabled (GB/T 22239-2019
 * 8.1.4.2; 90 days is the usual reading of "in time" for a level-3 system).
 */
export const DORMANT_AFTER_DAYS = 90;
const DAY_MS = 86_400_000;

/** Who disabled dormant accounts, in the audit trail (the keeper's loop; no person acted). */
export interface SystemActor {
  username: string;
}

/** When an account was last used, for dormancy: its newest sign-in, else its creation, or its re-enabling if later. */
function lastUsed(record: users.UserRecord, lastSignInAt: Date | null): Date {
  const since = lastSignInAt ?? record.createdAt;
  return record.enabledAt !== null && record.enabledAt > since ? record.enabledAt : since;
}

/** Users and their passwords: administration, and the self-service password change. */
export class UsersService {
  constructor(
    private readonly pool: Pool,
    private readonly limiter: SignInLimiter,
    private readonly tokens: TokenIssuer,
    private readonly context: AuthContext,
  ) {}

  async getUser(id: string, db: Queryable = this.pool): Promise<UserView | null> {
    if (!UUID.test(id)) return null;
    const record = await users.findUserById(db, id);
    return record ? users.userView(record) : null;
  }

  async findUserByUsername(username: string): Promise<UserView | null> {
    const record = await users.findUserByUsername(this.pool, normalizeUsername(username));
    return record ? users.userView(record) : null;
  }

  async listUsers(): Promise<UserListEntry[]> {
    const now = this.context.now();
    const [records, activity] = await Promise.all([users.listUsers(this.pool), sessions.signInActivity(this.pool, now)]);
    const dormantBefore = now.getTime() - DORMANT_AFTER_DAYS * DAY_MS;
    return records.map((record) => {
      const used = activity.get(record.id) ?? { lastSignInAt: null, openSessions: 0 };
      return { ...users.userView(record), ...used, dormant: !record.disabled && lastUsed(record, used.lastSignInAt).getTime() < dormantBefore };
    });
  }

  /**
   * AUTH_DORMANT_DISABLE_DAYS: disables every enabled account unused for `afterDays` (see lastUsed), ends its
   * sign-ins and audits each one, except that the most recently used admin is kept when no admin would be left
   * enabled (someone must be able to turn the others back on). An admin re-enables an account from the Users
   * page; dormancy then counts from that moment. Returns the accounts disabled.
   */
  async disableDormant(afterDays: number, actor: SystemActor): Promise<{ id: string; username: string }[]> {
    if (!Number.isInteger(afterDays) || afterDays < 1) throw new Error('afterDays must be a positive whole number of days');
    const now = this.context.now();
    const cutoff = new Date(now.getTime() - afterDays * DAY_MS);
    const [records, activity] = await Promise.all([users.listUsers(this.pool), sessions.signInActivity(this.pool, now)]);
    const enabled = records.filter((r) => !r.disabled).map((record) => ({ record, used: lastUsed(record, activity.get(record.id)?.lastSignInAt ?? null) }));
    const dormant = enabled.filter((e) => e.used < cutoff);
    const admins = enabled.filter((e) => e.record.role === 'admin');
    if (admins.length > 0 && admins.every((e) => e.used < cutoff)) {
      const keep = admins.reduce((a, b) => (b.used > a.used ? b : a));
      dormant.splice(dormant.indexOf(keep), 1);
    }
    const disabled: { id: string; username: string }[] = [];
    for (const { record, used } of dormant) {
      const done = await inTransaction(this.pool, async (client) => {
        if (!(await users.disableIfDormant(client, record.id, cutoff))) return false;
        await sessions.revokeSessionsOfUser(client, record.id, 'dormant');
        return true;
      });
      if (!done) continue;
      disabled.push({ id: record.id, username: record.username });
      await this.context.audit.record({
        type: 'Security Alert',
        outcome: 0,
        actor: { userId: null, username: actor.username, role: null, clinicId: null },
        clinicId: record.clinicId,
        details: { subtype: 'Security Configuration', change: 'user-disabled-dormant', targetUserId: record.id, targetUsername: record.username, unusedDays: Math.floor((now.getTime() - used.getTime()) / DAY_MS), afterDays },
      });
    }
    return disabled;
  }

  async createUser(
    input: { username: string; displayName?: string; role: Role; clinicId?: string | null; password: string },
    context?: AdminContext,
    db: Queryable = this.pool,
  ): Promise<UserView> {
    const username = normalizeUsername(input.username);
    if (!USERNAME.test(username)) throw new AppError('bad_request', 'Username: 2-63 characters of a-z, 0-9, ".", "_", "-"');
    const clinicId = input.clinicId ?? null;
    if (clinicId !== null && UUID.test(clinicId)) assertPasswordAcceptable(input.password, await this.passwordContext(username, clinicId, db));
    else assertPasswordAcceptable(input.password, { username });
    if ((input.role === 'clinic') !== (clinicId !== null)) throw new AppError('bad_request', 'A clinic user needs a clinicId; other roles must not have one');
    if (clinicId !== null && !UUID.test(clinicId)) throw new AppError('bad_request', 'clinicId must be a uuid');
    const passwordHash = await hashPassword(input.password);
    let id: string | undefined;
    try {
      id = await users.insertUser(db, { username, displayName: input.displayName ?? '', role: input.role, clinicId, passwordHash });
    } catch (error) {
      if (pgCode(error) === '23505') throw new AppError('conflict', 'Username already taken');
      if (pgCode(error) === '23503') throw new AppError('bad_request', 'Unknown clinic');
      throw error;
    }
    const user = id ? await this.getUser(id, db) : null;
    if (!user) throw new Error('user insert returned no row');
    await recordAccountChange(db, user.id, context?.actor.userId, 'created');
    if (context) await this.context.audit.admin(context, 'user-created', { targetUserId: user.id, targetUsername: user.username, role: user.role }, clinicId);
    return user;
  }

  /** Changing the password, role-relevant state or disabling bumps token_version: existing access tokens stop working at once. */
  async updateUser(id: string, change: { displayName?: string; password?: string; disabled?: boolean }, context?: AdminContext): Promise<UserView> {
    const current = await this.getUser(id);
    if (!current) throw new AppError('not_found', 'No such user');
    if (change.password !== undefined) assertPasswordAcceptable(change.password, await this.passwordContext(current.username, current.clinicId));
    const passwordHash = change.password !== undefined ? await hashPassword(change.password) : null;
    const bump = passwordHash !== null || change.disabled !== undefined;
    const reenabled = change.disabled === false && current.disabled;
    await inTransaction(this.pool, async (client) => {
      await users.updateUser(client, id, {
        ...(change.displayName !== undefined ? { displayName: change.displayName } : {}),
        ...(change.disabled !== undefined ? { disabled: change.disabled } : {}),
        ...(reenabled ? { enabledAt: this.context.now() } : {}),
        passwordHash,
        bumpTokenVersion: bump,
      });
      if (bump) await sessions.revokeSessionsOfUser(client, id, 'credentials-changed');
      await recordAccountChange(client, id, context?.actor.userId, 'updated');
    });
    const updated = await this.getUser(id);
    if (!updated) throw new AppError('not_found', 'No such user');
    if (context) {
      await this.context.audit.admin(context, 'user-updated', {
        targetUserId: id,
        passwordChanged: passwordHash !== null,
        ...(change.disabled !== undefined ? { disabled: change.disabled } : {}),
      });
    }
    return updated;
  }

  /**
   * Ends every sign-in of another user at once (a stolen laptop or phone, a shared screen left signed in) without
   * disabling the account: their sessions are revoked and the token version bumped, so access tokens stop now and
   * refresh tokens do not renew. The own sign-ins are ended from the account page instead. How many ended.
   */
  /** Another user's open sign-ins (when, from where, which device), newest first: what "End sign-ins" would end. */
  async listSessions(id: string): Promise<Omit<OwnSessionView, 'current'>[]> {
    const user = await this.getUser(id);
    if (!user) throw new AppError('not_found', 'No such user');
    return sessions.listOpenSessions(this.pool, id, this.context.now());
  }

  async endSessions(id: string, context: AdminContext): Promise<number> {
    if (context.actor.userId === id) throw new AppError('forbidden', 'End your own sign-ins from your account page');
    const user = await this.getUser(id);
    if (!user) throw new AppError('not_found', 'No such user');
    const ended = await inTransaction(this.pool, async (client) => {
      await users.bumpTokenVersion(client, id);
      return sessions.revokeSessionsOfUser(client, id, 'ended-by-admin');
    });
    await this.context.audit.admin(context, 'sessions-ended', { targetUserId: id, targetUsername: user.username, sessions: ended });
    return ended;
  }

  /**
   * A signed-in user changes their own password: the current one must be given (a stolen session alone is not
   * enough), and a wrong one counts as a failed sign-in (so this is no guessing oracle). Every other session of
   * the user is revoked and token_version bumped; the calling session stays signed in with a new access token.
   */
  async changeOwnPassword(
    principal: Principal,
    currentPassword: string,
    newPassword: string,
    origin: RequestOrigin = {},
  ): Promise<{ accessToken: string; accessTokenExpiresAt: Date; otherSessionsRevoked: number }> {
    if (principal.kind !== 'user' || principal.userId === undefined || principal.sessionId === undefined) {
      throw new AppError('forbidden', 'Only a signed-in user can change their password');
    }
    const sessionId = principal.sessionId;
    const ip = origin.sourceIp ?? 'unknown';
    const limited = await this.limiter.refusal(principal.username, ip);
    if (limited !== null) throw tooManyAttempts(limited.retryAfterSeconds);
    const user = await users.findUserWithPassword(this.pool, { id: principal.userId });
    if (!user || user.disabled) throw unauthenticated('Access token revoked');
    if (!(await verifyPassword(user.passwordHash, currentPassword))) {
      await this.limiter.recordFailure(principal.username, ip);
      await this.context.audit.record({ type: 'User Authentication', outcome: 4, actor: auditActor(principal), sourceIp: ip, requestId: origin.requestId ?? null, details: { subtype: 'Password Change', reason: 'bad-password' } });
      throw new AppError('forbidden', 'The current password is not correct');
    }
    assertPasswordAcceptable(newPassword, await this.passwordContext(user.username, user.clinicId));
    if (await verifyPassword(user.passwordHash, newPassword)) throw new AppError('bad_request', 'Password refused: the same as the current one');
    const hash = await hashPassword(newPassword);
    const { version, revokedCount } = await inTransaction(this.pool, async (client) => {
      const newVersion = await users.replacePassword(client, user.id, hash);
      const revoked = await sessions.revokeSessionsOfUser(client, user.id, 'password-changed', sessionId);
      await this.context.audit.admin({ actor: principal, sourceIp: ip, ...(origin.requestId ? { requestId: origin.requestId } : {}) }, 'own-password-changed', { targetUserId: user.id, otherSessionsRevoked: revoked });
      return { version: newVersion ?? user.tokenVersion + 1, revokedCount: revoked };
    });
    const access = await this.tokens.issueAccessToken(principalOfUser(users.userView(user), sessionId), version);
    return { ...access, otherSessionsRevoked: revokedCount };
  }

  /** The signed-in user, after checking their current password (throttled like a sign-in). */
  async verifyOwnPassword(principal: Principal, password: string, origin: RequestOrigin): Promise<UserView> {
    if (principal.kind !== 'user' || principal.userId === undefined) throw new AppError('forbidden', 'Only a signed-in user can do this');
    const ip = origin.sourceIp ?? 'unknown';
    const limited = await this.limiter.refusal(principal.username, ip);
    if (limited !== null) throw tooManyAttempts(limited.retryAfterSeconds);
    const user = await users.findUserWithPassword(this.pool, { id: principal.userId });
    if (!user || user.disabled) throw unauthenticated('Access token revoked');
    if (!(await verifyPassword(user.passwordHash, password))) {
      await this.limiter.recordFailure(principal.username, ip);
      throw new AppError('forbidden', 'The current password is not correct');
    }
    return users.userView(user);
  }

  /** What a password must not be built on: the user name and the user's clinic (its code and name). */
  private async passwordContext(username: string, clinicId: string | null, db: Queryable = this.pool): Promise<PasswordContext> {
    if (clinicId === null) return { username };
    const clinic = await clinics.findClinicNames(db, clinicId);
    return { username, words: clinic ? [clinic.code, clinic.name] : [] };
  }
}
