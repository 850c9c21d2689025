import { jwtVerify, SignJWT, errors as joseErrors } from 'jose';
import { AppError } from '@yunying/core';
import { inTransaction, type Pool } from '@yunying/catalog';
import type { Config } from '@yunying/config';
import { isRole, type Principal, type Role } from './principal';
import { burnPasswordCheck, hashPassword, verifyPassword } from './password';
import { assertPasswordAcceptable, type PasswordContext } from './password-policy';
import { derivePepper, formatApiKey, hashesEqual, keyedHash, parseApiKey, randomPrefix, randomSecret } from './secrets';
import { DEFAULT_SIGN_IN_LIMITS, SignInLimiter, tooManyAttempts, type SignInLimits } from './sign-in-limiter';
import { auditActor as auditActorOf } from './principal';
import { recordAccountChange } from './stewardship';
import { CredentialAlerts } from './credential-alerts';
import { TotpSecrets } from './totp';
import type { Queryable } from './queryable';
import type { AuthAuditEvent, AuthAuditSink } from './auth.audit';

export type { AuthAuditEvent, AuthAuditSink } from './auth.audit';

export interface RequestOrigin {
  sourceIp?: string | null;
  requestId?: string | null;
}

/** An administrative change: who made it (audited as a Security Alert, PS3.15 A.5.3.11). */
export interface AdminContext extends RequestOrigin {
  actor: Principal;
}

export interface TokenPair {
  accessToken: string;
  accessTokenExpiresAt: Date;
  refreshToken: string;
  refreshTokenExpiresAt: Date;
  principal: Principal;
}

export interface UserView {
  id: string;
  username: string;
  displayName: string;
  role: Role;
  clinicId: string | null;
  disabled: boolean;
  grants: string[];
  createdAt: Date;
}

export interface ClinicView {
  id: string;
  code: string;
  name: string;
  retentionYears: number;
  aeTitles: string[];
  /** DIMSE policy (migration 0901): 'credentials' (TLS certificate or user identity) or 'ae_only'. */
  dimseAuth: DimseAuthPolicy;
  createdAt: Date;
}

export type DimseAuthPolicy = 'credentials' | 'ae_only';

export interface ApiKeyView {
  id: string;
  clinicId: string;
  name: string;
  keyPrefix: string;
  createdAt: Date;
  lastUsedAt: Date | null;
  expiresAt: Date | null;
  revokedAt: Date | null;
  replacedBy: string | null;
}

/** Returned once, at creation or rotation: the plaintext key is never stored and cannot be shown again. */
export interface CreatedApiKey extends ApiKeyView {
  key: string;
}

export interface AuthServiceOptions {
  pool: Pool;
  /** AUTH_TOKEN_SECRET: signs access tokens; peppers refresh-token and API-key hashes. */
  tokenSecret: string;
  accessTokenTtlSeconds: number;
  refreshTokenTtlSeconds: number;
  /** Absolute session lifetime; refresh never extends a session beyond it. Default: the refresh TTL. */
  sessionMaxSeconds?: number;
  /** The global retention floor a clinic's policy may not go below (RETENTION_MIN_YEARS). */
  retentionMinYears?: number;
  audit?: AuthAuditSink;
  signInLimits?: Partial<SignInLimits>;
  /**
   * Roles that must give a TOTP code at every sign-in (AUTH_SECOND_FACTOR=privileged); a user of one of them
   * without a confirmed generator enrols during sign-in, before getting a session. Default: none.
   */
  secondFactorRoles?: readonly Role[];
  /** Clock, for tests of expiry. */
  now?: () => Date;
}

const ISSUER = 'yunying';
const AUDIENCE = 'yunying';
/** The audience of a second-factor challenge: never accepted as an access token (that needs AUDIENCE). */
const CHALLENGE_AUDIENCE = 'yunying-second-factor';
/** How long the password step stays good for giving the code (and, when enrolling, for setting up the app). */
const CHALLENGE_TTL_SECONDS = 600;
/** The message of a wrong or replayed code (sign-in pages tell it from a wrong password by it). */
export const INVALID_CODE = 'Invalid one-time code';
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
const USERNAME = /^[a-z0-9][a-z0-9._-]{1,62}$/;
const CLINIC_CODE = /^[a-z0-9][a-z0-9-]{1,62}$/;
const AE_TITLE = /^[\x20-\x5b\x5d-\x7e]{1,16}$/;

function unauthenticated(message = 'Authentication required'): AppError {
  return new AppError('unauthenticated', message);
}

function pgCode(error: unknown): string | undefined {
  const code = typeof error === 'object' && error !== null ? (error as { code?: unknown }).code : undefined;
  return typeof code === 'string' ? code : undefined;
}

export function normalizeUsername(username: string): string {
  return username.trim().toLowerCase();
}

interface UserRow {
  id: string;
  username: string;
  display_name: string;
  role: string;
  clinic_id: string | null;
  disabled: boolean;
  token_version: number;
  grants: string[];
  created_at: Date;
}

const USER_COLUMNS = `u.id::text, u.username, u.display_name, u.role, u.clinic_id::text, u.disabled, u.token_version, u.created_at,
  ARRAY(SELECT g.clinic_id::text FROM radiologist_grants g WHERE g.user_id = u.id ORDER BY 1) AS grants`;

function userView(row: UserRow): UserView {
  if (!isRole(row.role)) throw new Error('users.role outside the schema check');
  return {
    id: row.id,
    username: row.username,
    displayName: row.display_name,
    role: row.role,
    clinicId: row.clinic_id,
    disabled: row.disabled,
    grants: row.grants,
    createdAt: row.created_at,
  };
}

export function principalOfUser(user: UserView, sessionId?: string): Principal {
  const base = { kind: 'user' as const, userId: user.id, username: user.username, role: user.role, ...(sessionId ? { sessionId } : {}) };
  switch (user.role) {
    case 'clinic':
      return { ...base, clinicId: user.clinicId, clinics: { all: false, clinicIds: user.clinicId ? [user.clinicId] : [] } };
    case 'radiologist':
      return { ...base, clinicId: null, clinics: { all: false, clinicIds: user.grants } };
    case 'auditor':
    case 'admin':
      return { ...base, clinicId: null, clinics: { all: true } };
  }
}

interface ApiKeyRow {
  id: string;
  clinic_id: string;
  name: string;
  key_prefix: string;
  created_at: Date;
  last_used_at: Date | null;
  expires_at: Date | null;
  revoked_at: Date | null;
  replaced_by: string | null;
}

const API_KEY_COLUMNS = 'id::text, clinic_id::text, name, key_prefix, created_at, last_used_at, expires_at, revoked_at, replaced_by::text';

