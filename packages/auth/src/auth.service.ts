import type { Pool } from '@yunying/catalog';
import type { Config } from '@yunying/config';
import type { Principal, Role } from './principal';
import { derivePepper } from './secrets';
import { DEFAULT_SIGN_IN_LIMITS, SignInLimiter, type SignInLimits } from './sign-in-limiter';
import { CredentialAlerts } from './credential-alerts';
import { TotpSecrets } from './totp';
import type { Queryable } from './queryable';
import type { AuthAuditSink } from './auth.audit';
import { AuditRecorder, type AuthContext } from './auth.shared';
import type { AdminContext, ApiKeyView, ClinicView, CreatedApiKey, DimseAuthPolicy, DormancyPolicy, OwnSessionView, RequestOrigin, SecondFactorStatus, SignInResult, TokenPair, UserListEntry, UserView } from './auth.types';
import { TokenIssuer } from './services/token-issuer';
import { SessionService } from './services/session.service';
import { SignInService } from './services/sign-in.service';
import { SecondFactorService } from './services/second-factor.service';
import { RecoveryCodes } from './recovery-codes';
import { DORMANT_AFTER_DAYS, UsersService, type SystemActor } from './services/users.service';
import { ClinicsService } from './services/clinics.service';
import { ApiKeysService } from './services/api-keys.service';
import { principalForAeTitle } from './services/dimse-principals.service';

export type { AuthAuditEvent, AuthAuditSink } from './auth.audit';
export type * from './auth.types';
export { normalizeUsername, principalOfUser } from './auth.shared';
export { INVALID_CODE } from './services/sign-in.service';

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
  /** AUTH_DORMANT_DISABLE_DAYS, told to the admin's Users page (the keeper does the disabling). Default 0: off. */
  dormantDisableDays?: number;
  /** Clock, for tests of expiry. */
  now?: () => Date;
}

/**
 * The one entry point other packages use for users, sessions, tokens, API keys, clinics and grants. It only
 * wires the services of each concern (services/) together; they keep their SQL in repositories/.
 */
export class AuthService {
  readonly accessTokenTtlSeconds: number;
  readonly refreshTokenTtlSeconds: number;
  readonly dormancy: DormancyPolicy;
  private readonly pool: Pool;
  private readonly credentialAlerts: CredentialAlerts;
  private readonly sessions: SessionService;
  private readonly signIns: SignInService;
  private readonly secondFactor: SecondFactorService;
  private readonly secondFactorRoles: ReadonlySet<Role>;
  private readonly users: UsersService;
  private readonly clinics: ClinicsService;
  private readonly apiKeys: ApiKeysService;
  private readonly audit: AuditRecorder;

  constructor(options: AuthServiceOptions) {
    if (options.tokenSecret.length < 32) throw new Error('tokenSecret must be at least 32 characters');
    const now = options.now ?? ((): Date => new Date());
    const context: AuthContext = { now, audit: new AuditRecorder(options.audit) };
    this.audit = context.audit;
    const pool = options.pool;
    this.pool = pool;
    this.accessTokenTtlSeconds = options.accessTokenTtlSeconds;
    this.refreshTokenTtlSeconds = options.refreshTokenTtlSeconds;
    this.dormancy = { flagAfterDays: DORMANT_AFTER_DAYS, disableAfterDays: options.dormantDisableDays ? options.dormantDisableDays : null };
    const limiter = new SignInLimiter(pool, { ...DEFAULT_SIGN_IN_LIMITS, ...options.signInLimits }, now);
    const tokens = new TokenIssuer(options.tokenSecret, options.accessTokenTtlSeconds, now);
    this.credentialAlerts = new CredentialAlerts((event) => context.audit.record(event), now);
    this.sessions = new SessionService(
      pool,
      tokens,
      {
        refreshTokenTtlSeconds: options.refreshTokenTtlSeconds,
        sessionMaxSeconds: options.sessionMaxSeconds ?? options.refreshTokenTtlSeconds,
        refreshPepper: derivePepper(options.tokenSecret, 'refresh-token'),
      },
      context,
    );
    this.users = new UsersService(pool, limiter, tokens, context);
    this.secondFactor = new SecondFactorService(
      pool,
      new TotpSecrets(derivePepper(options.tokenSecret, 'totp-secrets')),
      new RecoveryCodes(derivePepper(options.tokenSecret, 'recovery-codes')),
      this.users,
      context,
    );
    this.secondFactorRoles = new Set(options.secondFactorRoles ?? []);
    this.signIns = new SignInService(pool, limiter, tokens, this.sessions, this.secondFactor, this.secondFactorRoles, context);
    this.clinics = new ClinicsService(pool, this.users, options.retentionMinYears ?? 15, context);
    this.apiKeys = new ApiKeysService(pool, derivePepper(options.tokenSecret, 'api-key'), context);
  }

