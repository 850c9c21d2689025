import { Router, type NextFunction, type Request, type RequestHandler, type Response } from 'express';
import { AppError } from '@yunying/core';
import { authenticate, type Authenticator } from './middleware';
import { ROLES, type Principal, type Role } from './principal';

/**
 * What a route touches, which decides how the authorization matrix tests it:
 * - public: no credentials needed (sign-in, refresh);
 * - self: the caller's own account (me, sign-out);
 * - clinic-data: patient data of one clinic; the handler must filter or check by the principal's clinics
 *   (`clinicFilter`, `assertCanAccessClinic`), and a caller of another clinic gets 404;
 * - admin: clinics, users, grants, keys, policies;
 * - audit: retention status and access history.
 */
export type RouteScope = 'public' | 'self' | 'clinic-data' | 'admin' | 'audit';

export type RoutePolicy =
  | { scope: 'public'; description?: string }
  | {
      scope: Exclude<RouteScope, 'public'>;
      /** Roles allowed; at least one. */
      roles: readonly [Role, ...Role[]];
      /** Whether device API keys (role clinic, kind device) may call it; default false. */
      devices?: boolean;
      description?: string;
    };

export type HttpMethod = 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';

export interface RouteEntry {
  router: string;
  method: HttpMethod;
  /** The express path pattern, e.g. `/api/admin/api-keys/:id/rotate`. */
  path: string;
  scope: RouteScope;
  roles: Role[];
  devices: boolean;
  description?: string;
}

export type AuthedRequest = Request & { principal: Principal };
export type SecureHandler = (req: AuthedRequest, res: Response, next: NextFunction) => unknown;
export type PublicHandler = (req: Request, res: Response, next: NextFunction) => unknown;
export type HandlerFor<P extends RoutePolicy> = P extends { scope: 'public' } ? PublicHandler : SecureHandler;

const registry = new Map<string, SecureRouter>();

/**
 * An express Router on which every route is declared with its access policy. Registering a route without a
 * policy does not type-check (and throws at run time). The policy is enforced before the handlers run:
 * no valid credential -> 401, a role or a device not allowed -> 403. Tenancy (which clinic's rows) is the
 * handler's job, in SQL, via the principal.
 *
 *   const routes = new SecureRouter('viewer.qido', auth);
 *   routes.get('/dicomweb/studies', { scope: 'clinic-data', roles: ['clinic', 'radiologist'] }, async (req, res) => {
 *     const params: unknown[] = [];
 *     const tenancy = addClinicFilter(req.principal, 's.clinic_id', params);
 *     ...
 *   });
 *   createServiceApp({ routes: [routes.router] });
 *
 * Every SecureRouter registers itself under its name (a later one with the same name replaces it), so
 * `collectRouteTables()` lists every route of every service loaded in the process.
 */
export class SecureRouter {
  readonly router: Router;
  private readonly entries: RouteEntry[] = [];
  private readonly authenticate: RequestHandler;

  constructor(
    readonly name: string,
    authenticator: Authenticator,
  ) {
    this.router = Router();
    this.authenticate = authenticate(authenticator);
    registry.set(name, this);
  }

  get<P extends RoutePolicy>(path: string, policy: P, ...handlers: [HandlerFor<P>, ...HandlerFor<P>[]]): this {
    return this.add('GET', path, policy, handlers);
  }

  post<P extends RoutePolicy>(path: string, policy: P, ...handlers: [HandlerFor<P>, ...HandlerFor<P>[]]): this {
    return this.add('POST', path, policy, handlers);
  }

  put<P extends RoutePolicy>(path: string, policy: P, ...handlers: [HandlerFor<P>, ...HandlerFor<P>[]]): this {
    return this.add('PUT', path, policy, handlers);
  }

  patch<P extends RoutePolicy>(path: string, policy: P, ...handlers: [HandlerFor<P>, ...HandlerFor<P>[]]): this {
    return this.add('PATCH', path, policy, handlers);
  }

  delete<P extends RoutePolicy>(path: string, policy: P, ...handlers: [HandlerFor<P>, ...HandlerFor<P>[]]): this {
    return this.add('DELETE', path, policy, handlers);
  }

  routeTable(): RouteEntry[] {
    return this.entries.map((e) => ({ ...e, roles: [...e.roles] }));
  }

  private add(method: HttpMethod, path: string, policy: RoutePolicy, handlers: readonly (SecureHandler | PublicHandler)[]): this {
    const checked = validatePolicy(policy, `${method} ${path}`);
    if (this.entries.some((e) => e.method === method && e.path === path)) throw new Error(`route ${method} ${path} declared twice`);
    this.entries.push({ router: this.name, method, path, ...checked });
    const chain: RequestHandler[] = checked.scope === 'public' ? [] : [this.authenticate, authorize(checked.roles, checked.devices)];
    // Express 5 forwards a rejected promise of a handler to the error handler.
    chain.push(...(handlers as RequestHandler[]));
    switch (method) {
      case 'GET':
        this.router.get(path, ...chain);
        break;
      case 'POST':
        this.router.post(path, ...chain);
        break;
      case 'PUT':
        this.router.put(path, ...chain);
        break;
      case 'PATCH':
        this.router.patch(path, ...chain);
        break;
      case 'DELETE':
        this.router.delete(path, ...chain);
        break;
    }
    return this;
  }
}

function validatePolicy(policy: RoutePolicy | undefined, route: string): Omit<RouteEntry, 'router' | 'method' | 'path'> {
  if (typeof policy !== 'object' || policy === null) throw new Error(`route ${route} has no access policy`);
  if (policy.scope === 'public') return { scope: 'public', roles: [], devices: false, ...(policy.description ? { description: policy.description } : {}) };
  const roles = [...new Set(policy.roles)];
  if (roles.length === 0 || roles.some((r) => !ROLES.includes(r))) throw new Error(`route ${route}: invalid roles`);
  const devices = policy.devices === true;
  if (devices && !roles.includes('clinic')) throw new Error(`route ${route}: devices act as role clinic, which the policy does not allow`);
  return { scope: policy.scope, roles, devices, ...(policy.description ? { description: policy.description } : {}) };
}

function authorize(roles: readonly Role[], devices: boolean): RequestHandler {
  return (req, _res, next) => {
    const principal = req.principal;
    if (!principal) {
      next(new AppError('unauthenticated', 'Authentication required'));
      return;
    }
    if (!roles.includes(principal.role) || (principal.kind === 'device' && !devices)) {
      next(new AppError('forbidden', 'Not allowed for this account'));
      return;
    }
    next();
  };
}

/** The caller of a SecureRouter handler of a non-public route (throws 401 if, impossibly, there is none). */
export function principalOf(req: Request): Principal {
  if (!req.principal) throw new AppError('unauthenticated', 'Authentication required');
  return req.principal;
}

/** Every route of the given routers, or of every SecureRouter created in this process. */
export function collectRouteTables(routers?: readonly SecureRouter[]): RouteEntry[] {
  return (routers ?? [...registry.values()]).flatMap((r) => r.routeTable());
}