function apiKeyView(row: ApiKeyRow): ApiKeyView {
  return {
    id: row.id,
    clinicId: row.clinic_id,
    name: row.name,
    keyPrefix: row.key_prefix,
    createdAt: row.created_at,
    lastUsedAt: row.last_used_at,
    expiresAt: row.expires_at,
    revokedAt: row.revoked_at,
    replacedBy: row.replaced_by,
  };
}

/**
 * Users, sessions, tokens, API keys, clinics and grants.
 *
 * Access tokens are HS256 JWTs (sub = user id, sid = session id, ver = the user's token_version, role).
 * Every request re-reads the user and session (one indexed query): a disabled user, a revoked session or
 * a changed role or password refuses the token at once, and grants are always current. Refresh tokens are
 * random, stored as peppered hashes, rotated on every use; presenting a used one revokes the session.
 */
export class AuthService {
  private readonly pool: Pool;
  private readonly signingKey: Uint8Array;
  private readonly apiKeyPepper: Buffer;
  private readonly refreshPepper: Buffer;
  private readonly limiter: SignInLimiter;
  private readonly credentialAlerts: CredentialAlerts;
  private readonly totp: TotpSecrets;
  private readonly now: () => Date;
  readonly accessTokenTtlSeconds: number;
  readonly refreshTokenTtlSeconds: number;
  private readonly sessionMaxSeconds: number;
  private readonly retentionMinYears: number;
  private readonly audit: AuthAuditSink | undefined;
  private readonly secondFactorRoles: ReadonlySet<Role>;

  constructor(options: AuthServiceOptions) {
    if (options.tokenSecret.length < 32) throw new Error('tokenSecret must be at least 32 characters');
    this.pool = options.pool;
    this.signingKey = new TextEncoder().encode(options.tokenSecret);
    this.apiKeyPepper = derivePepper(options.tokenSecret, 'api-key');
    this.refreshPepper = derivePepper(options.tokenSecret, 'refresh-token');
    this.now = options.now ?? (() => new Date());
    this.limiter = new SignInLimiter(this.pool, { ...DEFAULT_SIGN_IN_LIMITS, ...options.signInLimits }, this.now);
    this.credentialAlerts = new CredentialAlerts((event) => this.record(event), this.now);
    this.totp = new TotpSecrets(derivePepper(options.tokenSecret, 'totp-secrets'));
    this.accessTokenTtlSeconds = options.accessTokenTtlSeconds;
    this.refreshTokenTtlSeconds = options.refreshTokenTtlSeconds;
    this.sessionMaxSeconds = options.sessionMaxSeconds ?? options.refreshTokenTtlSeconds;
    this.retentionMinYears = options.retentionMinYears ?? 15;
    this.audit = options.audit;
    this.secondFactorRoles = new Set(options.secondFactorRoles ?? []);
  }

  static fromConfig(config: Config, pool: Pool, audit?: AuthAuditSink): AuthService {
    return new AuthService({
      pool,
      tokenSecret: config.auth.tokenSecret,
      accessTokenTtlSeconds: config.auth.accessTokenTtlSeconds,
      refreshTokenTtlSeconds: config.auth.refreshTokenTtlSeconds,
      retentionMinYears: config.retentionMinYears,
      secondFactorRoles: config.auth.secondFactorRoles,
      ...(audit ? { audit } : {}),
    });
  }

  async credentialRefused(credential: 'api-key' | 'access-token', reason: string, sourceIp: string | null): Promise<void> {
    await this.credentialAlerts.refused(credential, reason, sourceIp);
  }

  private async record(event: AuthAuditEvent): Promise<void> {
    if (this.audit) await this.audit.append(event);
  }

  private async recordAdmin(context: AdminContext, change: string, details: Record<string, string | number | boolean | null | string[]>, clinicId?: string | null): Promise<void> {
    await this.record({
      type: 'Security Alert',
      outcome: 0,
      actor: { userId: context.actor.userId ?? null, username: context.actor.username, role: context.actor.role, clinicId: context.actor.clinicId },
      sourceIp: context.sourceIp ?? null,
      requestId: context.requestId ?? null,
      clinicId: clinicId ?? null,
      details: { subtype: 'Security Configuration', change, ...details },
    });
  }

  // ---- sign-in, refresh, sign-out -------------------------------------------------------------

  async signIn(username: string, password: string, origin: RequestOrigin = {}, totpCode?: string): Promise<TokenPair> {
    const name = normalizeUsername(username).slice(0, 64);
    const ip = origin.sourceIp ?? 'unknown';
    const authEvent = (outcome: 0 | 4 | 8, reason: string | null, user?: UserView): AuthAuditEvent =>
      this.loginEvent(name, outcome, reason, { ...origin, sourceIp: ip }, 'password', user);
    const limited = await this.limiter.refusal(name, ip);
    if (limited !== null) {
      await this.record({ ...authEvent(8, 'rate-limited'), details: { subtype: 'Login', method: 'password', reason: 'rate-limited', limit: limited.limit } });
      throw tooManyAttempts(limited.retryAfterSeconds);
    }
    const found = USERNAME.test(name)
      ? await this.pool.query<UserRow & { password_hash: string }>(`SELECT ${USER_COLUMNS}, u.password_hash FROM users u WHERE u.username = $1`, [name])
      : undefined;
    const row = found?.rows[0];
    let reason: string | null = null;
    if (!row) {
      await burnPasswordCheck(password);
      reason = 'unknown-user';
    } else if (!(await verifyPassword(row.password_hash, password))) {
      reason = 'bad-password';
    } else if (row.disabled) {
      reason = 'disabled';
    }
    if (reason !== null || !row) {
      await this.limiter.recordFailure(name, ip);
      await this.record(authEvent(4, reason ?? 'unknown-user', row ? userView(row) : undefined));
      throw unauthenticated('Invalid username or password');
    }
    const user = userView(row);
    return this.passSecondFactor(user, row.token_version, totpCode, { ...origin, sourceIp: ip }, 'password');
  }

