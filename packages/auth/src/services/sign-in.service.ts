import { AppError } from '@yunying/core';
import type { Pool } from '@yunying/catalog';
import type { Role } from '../principal';
import { burnPasswordCheck, verifyPassword } from '../password';
import { tooManyAttempts, type SignInLimiter } from '../sign-in-limiter';
import type { AuthAuditEvent } from '../auth.audit';
import { normalizeUsername, principalOfUser, unauthenticated, USERNAME, UUID, type AuthContext } from '../auth.shared';
import type { RequestOrigin, SignInResult, UserView } from '../auth.types';
import * as users from '../repositories/users.repository';
import type { SecondFactorService } from './second-factor.service';
import type { SessionService } from './session.service';
import type { TokenIssuer } from './token-issuer';

/** The message of a wrong or replayed code (sign-in pages tell it from a wrong password by it). */
export const INVALID_CODE = 'Invalid one-time code';

/** Sign-in with a password, then (when the user has or needs one) a one-time code; throttled and audited. */
export class SignInService {
  constructor(
    private readonly pool: Pool,
    private readonly limiter: SignInLimiter,
    private readonly tokens: TokenIssuer,
    private readonly sessions: SessionService,
    private readonly secondFactor: SecondFactorService,
    /** Roles that must give a TOTP code at every sign-in (AUTH_SECOND_FACTOR=privileged). */
    private readonly secondFactorRoles: ReadonlySet<Role>,
    private readonly context: AuthContext,
  ) {}

  async signIn(username: string, password: string, origin: RequestOrigin = {}, totpCode?: string): Promise<SignInResult> {
    const name = normalizeUsername(username).slice(0, 64);
    const ip = origin.sourceIp ?? 'unknown';
    const authEvent = (outcome: 0 | 4 | 8, reason: string | null, user?: UserView): AuthAuditEvent =>
      this.context.audit.loginEvent(name, outcome, reason, { ...origin, sourceIp: ip }, 'password', user);
    const limited = await this.limiter.refusal(name, ip);
    if (limited !== null) {
      await this.context.audit.record({ ...authEvent(8, 'rate-limited'), details: { subtype: 'Login', method: 'password', reason: 'rate-limited', limit: limited.limit } });
      throw tooManyAttempts(limited.retryAfterSeconds);
    }
    const found = USERNAME.test(name) ? await users.findUserWithPassword(this.pool, { username: name }) : null;
    let reason: string | null = null;
    if (!found) {
      await burnPasswordCheck(password);
      reason = 'unknown-user';
    } else if (!(await verifyPassword(found.passwordHash, password))) {
      reason = 'bad-password';
    } else if (found.disabled) {
      reason = 'disabled';
    }
    if (reason !== null || !found) {
      await this.limiter.recordFailure(name, ip);
      await this.context.audit.record(authEvent(4, reason ?? 'unknown-user', found ? users.userView(found) : undefined));
      throw unauthenticated('Invalid username or password');
    }
    return this.passSecondFactor(users.userView(found), found.tokenVersion, totpCode, { ...origin, sourceIp: ip }, 'password');
  }

  /**
   * The second step of a sign-in that needed a code: the challenge from the first step (so the password is
   * not sent again) and the current code. Throttled, audited and replay-checked like the one-step form.
   */
  async completeSignIn(challenge: string, totpCode: string, origin: RequestOrigin = {}): Promise<SignInResult> {
    const ip = origin.sourceIp ?? 'unknown';
    const claims = await this.tokens.verifyChallenge(challenge);
    if (claims === null) throw unauthenticated('The sign-in has expired; please sign in again');
    const found = typeof claims.sub === 'string' && UUID.test(claims.sub) ? await users.findUserById(this.pool, claims.sub) : null;
    // A password change, disabling or a reset of the second factor since the password step voids the challenge.
    if (!found || found.disabled || found.tokenVersion !== claims.ver) throw unauthenticated('The sign-in has expired; please sign in again');
    const user = users.userView(found);
    const limited = await this.limiter.refusal(user.username, ip);
    if (limited !== null) {
      await this.context.audit.record({
        ...this.context.audit.loginEvent(user.username, 8, 'rate-limited', { ...origin, sourceIp: ip }, 'totp', user),
        details: { subtype: 'Login', method: 'totp', reason: 'rate-limited', limit: limited.limit },
      });
      throw tooManyAttempts(limited.retryAfterSeconds);
    }
    return this.passSecondFactor(user, found.tokenVersion, totpCode, { ...origin, sourceIp: ip }, 'totp');
  }

