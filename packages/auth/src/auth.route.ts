import express, { type CookieOptions, type Request, type Response } from 'express';
import { z } from 'zod';
import { AppError } from '@yunying/core';
// Brings in req.requestId (set by createServiceApp's request-context middleware).
import type {} from '@yunying/http';
import type { AdminContext, AuthService, SignInResult, TokenPair } from './auth.service';
import { ACCESS_COOKIE, assertSameOrigin, cookieName, readCookie, readCredential, REFRESH_COOKIE } from './middleware';
import { ROLES, type Principal } from './principal';
import { SecureRouter, type AuthedRequest } from './secure-router';
import { parseInput } from './validation';

export interface AuthRouterOptions {
  /** Secure cookies: 'auto' (default) sets Secure when the request came over https (req.secure, behind a trusted proxy too). */
  secureCookies?: boolean | 'auto';
  /** Router name in the route registry (default 'auth'). */
  name?: string;
  /**
   * Also run by the web app's sign-out, for the browser's other sign-ins on this origin: the embedded OIDC
   * provider's session (OHIF), so that one sign-out signs the browser out of both (#15).
   */
  alsoSignOutBrowser?: (exchange: { req: Request; res: Response }) => Promise<unknown>;
}

const json = express.json({ limit: '64kb' });
const uuid = z.string().regex(/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/);

const signInBody = z.object({
  username: z.string().min(1).max(200).optional(),
  password: z.string().min(1).max(1024).optional(),
  /**
   * The current TOTP code (or one of the user's recovery codes, `xxxxx-xxxxx`): with the password, or with
   * `challenge` (the second step of a sign-in whose 401 said totpRequired, so the password is not sent twice).
   */
  totp: z.string().max(20).optional(),
  challenge: z.string().min(1).max(2000).optional(),
  /** browser (default): tokens in httpOnly cookies, the access token also in the body; api: both tokens in the body, no cookies. */
  client: z.enum(['browser', 'api']).default('browser'),
});

const refreshBody = z.object({ refreshToken: z.string().min(1).max(200).optional() });

export function principalView(principal: Principal): Record<string, unknown> {
  return {
    kind: principal.kind,
    userId: principal.userId ?? null,
    username: principal.username,
    role: principal.role,
    clinicId: principal.clinicId,
    clinics: principal.clinics.all ? 'all' : principal.clinics.clinicIds,
  };
}

function origin(req: Request): { sourceIp: string | null; requestId: string | null; userAgent: string | null } {
  return { sourceIp: req.ip ?? null, requestId: req.requestId ?? null, userAgent: req.get('user-agent')?.slice(0, 256) ?? null };
}

function adminContext(req: AuthedRequest): AdminContext {
  return { actor: req.principal, ...origin(req) };
}

/**
 * Sign-in, refresh, sign-out and "me" under /api/auth, and administration of clinics, users, grants and
 * device API keys under /api/admin (role admin). Mount `.router` in the viewer service.
 */