  /**
   * The second step of a sign-in that needed a code: the challenge from the first step (so the password is
   * not sent again) and the current code. Throttled, audited and replay-checked like the one-step form.
   */
  async completeSignIn(challenge: string, totpCode: string, origin: RequestOrigin = {}): Promise<TokenPair> {
    const ip = origin.sourceIp ?? 'unknown';
    let claims: { sub?: string; ver?: unknown };
    try {
      claims = (await jwtVerify(challenge, this.signingKey, { algorithms: ['HS256'], issuer: ISSUER, audience: CHALLENGE_AUDIENCE, currentDate: this.now() })).payload;
    } catch {
      throw unauthenticated('The sign-in has expired; please sign in again');
    }
    const found = typeof claims.sub === 'string' && UUID.test(claims.sub) ? await this.pool.query<UserRow>(`SELECT ${USER_COLUMNS} FROM users u WHERE u.id = $1`, [claims.sub]) : undefined;
    const row = found?.rows[0];
    // A password change, disabling or a reset of the second factor since the password step voids the challenge.
    if (!row || row.disabled || row.token_version !== claims.ver) throw unauthenticated('The sign-in has expired; please sign in again');
    const user = userView(row);
    const tokenVersion = row.token_version;
    const limited = await this.limiter.refusal(user.username, ip);
    if (limited !== null) {
      await this.record({ ...this.loginEvent(user.username, 8, 'rate-limited', { ...origin, sourceIp: ip }, 'totp', user), details: { subtype: 'Login', method: 'totp', reason: 'rate-limited', limit: limited.limit } });
      throw tooManyAttempts(limited.retryAfterSeconds);
    }
    return this.passSecondFactor(user, tokenVersion, totpCode, { ...origin, sourceIp: ip }, 'totp');
  }

  private loginEvent(username: string, outcome: 0 | 4 | 8, reason: string | null, origin: RequestOrigin, method: 'password' | 'totp', user?: UserView): AuthAuditEvent {
    return {
      type: 'User Authentication',
      outcome,
      actor: { userId: user?.id ?? null, username: username || 'unknown', role: user?.role ?? null, clinicId: user?.clinicId ?? null },
      sourceIp: origin.sourceIp ?? 'unknown',
      requestId: origin.requestId ?? null,
      details: { subtype: 'Login', method, ...(reason ? { reason } : {}) },
    };
  }

  /**
   * After the password (or a challenge): a user with a confirmed TOTP gives the current code, accepted once; a
   * user of a role that requires one and has none enrols first (the secret and otpauth URI in the 401, the
   * first code confirms it). Wrong codes count as failed sign-ins. The audit records say which step and why,
   * never a code or secret.
   */
  private async passSecondFactor(user: UserView, tokenVersion: number, code: string | undefined, origin: RequestOrigin, method: 'password' | 'totp'): Promise<TokenPair> {
    const ip = origin.sourceIp ?? 'unknown';
    const event = (outcome: 0 | 4, reason: string | null): AuthAuditEvent => this.loginEvent(user.username, outcome, reason, origin, method, user);
    const state = await this.totpState(user.id);
    const required = this.secondFactorRoles.has(user.role);
    // Optional for this role: only a confirmed generator asks for a code (one being set up does not yet).
    if (!required && state?.confirmed !== true) {
      await this.limiter.reset(user.username, ip);
      const pair = await this.startSession(user, tokenVersion, ip);
      await this.record(event(0, null));
      return pair;
    }
    const challenge = await this.issueChallenge(user.id, tokenVersion);
    const enrolling = state === null || !state.confirmed;
    if (code === undefined || code.trim() === '') {
      if (!enrolling) {
        await this.record(event(4, 'totp-required'));
        throw new AppError('unauthenticated', 'A one-time code is required', { details: { totpRequired: true, challenge } });
      }
      const enrolment = await this.pendingEnrolment(user, state);
      await this.record(event(4, 'totp-enrolment-required'));
      throw new AppError('unauthenticated', 'Set up a one-time code generator to sign in: add the key to an authenticator app, then enter its current code', {
        details: { totpRequired: true, totpEnrolmentRequired: true, challenge, ...enrolment },
      });
    }
    const accepted = state !== null && (await this.acceptCode(user.id, state, code.trim()));
    if (!accepted) {
      await this.limiter.recordFailure(user.username, ip);
      await this.record(event(4, enrolling ? 'bad-totp-enrolment' : 'bad-totp'));
      // While enrolling, the key again (the caller passed the password step), so a page can keep showing it.
      const enrolment = enrolling ? { totpEnrolmentRequired: true, ...(await this.pendingEnrolment(user, state)) } : {};
      throw new AppError('unauthenticated', INVALID_CODE, { details: { totpRequired: true, ...enrolment, challenge } });
    }
    if (enrolling) {
      await this.recordAdmin({ actor: principalOfUser(user), sourceIp: ip, requestId: origin.requestId ?? null }, 'totp-enabled', { targetUserId: user.id, atSignIn: true });
    }
    await this.limiter.reset(user.username, ip);
    const pair = await this.startSession(user, tokenVersion, ip);
    await this.record({ ...event(0, null), details: { subtype: 'Login', method, secondFactor: 'totp' } });
    return pair;
  }

  private async issueChallenge(userId: string, tokenVersion: number): Promise<string> {
    const nowSeconds = Math.floor(this.now().getTime() / 1000);
    return new SignJWT({ ver: tokenVersion })
      .setProtectedHeader({ alg: 'HS256', typ: 'JWT' })
      .setSubject(userId)
      .setIssuer(ISSUER)
      .setAudience(CHALLENGE_AUDIENCE)
      .setIssuedAt(nowSeconds)
      .setExpirationTime(nowSeconds + CHALLENGE_TTL_SECONDS)
      .sign(this.signingKey);
  }

  private async totpState(userId: string): Promise<{ sealed: string; confirmed: boolean; lastStep: number } | null> {
    const { rows } = await this.pool.query<{ secret_sealed: string; confirmed: boolean; last_step: string }>(
      'SELECT secret_sealed, confirmed_at IS NOT NULL AS confirmed, last_step::text FROM user_totp WHERE user_id = $1',
      [userId],
    );
    const row = rows[0];
    return row ? { sealed: row.secret_sealed, confirmed: row.confirmed, lastStep: Number(row.last_step) } : null;
  }

  /**
   * The secret a sign-in enrolment shows: the one awaiting confirmation when there is one (a reload of the page
   * shows the key already added to the app), else a new one.
   */
  private async pendingEnrolment(user: UserView, state: { sealed: string; confirmed: boolean } | null): Promise<{ secret: string; uri: string }> {
    let secret = state !== null && !state.confirmed ? this.totp.open(user.id, state.sealed) : null;
    if (secret === null) {
      secret = this.totp.newSecret();
      const stored = await this.pool.query(
        `INSERT INTO user_totp (user_id, secret_sealed) VALUES ($1, $2)
         ON CONFLICT (user_id) DO UPDATE SET secret_sealed = excluded.secret_sealed, last_step = 0, created_at = now() WHERE user_totp.confirmed_at IS NULL`,
        [user.id, this.totp.seal(user.id, secret)],
      );
      if (!stored.rowCount) throw unauthenticated('The sign-in has expired; please sign in again');
    }
    return { secret, uri: this.totp.uri(secret, user.username) };
  }