  /**
   * After the password (or a challenge): a user with a confirmed TOTP gives the current code, accepted once; a
   * user of a role that requires one and has none enrols first (the secret and otpauth URI in the 401, the
   * first code confirms it and makes the recovery codes, returned once). A user with a confirmed generator may
   * give one of their recovery codes instead (spent with it). Wrong codes count as failed sign-ins. The audit
   * records say which step and why, never a code or secret.
   */
  private async passSecondFactor(user: UserView, tokenVersion: number, code: string | undefined, origin: RequestOrigin, method: 'password' | 'totp'): Promise<SignInResult> {
    const ip = origin.sourceIp ?? 'unknown';
    const audit = this.context.audit;
    const event = (outcome: 0 | 4, reason: string | null): AuthAuditEvent => audit.loginEvent(user.username, outcome, reason, origin, method, user);
    const state = await this.secondFactor.state(user.id);
    const required = this.secondFactorRoles.has(user.role);
    // Optional for this role: only a confirmed generator asks for a code (one being set up does not yet).
    if (!required && state?.confirmed !== true) {
      await this.limiter.reset(user.username, ip);
      const pair = await this.sessions.start(user, tokenVersion, ip, origin.userAgent ?? null);
      await audit.record(event(0, null));
      return pair;
    }
    const challenge = await this.tokens.issueChallenge(user.id, tokenVersion);
    const enrolling = state === null || !state.confirmed;
    if (code === undefined || code.trim() === '') {
      if (!enrolling) {
        await audit.record(event(4, 'totp-required'));
        throw new AppError('unauthenticated', 'A one-time code is required', { details: { totpRequired: true, challenge } });
      }
      const enrolment = await this.secondFactor.pendingEnrolment(user, state);
      await audit.record(event(4, 'totp-enrolment-required'));
      throw new AppError('unauthenticated', 'Set up a one-time code generator to sign in: add the key to an authenticator app, then enter its current code', {
        details: { totpRequired: true, totpEnrolmentRequired: true, challenge, ...enrolment },
      });
    }
    const accepted = state !== null && (await this.secondFactor.acceptCode(user.id, state, code.trim()));
    // Only a confirmed generator has recovery codes; while enrolling, the first code must come from the app.
    const recovered = !accepted && !enrolling && (await this.secondFactor.acceptRecoveryCode(user.id, code));
    if (!accepted && !recovered) {
      await this.limiter.recordFailure(user.username, ip);
      await audit.record(event(4, enrolling ? 'bad-totp-enrolment' : 'bad-totp'));
      // While enrolling, the key again (the caller passed the password step), so a page can keep showing it.
      const enrolment = enrolling ? { totpEnrolmentRequired: true, ...(await this.secondFactor.pendingEnrolment(user, state)) } : {};
      throw new AppError('unauthenticated', INVALID_CODE, { details: { totpRequired: true, ...enrolment, challenge } });
    }
    let recoveryCodes: string[] | undefined;
    if (enrolling) {
      recoveryCodes = await this.secondFactor.issueRecoveryCodes(this.pool, user.id);
      await audit.admin({ actor: principalOfUser(user), sourceIp: ip, requestId: origin.requestId ?? null }, 'totp-enabled', {
        targetUserId: user.id,
        atSignIn: true,
        recoveryCodes: recoveryCodes.length,
      });
    }
    const recoveryCodesLeft = recovered ? await this.secondFactor.remainingRecoveryCodes(user.id) : undefined;
    await this.limiter.reset(user.username, ip);
    const pair = await this.sessions.start(user, tokenVersion, ip, origin.userAgent ?? null);
    await audit.record({
      ...event(0, null),
      details: { subtype: 'Login', method, secondFactor: recovered ? 'recovery-code' : 'totp', ...(recovered ? { recoveryCodesLeft } : {}) },
    });
    return { ...pair, ...(recoveryCodes !== undefined ? { recoveryCodes } : {}), ...(recoveryCodesLeft !== undefined ? { recoveryCodesLeft } : {}) };
  }
}