export function createAuthRouter(auth: AuthService, options: AuthRouterOptions = {}): SecureRouter {
  const routes = new SecureRouter(options.name ?? 'auth', auth);
  const cookieOptions = (req: Request, maxAgeMs: number, path: string): CookieOptions => ({
    httpOnly: true,
    sameSite: 'strict',
    secure: options.secureCookies === undefined || options.secureCookies === 'auto' ? req.secure : options.secureCookies,
    // __Host- cookies must have Path=/ (see cookieName); over plain HTTP the refresh token stays on /api/auth.
    path: req.secure ? '/' : path,
    maxAge: maxAgeMs,
  });
  const setCookies = (req: Request, res: Response, pair: TokenPair): void => {
    res.cookie(cookieName(req, ACCESS_COOKIE), pair.accessToken, cookieOptions(req, auth.accessTokenTtlSeconds * 1000, '/'));
    res.cookie(cookieName(req, REFRESH_COOKIE), pair.refreshToken, cookieOptions(req, Math.max(0, pair.refreshTokenExpiresAt.getTime() - Date.now()), '/api/auth'));
  };
  const clearCookies = (req: Request, res: Response): void => {
    const { maxAge: _a, ...access } = cookieOptions(req, 0, '/');
    const { maxAge: _r, ...refresh } = cookieOptions(req, 0, '/api/auth');
    res.clearCookie(cookieName(req, ACCESS_COOKIE), access);
    res.clearCookie(cookieName(req, REFRESH_COOKIE), refresh);
  };
  /** The refresh cookie, read only from a request our own pages made (refresh and sign-out change state). */
  const refreshCookie = (req: Request): string | undefined => {
    const token = readCookie(req, cookieName(req, REFRESH_COOKIE));
    if (token !== undefined) assertSameOrigin(req);
    return token;
  };
  const tokenBody = (pair: TokenPair, includeRefresh: boolean): Record<string, unknown> => ({
    accessToken: pair.accessToken,
    tokenType: 'Bearer',
    expiresIn: auth.accessTokenTtlSeconds,
    expiresAt: pair.accessTokenExpiresAt.toISOString(),
    ...(includeRefresh ? { refreshToken: pair.refreshToken, refreshTokenExpiresAt: pair.refreshTokenExpiresAt.toISOString() } : {}),
    principal: principalView(pair.principal),
  });

  routes.post('/api/auth/sign-in', { scope: 'public', description: 'password sign-in' }, json, async (req, res) => {
    const body = parseInput(signInBody, req.body);
    let pair: SignInResult;
    if (body.challenge !== undefined) {
      pair = await auth.completeSignIn(body.challenge, body.totp ?? '', origin(req));
    } else {
      if (body.username === undefined || body.password === undefined) throw new AppError('bad_request', 'username and password (or challenge and totp) are required');
      pair = await auth.signIn(body.username, body.password, origin(req), body.totp);
    }
    res.setHeader('Cache-Control', 'no-store');
    if (body.client === 'browser') setCookies(req, res, pair);
    // Told once: the recovery codes of a generator set up at this sign-in, or how many are left after one was used.
    const recovery = { ...(pair.recoveryCodes !== undefined ? { recoveryCodes: pair.recoveryCodes } : {}), ...(pair.recoveryCodesLeft !== undefined ? { recoveryCodesLeft: pair.recoveryCodesLeft } : {}) };
    res.json({ ...tokenBody(pair, body.client === 'api'), ...recovery });
  });

  routes.post('/api/auth/refresh', { scope: 'public', description: 'rotate a refresh token (cookie or body)' }, json, async (req, res) => {
    const body = parseInput(refreshBody, req.body);
    const fromCookie = body.refreshToken === undefined;
    const token = body.refreshToken ?? refreshCookie(req);
    if (!token) throw new AppError('unauthenticated', 'No refresh token');
    try {
      const pair = await auth.refresh(token, origin(req));
      res.setHeader('Cache-Control', 'no-store');
      if (fromCookie) setCookies(req, res, pair);
      res.json(tokenBody(pair, !fromCookie));
    } catch (error) {
      if (fromCookie) clearCookies(req, res);
      throw error;
    }
  });

  routes.post('/api/auth/sign-out', { scope: 'public', description: 'revoke the session; idempotent' }, json, async (req, res) => {
    const body = parseInput(refreshBody, req.body);
    const refreshToken = body.refreshToken ?? refreshCookie(req);
    let sessionId: string | undefined;
    try {
      const credential = readCredential(req);
      if (credential && credential.kind !== 'api-key') sessionId = (await auth.authenticateAccessToken(credential.token)).sessionId;
    } catch {
      // An expired access token does not prevent signing out with the refresh token.
    }
    await auth.signOut({ ...(refreshToken ? { refreshToken } : {}), ...(sessionId ? { sessionId } : {}) }, origin(req));
    if (options.alsoSignOutBrowser !== undefined) await options.alsoSignOutBrowser({ req, res });
    clearCookies(req, res);
    res.status(204).end();
  });

  routes.get('/api/auth/me', { scope: 'self', roles: [...ROLES], devices: true, description: 'the caller' }, async (req, res) => {
    const user = req.principal.userId ? await auth.getUser(req.principal.userId) : null;
    res.json({ ...principalView(req.principal), displayName: user?.displayName ?? null });
  });

  // ---- self-service (#17): own password and sessions ------------------------------------------------

  const self = { scope: 'self', roles: [...ROLES] } as const;
  const passwordBody = z.object({ currentPassword: z.string().min(1).max(1024), newPassword: z.string().min(1).max(1024) }).strict();
  routes.post('/api/auth/password', { ...self, description: 'change the own password (current one required); other sessions are revoked' }, json, async (req, res) => {
    const body = parseInput(passwordBody, req.body);
    const changed = await auth.changeOwnPassword(req.principal, body.currentPassword, body.newPassword, origin(req));
    res.setHeader('Cache-Control', 'no-store');
    // The old access token no longer matches the account's token version: hand over a new one the way it came.
    if (readCredential(req)?.kind === 'cookie') {
      res.cookie(cookieName(req, ACCESS_COOKIE), changed.accessToken, cookieOptions(req, auth.accessTokenTtlSeconds * 1000, '/'));
      res.json({ otherSessionsRevoked: changed.otherSessionsRevoked });
      return;
    }
    res.json({ accessToken: changed.accessToken, expiresAt: changed.accessTokenExpiresAt.toISOString(), otherSessionsRevoked: changed.otherSessionsRevoked });
  });

  const totpEnrolBody = z.object({ currentPassword: z.string().min(1).max(1024) }).strict();
  routes.post('/api/auth/totp', { ...self, description: 'start setting up a TOTP second factor (current password required)' }, json, async (req, res) => {
    const body = parseInput(totpEnrolBody, req.body);
    res.setHeader('Cache-Control', 'no-store');
    res.json(await auth.enrollTotp(req.principal, body.currentPassword, origin(req)));
  });

  const totpConfirmBody = z.object({ code: z.string().min(1).max(12) }).strict();
  routes.post('/api/auth/totp/confirm', { ...self, description: 'confirm the TOTP second factor with a current code; answers its recovery codes, once' }, json, async (req, res) => {
    const body = parseInput(totpConfirmBody, req.body);
    const confirmed = await auth.confirmTotp(req.principal, body.code, origin(req));
    res.setHeader('Cache-Control', 'no-store');
    res.json(confirmed);
  });

  routes.get('/api/auth/second-factor', { ...self, description: 'the own second factor: generator state, whether required, recovery codes left' }, async (req, res) => {
    const status = await auth.secondFactorStatus(req.principal);
    res.json({ ...status, recoveryCodes: { remaining: status.recoveryCodes.remaining, issuedAt: status.recoveryCodes.issuedAt?.toISOString() ?? null } });
  });

  routes.post('/api/auth/recovery-codes', { ...self, description: 'replace the own recovery codes (current password required); answers the new ones, once' }, json, async (req, res) => {
    const body = parseInput(totpEnrolBody, req.body);
    const issued = await auth.regenerateRecoveryCodes(req.principal, body.currentPassword, origin(req));
    res.setHeader('Cache-Control', 'no-store');
    res.json(issued);
  });

  routes.get('/api/auth/sessions', { ...self, description: 'the own active sessions (current one marked)' }, async (req, res) => {
    const sessions = await auth.listOwnSessions(req.principal);
    res.json({ sessions: sessions.map((s) => ({ ...s, createdAt: s.createdAt.toISOString(), expiresAt: s.expiresAt.toISOString() })) });
  });

  routes.delete('/api/auth/sessions/:id', { ...self, description: 'revoke one of the own sessions' }, async (req, res) => {
    if (!(await auth.revokeOwnSession(req.principal, String(req.params.id), origin(req)))) throw new AppError('not_found', 'No such session');
    res.status(204).end();
  });

  // ---- administration ----------------------------------------------------------------------------

  const admin = { scope: 'admin', roles: ['admin'] } as const;

  routes.get('/api/admin/clinics', admin, async (_req, res) => {
    res.json({ clinics: await auth.listClinics() });
  });

  const clinicBody = z.object({
    code: z.string().min(2).max(63),
    name: z.string().min(1).max(200),
    retentionYears: z.number().int().optional(),
    aeTitles: z.array(z.string().min(1).max(16)).max(50).optional(),
    /** DICOM associations: credentials required (default) or the AE title alone (e.g. a gateway on loopback). */
    dimseAuth: z.enum(['credentials', 'ae_only']).optional(),
  });
  routes.post('/api/admin/clinics', admin, json, async (req, res) => {
    const body = parseInput(clinicBody, req.body);
    res.status(201).json(await auth.createClinic(body, adminContext(req)));
  });

  // A modality's AE title, registered to or removed from an existing clinic (a new machine at the centre).
  routes.put('/api/admin/clinics/:id/ae-titles/:ae', { ...admin, description: "register a modality's AE title for the clinic (audited)" }, async (req, res) => {
    const clinicId = parseInput(uuid, req.params.id, 'path');
    const aeTitle = String(req.params.ae);
    const { created } = await auth.addAeTitle(clinicId, aeTitle, adminContext(req));
    res.status(created ? 201 : 200).json({ clinicId, aeTitle: aeTitle.trim() });
  });
  routes.delete('/api/admin/clinics/:id/ae-titles/:ae', { ...admin, description: "remove a modality's AE title from the clinic (audited)" }, async (req, res) => {
    const removed = await auth.removeAeTitle(String(req.params.id), String(req.params.ae), adminContext(req));
    if (!removed) throw new AppError('not_found', 'The clinic holds no such AE title');
    res.status(204).end();
  });

  routes.get('/api/admin/users', admin, async (_req, res) => {
    res.json({ users: await auth.listUsers(), dormancy: auth.dormancy });
  });

  const userBody = z.object({
    username: z.string().min(2).max(63),
    displayName: z.string().max(200).optional(),
    role: z.enum(ROLES),
    clinicId: uuid.nullable().optional(),
    password: z.string().min(1).max(1024),
  });
  routes.post('/api/admin/users', admin, json, async (req, res) => {
    const body = parseInput(userBody, req.body);
    res.status(201).json(await auth.createUser(body, adminContext(req)));
  });

  const userPatch = z.object({ displayName: z.string().max(200).optional(), password: z.string().min(1).max(1024).optional(), disabled: z.boolean().optional() });
  routes.patch('/api/admin/users/:id', admin, json, async (req, res) => {
    const body = parseInput(userPatch, req.body);
    const id = String(req.params.id);
    res.json(
      await auth.updateUser(
        id,
        {
          ...(body.displayName !== undefined ? { displayName: body.displayName } : {}),
          ...(body.password !== undefined ? { password: body.password } : {}),
          ...(body.disabled !== undefined ? { disabled: body.disabled } : {}),
        },
        adminContext(req),
      ),
    );
  });

  // Where a user is signed in (before ending it all, or to answer "was that me?").
  routes.get('/api/admin/users/:id/sessions', { ...admin, description: "another user's open sign-ins: when, from which address and device" }, async (req, res) => {
    const id = parseInput(uuid, req.params.id, 'path');
    const open = await auth.listSessionsOfUser(id);
    res.json({ sessions: open.map((s) => ({ ...s, createdAt: s.createdAt.toISOString(), expiresAt: s.expiresAt.toISOString() })) });
  });

  // A stolen device: every sign-in of the user ends now, the account stays enabled.
  routes.delete('/api/admin/users/:id/sessions', { ...admin, description: "end every sign-in of another user at once (audited); not the own" }, async (req, res) => {
    const id = parseInput(uuid, req.params.id, 'path');
    res.json({ ended: await auth.endSessionsOfUser(id, adminContext(req)) });
  });

  // A lost authenticator: the user enrols again at the next sign-in; their sessions end.
  routes.delete('/api/admin/users/:id/totp', { ...admin, description: "remove another user's TOTP generator (they enrol again); idempotent" }, async (req, res) => {
    await auth.resetTotp(String(req.params.id), adminContext(req));
    res.status(204).end();
  });

  const grantBody = z.object({ userId: uuid, clinicId: uuid });
  routes.post('/api/admin/grants', admin, json, async (req, res) => {
    const body = parseInput(grantBody, req.body);
    await auth.grantClinic(body.userId, body.clinicId, adminContext(req));
    res.status(201).json({ userId: body.userId, clinicId: body.clinicId });
  });

  routes.delete('/api/admin/grants/:userId/:clinicId', admin, async (req, res) => {
    const removed = await auth.revokeGrant(String(req.params.userId), String(req.params.clinicId), adminContext(req));
    if (!removed) throw new AppError('not_found', 'No such grant');
    res.status(204).end();
  });

  routes.get('/api/admin/api-keys', admin, async (req, res) => {
    const clinic = typeof req.query.clinic === 'string' ? req.query.clinic : undefined;
    res.json({ apiKeys: await auth.listApiKeys(clinic) });
  });

  const apiKeyBody = z.object({ clinicId: uuid, name: z.string().min(1).max(100), expiresAt: z.iso.datetime({ offset: true }).optional() });
  routes.post('/api/admin/api-keys', admin, json, async (req, res) => {
    const body = parseInput(apiKeyBody, req.body);
    const created = await auth.createApiKey({ clinicId: body.clinicId, name: body.name, expiresAt: body.expiresAt ? new Date(body.expiresAt) : null }, adminContext(req));
    res.setHeader('Cache-Control', 'no-store');
    res.status(201).json(created);
  });

  routes.post('/api/admin/api-keys/:id/rotate', admin, async (req, res) => {
    const created = await auth.rotateApiKey(String(req.params.id), adminContext(req));
    res.setHeader('Cache-Control', 'no-store');
    res.status(201).json(created);
  });

  // Revoking a device key; this deletes no patient data.
  routes.delete('/api/admin/api-keys/:id', admin, async (req, res) => {
    res.json(await auth.revokeApiKey(String(req.params.id), adminContext(req)));
  });

  return routes;
}