  static fromConfig(config: Config, pool: Pool, audit?: AuthAuditSink): AuthService {
    return new AuthService({
      pool,
      tokenSecret: config.auth.tokenSecret,
      accessTokenTtlSeconds: config.auth.accessTokenTtlSeconds,
      refreshTokenTtlSeconds: config.auth.refreshTokenTtlSeconds,
      retentionMinYears: config.retentionMinYears,
      secondFactorRoles: config.auth.secondFactorRoles,
      dormantDisableDays: config.auth.dormantDisableDays,
      ...(audit ? { audit } : {}),
    });
  }

  async credentialRefused(credential: 'api-key' | 'access-token', reason: string, sourceIp: string | null): Promise<void> {
    await this.credentialAlerts.refused(credential, reason, sourceIp);
  }

  // ---- sign-in, sessions, tokens (services/sign-in, services/session) ----------------------------

  signIn(username: string, password: string, origin: RequestOrigin = {}, totpCode?: string): Promise<SignInResult> {
    return this.signIns.signIn(username, password, origin, totpCode);
  }

  completeSignIn(challenge: string, totpCode: string, origin: RequestOrigin = {}): Promise<SignInResult> {
    return this.signIns.completeSignIn(challenge, totpCode, origin);
  }

  refresh(refreshToken: string, origin: RequestOrigin = {}): Promise<TokenPair> {
    return this.sessions.refresh(refreshToken, origin);
  }

  signOut(credential: { refreshToken?: string; sessionId?: string }, origin: RequestOrigin = {}): Promise<boolean> {
    return this.sessions.signOut(credential, origin);
  }

  authenticateAccessToken(token: string): Promise<Principal> {
    return this.sessions.authenticateAccessToken(token);
  }

  isSessionActive(sessionId: string, userId: string): Promise<boolean> {
    return this.sessions.isActive(sessionId, userId);
  }

  /** An external identity provider's token for a role that needs a second factor showed none (refused). */
  async externalSecondFactorMissing(user: UserView, origin: RequestOrigin): Promise<void> {
    await this.audit.record(this.audit.loginEvent(user.username, 4, 'oidc-second-factor-missing', origin, 'oidc', user));
  }

  listOwnSessions(principal: Principal): Promise<OwnSessionView[]> {
    return this.sessions.listOwn(principal);
  }

  revokeOwnSession(principal: Principal, sessionId: string, origin: RequestOrigin = {}): Promise<boolean> {
    return this.sessions.revokeOwn(principal, sessionId, origin);
  }

  // ---- devices: API keys and DIMSE AE titles ------------------------------------------------------

  authenticateApiKey(key: string): Promise<Principal> {
    return this.apiKeys.authenticate(key);
  }

  principalForAeTitle(aeTitle: string): Promise<Principal | null> {
    return principalForAeTitle(this.pool, aeTitle);
  }

  listApiKeys(clinicId?: string): Promise<ApiKeyView[]> {
    return this.apiKeys.list(clinicId);
  }

  createApiKey(input: { clinicId: string; name: string; expiresAt?: Date | null }, context?: AdminContext, db?: Queryable): Promise<CreatedApiKey> {
    return this.apiKeys.create(input, context, db);
  }

  rotateApiKey(id: string, context?: AdminContext): Promise<CreatedApiKey> {
    return this.apiKeys.rotate(id, context);
  }

