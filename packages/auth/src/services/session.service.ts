import { inTransaction, type Pool } from '@yunying/catalog';
import { auditActor, type Principal } from '../principal';
import { keyedHash, randomSecret } from '../secrets';
import { principalOfUser, unauthenticated, UUID, type AuthContext } from '../auth.shared';
import type { OwnSessionView, RequestOrigin, TokenPair, UserView } from '../auth.types';
import * as sessions from '../repositories/sessions.repository';
import * as users from '../repositories/users.repository';
import type { TokenIssuer } from './token-issuer';

export interface SessionSettings {
  refreshTokenTtlSeconds: number;
  /** Absolute session lifetime; refresh never extends a session beyond it. */
  sessionMaxSeconds: number;
  /** Peppers refresh-token hashes. */
  refreshPepper: Buffer;
}

/**
 * Sessions and their tokens. Every request re-reads the user and session (one indexed query): a disabled
 * user, a revoked session or a changed role or password refuses the token at once, and grants are always
 * current. Refresh tokens are random, stored as peppered hashes, rotated on every use; presenting a used one
 * revokes the session.
 */
export class SessionService {
  constructor(
    private readonly pool: Pool,
    private readonly tokens: TokenIssuer,
    private readonly settings: SessionSettings,
    private readonly context: AuthContext,
  ) {}

  async start(user: UserView, tokenVersion: number, sourceIp: string, userAgent: string | null = null): Promise<TokenPair> {
    const now = this.context.now();
    const sessionEnd = new Date(now.getTime() + this.settings.sessionMaxSeconds * 1000);
    const refreshToken = randomSecret();
    const refreshExpires = new Date(Math.min(now.getTime() + this.settings.refreshTokenTtlSeconds * 1000, sessionEnd.getTime()));
    const sessionId = await inTransaction(this.pool, async (client) => {
      const id = await sessions.insertSession(client, { userId: user.id, createdAt: now, expiresAt: sessionEnd, sourceIp, userAgent: userAgent?.slice(0, 256) ?? null });
      if (!id) throw new Error('session insert returned no row');
      await sessions.insertRefreshToken(client, { sessionId: id, tokenHash: this.refreshHash(refreshToken), issuedAt: now, expiresAt: refreshExpires });
      return id;
    });
    const principal = principalOfUser(user, sessionId);
    const access = await this.tokens.issueAccessToken(principal, tokenVersion);
    return { ...access, refreshToken, refreshTokenExpiresAt: refreshExpires, principal };
  }

  /** Exchanges a refresh token for a new pair. The old token is spent; a spent token presented again revokes the session. */
  async refresh(refreshToken: string, origin: RequestOrigin = {}): Promise<TokenPair> {
    const now = this.context.now();
    const tokenHash = this.refreshHash(refreshToken);
    type Outcome = { kind: 'ok'; pair: Omit<TokenPair, 'accessToken' | 'accessTokenExpiresAt'>; version: number } | { kind: 'refused' } | { kind: 'reuse'; user: UserView };
    const outcome = await inTransaction(this.pool, async (client): Promise<Outcome> => {
      const token = await sessions.lockRefreshToken(client, tokenHash);
      if (!token) return { kind: 'refused' };
      const record = await users.findUserById(client, token.userId);
      if (!record) return { kind: 'refused' };
      const user = users.userView(record);
      if (token.usedAt !== null) {
        if (token.sessionRevokedAt === null) {
          await sessions.revokeSession(client, token.sessionId, now, 'refresh-token-reuse');
          return { kind: 'reuse', user };
        }
        return { kind: 'refused' };
      }
      if (token.sessionRevokedAt !== null || token.sessionExpiresAt <= now || token.expiresAt <= now || user.disabled) return { kind: 'refused' };
      const next = randomSecret();
      const nextExpires = new Date(Math.min(now.getTime() + this.settings.refreshTokenTtlSeconds * 1000, token.sessionExpiresAt.getTime()));
      const nextId = await sessions.insertRefreshToken(client, { sessionId: token.sessionId, tokenHash: this.refreshHash(next), issuedAt: now, expiresAt: nextExpires });
      await sessions.markRefreshTokenUsed(client, token.id, now, nextId);
      return {
        kind: 'ok',
        version: record.tokenVersion,
        pair: { refreshToken: next, refreshTokenExpiresAt: nextExpires, principal: principalOfUser(user, token.sessionId) },
      };
    });
    switch (outcome.kind) {
      case 'refused':
        throw unauthenticated('Refresh token invalid, expired or revoked');
      case 'reuse':
        await this.context.audit.record({
          type: 'Security Alert',
          outcome: 8,
          actor: { userId: outcome.user.id, username: outcome.user.username, role: outcome.user.role, clinicId: outcome.user.clinicId },
          sourceIp: origin.sourceIp ?? null,
          requestId: origin.requestId ?? null,
          details: { subtype: 'Use of a revoked credential', reason: 'refresh-token-reuse', action: 'session-revoked' },
        });
        throw unauthenticated('Refresh token invalid, expired or revoked');
      case 'ok': {
        const access = await this.tokens.issueAccessToken(outcome.pair.principal, outcome.version);
        return { ...access, ...outcome.pair };
      }
    }
  }