  /**
   * Whether `code` is current for the user's secret and later than the last accepted one; the step is recorded
   * with a conditional update, so two requests with the same code cannot both pass. A code for a pending
   * secret also confirms it.
   */
  private async acceptCode(userId: string, state: { sealed: string; lastStep: number }, code: string): Promise<boolean> {
    const step = this.totp.check(this.totp.open(userId, state.sealed), code, state.lastStep, this.now());
    if (step === null) return false;
    const used = await this.pool.query(
      'UPDATE user_totp SET last_step = $2, confirmed_at = coalesce(confirmed_at, now()) WHERE user_id = $1 AND last_step < $2 AND secret_sealed = $3',
      [userId, step, state.sealed],
    );
    return (used.rowCount ?? 0) > 0;
  }

  private async startSession(user: UserView, tokenVersion: number, sourceIp: string): Promise<TokenPair> {
    const now = this.now();
    const sessionEnd = new Date(now.getTime() + this.sessionMaxSeconds * 1000);
    const refreshToken = randomSecret();
    const refreshExpires = new Date(Math.min(now.getTime() + this.refreshTokenTtlSeconds * 1000, sessionEnd.getTime()));
    const sessionId = await inTransaction(this.pool, async (client) => {
      const session = await client.query<{ id: string }>(
        'INSERT INTO sessions (user_id, created_at, expires_at, source_ip) VALUES ($1, $2, $3, $4) RETURNING id::text',
        [user.id, now, sessionEnd, sourceIp],
      );
      const id = session.rows[0]?.id;
      if (!id) throw new Error('session insert returned no row');
      await client.query('INSERT INTO refresh_tokens (session_id, token_hash, issued_at, expires_at) VALUES ($1, $2, $3, $4)', [
        id,
        keyedHash(this.refreshPepper, refreshToken),
        now,
        refreshExpires,
      ]);
      return id;
    });
    const principal = principalOfUser(user, sessionId);
    const access = await this.issueAccessToken(principal, tokenVersion);
    return { ...access, refreshToken, refreshTokenExpiresAt: refreshExpires, principal };
  }

  private async issueAccessToken(principal: Principal, tokenVersion: number): Promise<{ accessToken: string; accessTokenExpiresAt: Date }> {
    const nowSeconds = Math.floor(this.now().getTime() / 1000);
    const exp = nowSeconds + this.accessTokenTtlSeconds;
    const accessToken = await new SignJWT({ sid: principal.sessionId, ver: tokenVersion, role: principal.role, name: principal.username })
      .setProtectedHeader({ alg: 'HS256', typ: 'JWT' })
      .setSubject(principal.userId ?? '')
      .setIssuer(ISSUER)
      .setAudience(AUDIENCE)
      .setIssuedAt(nowSeconds)
      .setExpirationTime(exp)
      .sign(this.signingKey);
    return { accessToken, accessTokenExpiresAt: new Date(exp * 1000) };
  }

  /** Exchanges a refresh token for a new pair. The old token is spent; a spent token presented again revokes the session. */
  async refresh(refreshToken: string, origin: RequestOrigin = {}): Promise<TokenPair> {
    const now = this.now();
    const tokenHash = keyedHash(this.refreshPepper, refreshToken);
    type Outcome = { kind: 'ok'; pair: Omit<TokenPair, 'accessToken' | 'accessTokenExpiresAt'>; user: UserView; version: number } | { kind: 'refused' } | { kind: 'reuse'; user: UserView };
    const outcome = await inTransaction(this.pool, async (client): Promise<Outcome> => {
      const found = await client.query<{ id: string; session_id: string; expires_at: Date; used_at: Date | null; user_id: string; s_revoked: Date | null; s_expires: Date }>(
        `SELECT rt.id::text, rt.session_id::text, rt.expires_at, rt.used_at, s.user_id::text, s.revoked_at AS s_revoked, s.expires_at AS s_expires
           FROM refresh_tokens rt JOIN sessions s ON s.id = rt.session_id WHERE rt.token_hash = $1 FOR UPDATE OF rt, s`,
        [tokenHash],
      );
      const token = found.rows[0];
      if (!token) return { kind: 'refused' };
      const users = await client.query<UserRow>(`SELECT ${USER_COLUMNS} FROM users u WHERE u.id = $1`, [token.user_id]);
      const userRow = users.rows[0];
      if (!userRow) return { kind: 'refused' };
      const user = userView(userRow);
      if (token.used_at !== null) {
        if (token.s_revoked === null) {
          await client.query("UPDATE sessions SET revoked_at = $2, revoked_reason = 'refresh-token-reuse' WHERE id = $1", [token.session_id, now]);
          return { kind: 'reuse', user };
        }
        return { kind: 'refused' };
      }
      if (token.s_revoked !== null || token.s_expires <= now || token.expires_at <= now || user.disabled) return { kind: 'refused' };
      const next = randomSecret();
      const nextExpires = new Date(Math.min(now.getTime() + this.refreshTokenTtlSeconds * 1000, token.s_expires.getTime()));
      const inserted = await client.query<{ id: string }>(
        'INSERT INTO refresh_tokens (session_id, token_hash, issued_at, expires_at) VALUES ($1, $2, $3, $4) RETURNING id::text',
        [token.session_id, keyedHash(this.refreshPepper, next), now, nextExpires],
      );
      await client.query('UPDATE refresh_tokens SET used_at = $2, replaced_by = $3 WHERE id = $1', [token.id, now, inserted.rows[0]?.id]);
      return {
        kind: 'ok',
        user,
        version: userRow.token_version,
        pair: { refreshToken: next, refreshTokenExpiresAt: nextExpires, principal: principalOfUser(user, token.session_id) },
      };
    });
    switch (outcome.kind) {
      case 'refused':
        throw unauthenticated('Refresh token invalid, expired or revoked');
      case 'reuse':
        await this.record({
          type: 'Security Alert',
          outcome: 8,
          actor: { userId: outcome.user.id, username: outcome.user.username, role: outcome.user.role, clinicId: outcome.user.clinicId },
          sourceIp: origin.sourceIp ?? null,
          requestId: origin.requestId ?? null,
          details: { subtype: 'Use of a revoked credential', reason: 'refresh-token-reuse', action: 'session-revoked' },
        });
        throw unauthenticated('Refresh token invalid, expired or revoked');
      case 'ok': {
        const access = await this.issueAccessToken(outcome.pair.principal, outcome.version);
        return { ...access, ...outcome.pair };
      }
    }
  }