  revokeApiKey(id: string, context?: AdminContext): Promise<ApiKeyView> {
    return this.apiKeys.revoke(id, context);
  }

  // ---- users and passwords (services/users) --------------------------------------------------------

  getUser(id: string, db?: Queryable): Promise<UserView | null> {
    return this.users.getUser(id, db);
  }

  findUserByUsername(username: string): Promise<UserView | null> {
    return this.users.findUserByUsername(username);
  }

  listUsers(): Promise<UserListEntry[]> {
    return this.users.listUsers();
  }

  /** Disables the accounts unused for `afterDays` (AUTH_DORMANT_DISABLE_DAYS; the keeper's loop), audited as `actor`. */
  disableDormantAccounts(afterDays: number, actor: SystemActor): Promise<{ id: string; username: string }[]> {
    return this.users.disableDormant(afterDays, actor);
  }

  createUser(input: { username: string; displayName?: string; role: Role; clinicId?: string | null; password: string }, context?: AdminContext, db?: Queryable): Promise<UserView> {
    return this.users.createUser(input, context, db);
  }

  updateUser(id: string, change: { displayName?: string; password?: string; disabled?: boolean }, context?: AdminContext): Promise<UserView> {
    return this.users.updateUser(id, change, context);
  }

  changeOwnPassword(
    principal: Principal,
    currentPassword: string,
    newPassword: string,
    origin: RequestOrigin = {},
  ): Promise<{ accessToken: string; accessTokenExpiresAt: Date; otherSessionsRevoked: number }> {
    return this.users.changeOwnPassword(principal, currentPassword, newPassword, origin);
  }

  // ---- second factor (services/second-factor) ------------------------------------------------------

  enrollTotp(principal: Principal, currentPassword: string, origin: RequestOrigin = {}): Promise<{ secret: string; uri: string }> {
    return this.secondFactor.enroll(principal, currentPassword, origin);
  }

  confirmTotp(principal: Principal, code: string, origin: RequestOrigin = {}): Promise<{ recoveryCodes: string[] }> {
    return this.secondFactor.confirm(principal, code, origin);
  }

  regenerateRecoveryCodes(principal: Principal, currentPassword: string, origin: RequestOrigin = {}): Promise<{ recoveryCodes: string[] }> {
    return this.secondFactor.regenerateRecoveryCodes(principal, currentPassword, origin);
  }

  secondFactorStatus(principal: Principal): Promise<SecondFactorStatus> {
    return this.secondFactor.status(principal, this.secondFactorRoles.has(principal.role));
  }

  listSessionsOfUser(userId: string): Promise<Omit<OwnSessionView, 'current'>[]> {
    return this.users.listSessions(userId);
  }

  endSessionsOfUser(userId: string, context: AdminContext): Promise<number> {
    return this.users.endSessions(userId, context);
  }

  resetTotp(userId: string, context: AdminContext): Promise<void> {
    return this.secondFactor.reset(userId, context);
  }

  // ---- clinics and grants (services/clinics) -------------------------------------------------------

  listClinics(): Promise<ClinicView[]> {
    return this.clinics.listClinics();
  }

  createClinic(
    input: { code: string; name: string; retentionYears?: number; aeTitles?: string[]; dimseAuth?: DimseAuthPolicy },
    context?: AdminContext,
    db?: Queryable,
  ): Promise<ClinicView> {
    return this.clinics.createClinic(input, context, db);
  }

  addAeTitle(clinicId: string, aeTitle: string, context?: AdminContext): Promise<{ created: boolean }> {
    return this.clinics.addAeTitle(clinicId, aeTitle, context);
  }

  removeAeTitle(clinicId: string, aeTitle: string, context?: AdminContext): Promise<boolean> {
    return this.clinics.removeAeTitle(clinicId, aeTitle, context);
  }

  grantClinic(userId: string, clinicId: string, context?: AdminContext): Promise<void> {
    return this.clinics.grantClinic(userId, clinicId, context);
  }

  revokeGrant(userId: string, clinicId: string, context?: AdminContext): Promise<boolean> {
    return this.clinics.revokeGrant(userId, clinicId, context);
  }
}