  /** Revokes the session of a refresh token or of an access token's principal. Idempotent. */
  async signOut(credential: { refreshToken?: string; sessionId?: string }, origin: RequestOrigin = {}): Promise<boolean> {
    const session = await sessions.signOutSession(
      this.pool,
      {
        sessionId: credential.sessionId && UUID.test(credential.sessionId) ? credential.sessionId : null,
        refreshTokenHash: credential.refreshToken ? this.refreshHash(credential.refreshToken) : null,
      },
      this.context.now(),
    );
    if (!session) return false;
    const user = UUID.test(session.userId) ? await users.findUserById(this.pool, session.userId) : null;
    await this.context.audit.record({
      type: 'User Authentication',
      outcome: 0,
      actor: { userId: session.userId, username: user?.username ?? 'unknown', role: user?.role ?? null, clinicId: user?.clinicId ?? null },
      sourceIp: origin.sourceIp ?? null,
      requestId: origin.requestId ?? null,
      details: { subtype: 'Logout' },
    });
    return true;
  }

  async authenticateAccessToken(token: string): Promise<Principal> {
    const claims = await this.tokens.verifyAccessToken(token);
    const found = await users.findUserOfSession(this.pool, claims.sessionId, claims.userId);
    if (!found || found.disabled || found.tokenVersion !== claims.tokenVersion || found.sessionRevokedAt !== null || found.sessionExpiresAt <= this.context.now()) {
      throw unauthenticated('Access token revoked');
    }
    return principalOfUser(users.userView(found), claims.sessionId);
  }

  /** Whether a session of this user is neither revoked nor past its end (tokens of the embedded OIDC provider hang on one). */
  async isActive(sessionId: string, userId: string): Promise<boolean> {
    if (!UUID.test(sessionId) || !UUID.test(userId)) return false;
    return sessions.isSessionActive(this.pool, sessionId, userId, this.context.now());
  }

  /** The caller's own sessions that are neither revoked nor ended, newest first; `current` marks this one. */
  async listOwn(principal: Principal): Promise<OwnSessionView[]> {
    if (principal.userId === undefined) return [];
    const open = await sessions.listOpenSessions(this.pool, principal.userId, this.context.now());
    return open.map((s) => ({ ...s, current: s.id === principal.sessionId }));
  }

  /** Revokes one of the caller's own sessions (its access and refresh tokens stop working at once). */
  async revokeOwn(principal: Principal, sessionId: string, origin: RequestOrigin = {}): Promise<boolean> {
    if (principal.userId === undefined || !UUID.test(sessionId)) return false;
    if (!(await sessions.revokeOwnSession(this.pool, sessionId, principal.userId))) return false;
    await this.context.audit.record({
      type: 'User Authentication',
      outcome: 0,
      actor: auditActor(principal),
      sourceIp: origin.sourceIp ?? null,
      requestId: origin.requestId ?? null,
      details: { subtype: 'Logout', reason: 'session-revoked-by-user', sessionId },
    });
    return true;
  }

  private refreshHash(token: string): string {
    return keyedHash(this.settings.refreshPepper, token);
  }
}