  /** Revokes the session of a refresh token or of an access token's principal. Idempotent. */
  async signOut(credential: { refreshToken?: string; sessionId?: string }, origin: RequestOrigin = {}): Promise<boolean> {
    const now = this.now();
    const { rows } = await this.pool.query<{ id: string; user_id: string }>(
      `UPDATE sessions s SET revoked_at = $3, revoked_reason = 'sign-out'
        WHERE s.revoked_at IS NULL AND (s.id = $1::uuid OR s.id = (SELECT session_id FROM refresh_tokens WHERE token_hash = $2))
        RETURNING s.id::text, s.user_id::text`,
      [credential.sessionId && UUID.test(credential.sessionId) ? credential.sessionId : null, credential.refreshToken ? keyedHash(this.refreshPepper, credential.refreshToken) : null, now],
    );
    const session = rows[0];
    if (!session) return false;
    const user = await this.getUser(session.user_id);
    await this.record({
      type: 'User Authentication',
      outcome: 0,
      actor: { userId: session.user_id, username: user?.username ?? 'unknown', role: user?.role ?? null, clinicId: user?.clinicId ?? null },
      sourceIp: origin.sourceIp ?? null,
      requestId: origin.requestId ?? null,
      details: { subtype: 'Logout' },
    });
    return true;
  }

  // ---- per-request authentication -------------------------------------------------------------

  async authenticateAccessToken(token: string): Promise<Principal> {
    let claims: { sub?: string; sid?: unknown; ver?: unknown };
    try {
      const verified = await jwtVerify(token, this.signingKey, {
        algorithms: ['HS256'],
        issuer: ISSUER,
        audience: AUDIENCE,
        currentDate: this.now(),
      });
      claims = verified.payload;
    } catch (error) {
      if (error instanceof joseErrors.JWTExpired) throw unauthenticated('Access token expired');
      throw unauthenticated('Access token invalid');
    }
    const { sub, sid, ver } = claims;
    if (typeof sub !== 'string' || !UUID.test(sub) || typeof sid !== 'string' || !UUID.test(sid) || typeof ver !== 'number') {
      throw unauthenticated('Access token invalid');
    }
    const { rows } = await this.pool.query<UserRow & { s_revoked: Date | null; s_expires: Date }>(
      `SELECT ${USER_COLUMNS}, s.revoked_at AS s_revoked, s.expires_at AS s_expires
         FROM sessions s JOIN users u ON u.id = s.user_id WHERE s.id = $1 AND u.id = $2`,
      [sid, sub],
    );
    const row = rows[0];
    if (!row || row.disabled || row.token_version !== ver || row.s_revoked !== null || row.s_expires <= this.now()) {
      throw unauthenticated('Access token revoked');
    }
    return principalOfUser(userView(row), sid);
  }

  /** Whether a session of this user is neither revoked nor past its end (tokens of the embedded OIDC provider hang on one). */
  async isSessionActive(sessionId: string, userId: string): Promise<boolean> {
    if (!UUID.test(sessionId) || !UUID.test(userId)) return false;
    const { rows } = await this.pool.query<{ ok: boolean }>(
      'SELECT (revoked_at IS NULL AND expires_at > $3) AS ok FROM sessions WHERE id = $1 AND user_id = $2',
      [sessionId, userId, this.now()],
    );
    return rows[0]?.ok === true;
  }

  async authenticateApiKey(key: string): Promise<Principal> {
    const parsed = parseApiKey(key.trim());
    if (!parsed) throw unauthenticated('API key invalid');
    const { rows } = await this.pool.query<ApiKeyRow & { key_hash: string }>(`SELECT ${API_KEY_COLUMNS}, key_hash FROM api_keys WHERE key_prefix = $1`, [parsed.prefix]);
    const row = rows[0];
    // The hash comparison runs even for an unknown prefix, so timing does not tell prefixes apart.
    const ok = hashesEqual(keyedHash(this.apiKeyPepper, key.trim()), row?.key_hash ?? '0'.repeat(64));
    const now = this.now();
    if (!row || !ok) throw unauthenticated('API key invalid');
    if (row.revoked_at !== null) throw unauthenticated('API key revoked');
    if (row.expires_at !== null && row.expires_at <= now) throw unauthenticated('API key expired');
    // At most one write a minute per key, so busy uploaders do not turn every request into an UPDATE.
    await this.pool.query("UPDATE api_keys SET last_used_at = $2::timestamptz WHERE id = $1 AND (last_used_at IS NULL OR last_used_at < $2::timestamptz - interval '1 minute')", [row.id, now]);
    return {
      kind: 'device',
      apiKeyId: row.id,
      username: `device:${row.name}`,
      role: 'clinic',
      clinicId: row.clinic_id,
      clinics: { all: false, clinicIds: [row.clinic_id] },
    };
  }

  /** DIMSE: the calling AE title is the sender's only credential; it binds the association to one clinic. */
  async principalForAeTitle(aeTitle: string): Promise<Principal | null> {
    const ae = aeTitle.trim();
    const { rows } = await this.pool.query<{ clinic_id: string }>('SELECT clinic_id::text FROM clinic_ae_titles WHERE ae_title = $1', [ae]);
    const row = rows[0];
    if (!row) return null;
    return { kind: 'device', username: `ae:${ae}`, role: 'clinic', clinicId: row.clinic_id, clinics: { all: false, clinicIds: [row.clinic_id] } };
  }

  // ---- users and grants ------------------------------------------------------------------------

