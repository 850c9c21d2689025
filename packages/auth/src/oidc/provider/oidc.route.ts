import express, { type Request, type Response, type Router } from 'express';
import { AppError, type Logger } from '@yunying/core';
import type { Config } from '@yunying/config';
import type { Pool } from '@yunying/catalog';
// Brings in req.requestId (set by createServiceApp's request-context middleware).
import type {} from '@yunying/http';
import { INVALID_CODE, type AuthService } from '../../auth.service';
import { derivePepper } from '../../secrets';
import { contentSecurityPolicyFor, loginPage, secondFactorNoticePage, type SecondFactorView } from './login.page';
import { createEmbeddedOidc, OIDC_SCOPES, type EmbeddedOidc } from './oidc.provider';
import { loadOidcKeySet } from './oidc.keys';
import { sweepExpiredOidcPayloads } from './oidc-payloads.repository';

/**
 * The embedded OIDC provider under <issuer path> (/oidc): the login interaction (Yunying's own page) and
 * everything else answered by oidc-provider (discovery, JWKS, authorization, token, revocation, end
 * session). These are the provider's public endpoints, not Yunying API routes: they authenticate the client
 * (PKCE) and the user (the login form) themselves, so they are outside the SecureRouter registry.
 */
export interface OidcRouterDeps {
  config: Config;
  pool: Pool;
  auth: AuthService;
  logger: Logger;
}

/** The code step a sign-in error asks for (its challenge, and the key when enrolling), if any. */
function secondFactorOf(error: AppError): SecondFactorView | undefined {
  const challenge = error.details?.challenge;
  if (typeof challenge !== 'string') return undefined;
  const { secret, uri } = error.details ?? {};
  return { challenge, ...(typeof secret === 'string' && typeof uri === 'string' ? { enrolment: { secret, uri } } : {}) };
}

const form = express.urlencoded({ extended: false, limit: '8kb', parameterLimit: 10 });
const SWEEP_INTERVAL_MS = 10 * 60_000;

export async function createOidcRouter(deps: OidcRouterDeps): Promise<{ router: Router; oidc: EmbeddedOidc; close: () => void }> {
  const settings = deps.config.auth.oidc;
  if (settings?.embedded === undefined || settings.embedded === null) throw new Error('createOidcRouter: the embedded OIDC provider is not configured');
  const oidc = await createEmbeddedOidc({
    issuer: settings.issuer,
    audience: settings.audience,
    usernameClaim: settings.usernameClaim,
    clients: settings.embedded.clients,
    keys: await loadOidcKeySet(settings.embedded.keysFile, settings.embedded.generateKeys),
    cookieKeys: [derivePepper(deps.config.auth.tokenSecret, 'oidc-cookies').toString('base64url')],
    accessTokenTtlSeconds: deps.config.auth.accessTokenTtlSeconds,
    refreshTokenTtlSeconds: deps.config.auth.refreshTokenTtlSeconds,
    trustProxy: deps.config.http.trustedProxies.length > 0,
    pool: deps.pool,
    auth: deps.auth,
    logger: deps.logger,
  });
  const { provider } = oidc;
  const mount = new URL(settings.issuer).pathname.replace(/\/+$/, '') || '/';
  const csp = contentSecurityPolicyFor(oidc.clientOrigins);
  const router = express.Router();

  // After a sign-in the browser is redirected to the client's origin; Chrome applies form-action to that redirect.
  router.use(mount, (_req, res, next) => {
    res.setHeader('Content-Security-Policy', csp);
    next();
  });

  const showLogin = async (req: Request, res: Response, status: number, error?: string, secondFactor?: SecondFactorView): Promise<void> => {
    const details = await provider.interactionDetails(req, res);
    const clientId = typeof details.params.client_id === 'string' ? details.params.client_id : '';
    res.status(status).setHeader('Cache-Control', 'no-store');
    res.type('html').send(loginPage({ action: `${mount}/interaction/${details.uid}/login`, clientId, ...(error ? { error } : {}), ...(secondFactor ? { secondFactor } : {}) }));
  };

  router.get(`${mount}/interaction/:uid`, async (req, res) => {
    await showLogin(req, res, 200);
  });

  router.post(`${mount}/interaction/:uid/login`, form, async (req, res) => {
    const details = await provider.interactionDetails(req, res);
    const body = req.body as Record<string, unknown> | undefined;
    const field = (name: string): string => (typeof body?.[name] === 'string' ? body[name] : '');
    const origin = { sourceIp: req.ip ?? null, requestId: req.requestId ?? null, userAgent: req.get('user-agent')?.slice(0, 256) ?? null };
    let pair;
    try {
      // The one password and code check (rate limits, audit, disabled users, second factor): the same as the web app's sign-in.
      pair = field('challenge') !== '' ? await deps.auth.completeSignIn(field('challenge'), field('totp'), origin) : await deps.auth.signIn(field('username'), field('password'), origin);
    } catch (error) {
      if (error instanceof AppError && (error.code === 'unauthenticated' || error.code === 'too_many_requests')) {
        const secondFactor = secondFactorOf(error);
        // The first code step is no error: the password was right and a code is asked for (or the generator set up).
        const message =
          error.code === 'too_many_requests'
            ? 'Too many attempts; try again later.'
            : secondFactor === undefined
              ? field('challenge') !== '' ? error.message : 'Invalid username or password.'
              : error.message === INVALID_CODE ? 'Invalid one-time code.' : undefined;
        await showLogin(req, res, secondFactor !== undefined && message === undefined ? 200 : error.status, message, secondFactor);
        return;
      }
      throw error;
    }
    const { principal } = pair;
    if (principal.userId === undefined || principal.sessionId === undefined) throw new Error('signIn returned a principal without user or session');
    const clientId = typeof details.params.client_id === 'string' ? details.params.client_id : '';
    const requested = new Set(typeof details.params.scope === 'string' ? details.params.scope.split(' ') : []);
    // Operator-registered clients need no consent screen: the grant is what the client asked of what exists.
    const grant = new provider.Grant({ accountId: principal.userId, clientId });
    grant.addOIDCScope(OIDC_SCOPES.filter((s) => requested.has(s)).join(' '));
    grant.addResourceScope(oidc.resource, 'yunying');
    const grantId = await grant.save();
    await oidc.grantSessions.link(grantId, principal.sessionId);
    const result = { login: { accountId: principal.userId }, consent: { grantId } };
    if (pair.recoveryCodes === undefined && pair.recoveryCodesLeft === undefined) {
      await provider.interactionFinished(req, res, result, { mergeWithLastSubmission: false });
      return;
    }
    // Something to tell once (the new recovery codes, or how many are left) before the client takes over.
    const continueUrl = await provider.interactionResult(req, res, result, { mergeWithLastSubmission: false });
    res.setHeader('Cache-Control', 'no-store');
    res.type('html').send(
      secondFactorNoticePage({
        clientId,
        continueUrl,
        ...(pair.recoveryCodes !== undefined ? { recoveryCodes: pair.recoveryCodes } : {}),
        ...(pair.recoveryCodesLeft !== undefined ? { recoveryCodesLeft: pair.recoveryCodesLeft } : {}),
      }),
    );
  });

  router.use(mount, provider.callback());

  const sweep = setInterval(() => {
    sweepExpiredOidcPayloads(deps.pool).catch((error: unknown) => deps.logger.warn({ err: error }, 'could not sweep expired OIDC records'));
  }, SWEEP_INTERVAL_MS);
  sweep.unref();
  return { router, oidc, close: () => clearInterval(sweep) };
}