  // ---- self-service: own password and sessions (#17 finding 6) -----------------------------------

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
    const ip = origin.sourceIp ?? 'unknown';
    const limited = await this.limiter.refusal(principal.username, ip);
    if (limited !== null) throw tooManyAttempts(limited.retryAfterSeconds);
    const { rows } = await this.pool.query<UserRow & { password_hash: string }>(`SELECT ${USER_COLUMNS}, u.password_hash FROM users u WHERE u.id = $1`, [principal.userId]);
    const row = rows[0];
    if (!row || row.disabled) throw unauthenticated('Access token revoked');
    if (!(await verifyPassword(row.password_hash, currentPassword))) {
      await this.limiter.recordFailure(principal.username, ip);
      await this.record({ type: 'User Authentication', outcome: 4, actor: auditActorOf(principal), sourceIp: ip, requestId: origin.requestId ?? null, details: { subtype: 'Password Change', reason: 'bad-password' } });
      throw new AppError('forbidden', 'The current password is not correct');
    }
    assertPasswordAcceptable(newPassword, await this.passwordContext(row.username, row.clinic_id));
    if (await verifyPassword(row.password_hash, newPassword)) throw new AppError('bad_request', 'Password refused: the same as the current one');
    const hash = await hashPassword(newPassword);
    const { version, revokedCount } = await inTransaction(this.pool, async (client) => {
      const updated = await client.query<{ token_version: number }>(
        'UPDATE users SET password_hash = $2, token_version = token_version + 1, updated_at = now() WHERE id = $1 RETURNING token_version',
        [row.id, hash],
      );
      const revoked = await client.query(
        "UPDATE sessions SET revoked_at = now(), revoked_reason = 'password-changed' WHERE user_id = $1 AND id <> $2 AND revoked_at IS NULL",
        [row.id, principal.sessionId],
      );
      await this.recordAdmin({ actor: principal, sourceIp: ip, ...(origin.requestId ? { requestId: origin.requestId } : {}) }, 'own-password-changed', { targetUserId: row.id, otherSessionsRevoked: revoked.rowCount ?? 0 });
      return { version: updated.rows[0]?.token_version ?? row.token_version + 1, revokedCount: revoked.rowCount ?? 0 };
    });
    const access = await this.issueAccessToken(principalOfUser(userView(row), principal.sessionId), version);
    return { ...access, otherSessionsRevoked: revokedCount };
  }

  /** Starts (or restarts, while unconfirmed) TOTP enrolment: the current password is required. */
  async enrollTotp(principal: Principal, currentPassword: string, origin: RequestOrigin = {}): Promise<{ secret: string; uri: string }> {
    const row = await this.verifyOwnPassword(principal, currentPassword, origin);
    const existing = await this.pool.query<{ confirmed: boolean }>('SELECT confirmed_at IS NOT NULL AS confirmed FROM user_totp WHERE user_id = $1', [row.id]);
    if (existing.rows[0]?.confirmed) throw new AppError('conflict', 'A one-time code generator is already set up');
    const secret = this.totp.newSecret();
    await this.pool.query(
      `INSERT INTO user_totp (user_id, secret_sealed) VALUES ($1, $2)
       ON CONFLICT (user_id) DO UPDATE SET secret_sealed = excluded.secret_sealed, last_step = 0, created_at = now() WHERE user_totp.confirmed_at IS NULL`,
      [row.id, this.totp.seal(row.id, secret)],
    );
    return { secret, uri: this.totp.uri(secret, row.username) };
  }

  /** Confirms enrolment with a current code; from then on sign-in needs a code. */
  async confirmTotp(principal: Principal, code: string, origin: RequestOrigin = {}): Promise<void> {
    if (principal.kind !== 'user' || principal.userId === undefined) throw new AppError('forbidden', 'Only a signed-in user can set up a second factor');
    const { rows } = await this.pool.query<{ secret_sealed: string }>('SELECT secret_sealed FROM user_totp WHERE user_id = $1 AND confirmed_at IS NULL', [principal.userId]);
    const row = rows[0];
    if (!row) throw new AppError('conflict', 'No enrolment awaiting confirmation');
    const step = this.totp.check(this.totp.open(principal.userId, row.secret_sealed), code.trim(), 0, this.now());
    if (step === null) throw new AppError('bad_request', 'The one-time code is not valid');
    await this.pool.query('UPDATE user_totp SET confirmed_at = now(), last_step = $2 WHERE user_id = $1', [principal.userId, step]);
    await this.recordAdmin({ actor: principal, sourceIp: origin.sourceIp ?? null, requestId: origin.requestId ?? null }, 'totp-enabled', { targetUserId: principal.userId });
  }

  private async verifyOwnPassword(principal: Principal, password: string, origin: RequestOrigin): Promise<UserRow & { password_hash: string }> {
    if (principal.kind !== 'user' || principal.userId === undefined) throw new AppError('forbidden', 'Only a signed-in user can do this');
    const ip = origin.sourceIp ?? 'unknown';
    const limited = await this.limiter.refusal(principal.username, ip);
    if (limited !== null) throw tooManyAttempts(limited.retryAfterSeconds);
    const { rows } = await this.pool.query<UserRow & { password_hash: string }>(`SELECT ${USER_COLUMNS}, u.password_hash FROM users u WHERE u.id = $1`, [principal.userId]);
    const row = rows[0];
    if (!row || row.disabled) throw unauthenticated('Access token revoked');
    if (!(await verifyPassword(row.password_hash, password))) {
      await this.limiter.recordFailure(principal.username, ip);
      throw new AppError('forbidden', 'The current password is not correct');
    }
    return row;
  }

  /** The caller's own sessions that are neither revoked nor ended, newest first; `current` marks this one. */
  async listOwnSessions(principal: Principal): Promise<{ id: string; createdAt: Date; expiresAt: Date; sourceIp: string | null; current: boolean }[]> {
    if (principal.userId === undefined) return [];
    const { rows } = await this.pool.query<{ id: string; created_at: Date; expires_at: Date; source_ip: string | null }>(
      'SELECT id::text, created_at, expires_at, source_ip FROM sessions WHERE user_id = $1 AND revoked_at IS NULL AND expires_at > $2 ORDER BY created_at DESC LIMIT 100',
      [principal.userId, this.now()],
    );
    return rows.map((r) => ({ id: r.id, createdAt: r.created_at, expiresAt: r.expires_at, sourceIp: r.source_ip, current: r.id === principal.sessionId }));
  }

  /** Revokes one of the caller's own sessions (its access and refresh tokens stop working at once). */
  async revokeOwnSession(principal: Principal, sessionId: string, origin: RequestOrigin = {}): Promise<boolean> {
    if (principal.userId === undefined || !UUID.test(sessionId)) return false;
    const { rowCount } = await this.pool.query(
      "UPDATE sessions SET revoked_at = now(), revoked_reason = 'revoked-by-user' WHERE id = $1 AND user_id = $2 AND revoked_at IS NULL",
      [sessionId, principal.userId],
    );
    if (!rowCount) return false;
    await this.record({ type: 'User Authentication', outcome: 0, actor: auditActorOf(principal), sourceIp: origin.sourceIp ?? null, requestId: origin.requestId ?? null, details: { subtype: 'Logout', reason: 'session-revoked-by-user', sessionId } });
    return true;
  }

  /** What a password must not be built on: the user name and the user's clinic (its code and name). */
  private async passwordContext(username: string, clinicId: string | null, db: Queryable = this.pool): Promise<PasswordContext> {
    if (clinicId === null) return { username };
    const { rows } = await db.query<{ code: string; name: string }>('SELECT code, name FROM clinics WHERE id = $1', [clinicId]);
    const clinic = rows[0];
    return { username, words: clinic ? [clinic.code, clinic.name] : [] };
  }

  async getUser(id: string, db: Queryable = this.pool): Promise<UserView | null> {
    if (!UUID.test(id)) return null;
    const { rows } = await db.query<UserRow>(`SELECT ${USER_COLUMNS} FROM users u WHERE u.id = $1`, [id]);
    return rows[0] ? userView(rows[0]) : null;
  }

  async findUserByUsername(username: string): Promise<UserView | null> {
    const { rows } = await this.pool.query<UserRow>(`SELECT ${USER_COLUMNS} FROM users u WHERE u.username = $1`, [normalizeUsername(username)]);
    return rows[0] ? userView(rows[0]) : null;
  }

  async listUsers(): Promise<UserView[]> {
    const { rows } = await this.pool.query<UserRow>(`SELECT ${USER_COLUMNS} FROM users u ORDER BY u.username`);
    return rows.map(userView);
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
      const { rows } = await db.query<{ id: string }>(
        'INSERT INTO users (username, display_name, role, clinic_id, password_hash) VALUES ($1, $2, $3, $4, $5) RETURNING id::text',
        [username, input.displayName ?? '', input.role, clinicId, passwordHash],
      );
      id = rows[0]?.id;
    } catch (error) {
      if (pgCode(error) === '23505') throw new AppError('conflict', 'Username already taken');
      if (pgCode(error) === '23503') throw new AppError('bad_request', 'Unknown clinic');
      throw error;
    }
    const user = id ? await this.getUser(id, db) : null;
    if (!user) throw new Error('user insert returned no row');
    await recordAccountChange(db, user.id, context?.actor.userId, 'created');
    if (context) await this.recordAdmin(context, 'user-created', { targetUserId: user.id, targetUsername: user.username, role: user.role }, clinicId);
    return user;
  }

  /** Changing the password, role-relevant state or disabling bumps token_version: existing access tokens stop working at once. */
  async updateUser(id: string, change: { displayName?: string; password?: string; disabled?: boolean }, context?: AdminContext): Promise<UserView> {
    const current = await this.getUser(id);
    if (!current) throw new AppError('not_found', 'No such user');
    if (change.password !== undefined) assertPasswordAcceptable(change.password, await this.passwordContext(current.username, current.clinicId));
    const passwordHash = change.password !== undefined ? await hashPassword(change.password) : null;
    const bump = passwordHash !== null || change.disabled !== undefined;
    await inTransaction(this.pool, async (client) => {
      await client.query(
        `UPDATE users SET display_name = coalesce($2, display_name), password_hash = coalesce($3, password_hash),
            disabled = coalesce($4, disabled), token_version = token_version + $5, updated_at = now() WHERE id = $1`,
        [id, change.displayName ?? null, passwordHash, change.disabled ?? null, bump ? 1 : 0],
      );
      if (bump) await client.query("UPDATE sessions SET revoked_at = now(), revoked_reason = 'credentials-changed' WHERE user_id = $1 AND revoked_at IS NULL", [id]);
      await recordAccountChange(client, id, context?.actor.userId, 'updated');
    });
    const updated = await this.getUser(id);
    if (!updated) throw new AppError('not_found', 'No such user');
    if (context) {
      await this.recordAdmin(context, 'user-updated', {
        targetUserId: id,
        passwordChanged: passwordHash !== null,
        ...(change.disabled !== undefined ? { disabled: change.disabled } : {}),
      });
    }
    return updated;
  }

  /**
   * Removes a user's TOTP generator (a lost or replaced phone), by an admin for another user: the next sign-in
   * of a role that requires a second factor enrols again. The user's sessions end (whoever holds the lost
   * device may be signed in) and the change counts for four eyes like any other change of the account.
   * Idempotent: without a generator nothing changes.
   */
  async resetTotp(userId: string, context: AdminContext): Promise<void> {
    if (context.actor.userId === userId) throw new AppError('forbidden', 'Another admin resets your own second factor');
    const user = await this.getUser(userId);
    if (!user) throw new AppError('not_found', 'No such user');
    const removed = await inTransaction(this.pool, async (client) => {
      const deleted = await client.query('DELETE FROM user_totp WHERE user_id = $1', [userId]);
      if (!deleted.rowCount) return false;
      await client.query('UPDATE users SET token_version = token_version + 1, updated_at = now() WHERE id = $1', [userId]);
      await client.query("UPDATE sessions SET revoked_at = now(), revoked_reason = 'second-factor-reset' WHERE user_id = $1 AND revoked_at IS NULL", [userId]);
      await recordAccountChange(client, userId, context.actor.userId, 'updated');
      return true;
    });
    if (removed) await this.recordAdmin(context, 'totp-reset', { targetUserId: userId, targetUsername: user.username });
  }

  async grantClinic(userId: string, clinicId: string, context?: AdminContext): Promise<void> {
    const user = await this.getUser(userId);
    if (!user) throw new AppError('not_found', 'No such user');
    if (user.role !== 'radiologist') throw new AppError('bad_request', 'Only radiologists are granted clinics');
    if (!UUID.test(clinicId)) throw new AppError('bad_request', 'clinicId must be a uuid');
    try {
      await this.pool.query('INSERT INTO radiologist_grants (user_id, clinic_id, granted_by) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING', [
        userId,
        clinicId,
        context?.actor.userId ?? null,
      ]);
    } catch (error) {
      if (pgCode(error) === '23503') throw new AppError('bad_request', 'Unknown clinic');
      throw error;
    }
    await recordAccountChange(this.pool, userId, context?.actor.userId, 'grant-added');
    if (context) await this.recordAdmin(context, 'grant-added', { targetUserId: userId }, clinicId);
  }

  async revokeGrant(userId: string, clinicId: string, context?: AdminContext): Promise<boolean> {
    if (!UUID.test(userId) || !UUID.test(clinicId)) return false;
    const { rowCount } = await this.pool.query('DELETE FROM radiologist_grants WHERE user_id = $1 AND clinic_id = $2', [userId, clinicId]);
    if (rowCount) await recordAccountChange(this.pool, userId, context?.actor.userId, 'grant-revoked');
    if (rowCount && context) await this.recordAdmin(context, 'grant-revoked', { targetUserId: userId }, clinicId);
    return (rowCount ?? 0) > 0;
  }

  // ---- clinics ---------------------------------------------------------------------------------

  async listClinics(): Promise<ClinicView[]> {
    const { rows } = await this.pool.query<{ id: string; code: string; name: string; retention_years: number; ae_titles: string[]; dimse_auth: DimseAuthPolicy; created_at: Date }>(
      `SELECT c.id::text, c.code, c.name, c.retention_years, c.dimse_auth, c.created_at,
              ARRAY(SELECT a.ae_title FROM clinic_ae_titles a WHERE a.clinic_id = c.id ORDER BY 1) AS ae_titles
         FROM clinics c ORDER BY c.code`,
    );
    return rows.map((r) => ({ id: r.id, code: r.code, name: r.name, retentionYears: r.retention_years, aeTitles: r.ae_titles, dimseAuth: r.dimse_auth, createdAt: r.created_at }));
  }

  async createClinic(
    input: { code: string; name: string; retentionYears?: number; aeTitles?: string[]; dimseAuth?: DimseAuthPolicy },
    context?: AdminContext,
    db?: Queryable,
  ): Promise<ClinicView> {
    if (!CLINIC_CODE.test(input.code)) throw new AppError('bad_request', 'Clinic code: 2-63 characters of a-z, 0-9, "-"');
    const retentionYears = input.retentionYears ?? this.retentionMinYears;
    if (!Number.isInteger(retentionYears) || retentionYears < this.retentionMinYears) {
      throw new AppError('bad_request', `Retention: at least ${this.retentionMinYears} years`);
    }
    const aeTitles = (input.aeTitles ?? []).map((a) => a.trim());
    if (aeTitles.some((a) => !AE_TITLE.test(a))) throw new AppError('bad_request', 'AE titles: 1-16 printable ASCII characters, no backslash');
    const write = async (client: Queryable): Promise<string> => {
      // Without an explicit policy the column default applies: credentials required (migration 0901).
      const { rows } =
        input.dimseAuth === undefined
          ? await client.query<{ id: string }>('INSERT INTO clinics (code, name, retention_years) VALUES ($1, $2, $3) RETURNING id::text', [input.code, input.name, retentionYears])
          : await client.query<{ id: string }>('INSERT INTO clinics (code, name, retention_years, dimse_auth) VALUES ($1, $2, $3, $4) RETURNING id::text', [
              input.code,
              input.name,
              retentionYears,
              input.dimseAuth,
            ]);
      const id = rows[0]?.id;
      if (!id) throw new Error('clinic insert returned no row');
      for (const ae of aeTitles) await client.query('INSERT INTO clinic_ae_titles (ae_title, clinic_id) VALUES ($1, $2)', [ae, id]);
      return id;
    };
    let id: string;
    try {
      id = db ? await write(db) : await inTransaction(this.pool, write);
    } catch (error) {
      if (pgCode(error) === '23505') throw new AppError('conflict', 'Clinic code or AE title already in use');
      throw error;
    }
    const clinic = (await this.listClinics()).find((c) => c.id === id);
    if (context) await this.recordAdmin(context, 'clinic-created', { code: input.code, aeTitles, dimseAuth: clinic?.dimseAuth ?? 'credentials' }, id);
    return clinic ?? { id, code: input.code, name: input.name, retentionYears, aeTitles, dimseAuth: input.dimseAuth ?? 'credentials', createdAt: this.now() };
  }

  // ---- API keys --------------------------------------------------------------------------------

  async listApiKeys(clinicId?: string): Promise<ApiKeyView[]> {
    const { rows } = await this.pool.query<ApiKeyRow>(
      `SELECT ${API_KEY_COLUMNS} FROM api_keys WHERE $1::uuid IS NULL OR clinic_id = $1::uuid ORDER BY created_at`,
      [clinicId && UUID.test(clinicId) ? clinicId : null],
    );
    return rows.map(apiKeyView);
  }

  async createApiKey(input: { clinicId: string; name: string; expiresAt?: Date | null }, context?: AdminContext, db: Queryable = this.pool): Promise<CreatedApiKey> {
    if (!UUID.test(input.clinicId)) throw new AppError('bad_request', 'clinicId must be a uuid');
    if (input.name.length < 1 || input.name.length > 100) throw new AppError('bad_request', 'Name: 1-100 characters');
    const created = await this.insertApiKey(db, input.clinicId, input.name, input.expiresAt ?? null, context?.actor.userId ?? null);
    if (context) await this.recordAdmin(context, 'api-key-created', { apiKeyId: created.id, keyPrefix: created.keyPrefix }, input.clinicId);
    return created;
  }

  private async insertApiKey(db: Queryable, clinicId: string, name: string, expiresAt: Date | null, createdBy: string | null): Promise<CreatedApiKey> {
    const prefix = randomPrefix();
    const key = formatApiKey(prefix, randomSecret());
    try {
      const { rows } = await db.query<ApiKeyRow>(
        `INSERT INTO api_keys (clinic_id, name, key_prefix, key_hash, expires_at, created_by) VALUES ($1, $2, $3, $4, $5, $6) RETURNING ${API_KEY_COLUMNS}`,
        [clinicId, name, prefix, keyedHash(this.apiKeyPepper, key), expiresAt, createdBy],
      );
      const row = rows[0];
      if (!row) throw new Error('api key insert returned no row');
      return { ...apiKeyView(row), key };
    } catch (error) {
      if (pgCode(error) === '23503') throw new AppError('bad_request', 'Unknown clinic');
      throw error;
    }
  }

  /** Issues a new key with the same clinic, name and expiry and revokes the old one, atomically. */
  async rotateApiKey(id: string, context?: AdminContext): Promise<CreatedApiKey> {
    if (!UUID.test(id)) throw new AppError('not_found', 'No such API key');
    const created = await inTransaction(this.pool, async (client) => {
      const { rows } = await client.query<ApiKeyRow>(`SELECT ${API_KEY_COLUMNS} FROM api_keys WHERE id = $1 FOR UPDATE`, [id]);
      const old = rows[0];
      if (!old) throw new AppError('not_found', 'No such API key');
      if (old.revoked_at !== null) throw new AppError('conflict', 'API key already revoked');
      const next = await this.insertApiKey(client, old.clinic_id, old.name, old.expires_at, context?.actor.userId ?? null);
      await client.query('UPDATE api_keys SET revoked_at = $2, replaced_by = $3 WHERE id = $1', [id, this.now(), next.id]);
      return next;
    });
    if (context) await this.recordAdmin(context, 'api-key-rotated', { apiKeyId: id, newApiKeyId: created.id }, created.clinicId);
    return created;
  }

  async revokeApiKey(id: string, context?: AdminContext): Promise<ApiKeyView> {
    if (!UUID.test(id)) throw new AppError('not_found', 'No such API key');
    const { rows } = await this.pool.query<ApiKeyRow>(
      `UPDATE api_keys SET revoked_at = coalesce(revoked_at, $2) WHERE id = $1 RETURNING ${API_KEY_COLUMNS}`,
      [id, this.now()],
    );
    const row = rows[0];
    if (!row) throw new AppError('not_found', 'No such API key');
    if (context) await this.recordAdmin(context, 'api-key-revoked', { apiKeyId: id }, row.clinic_id);
    return apiKeyView(row);
  }
}
