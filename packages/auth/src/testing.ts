import request from 'supertest';
import type { App } from 'supertest/types';
import type { Role } from './principal';
import type { RouteEntry } from './secure-router';

/**
 * The authorization matrix (issue #7): every route x every kind of caller x (own clinic / other clinic /
 * no credentials) -> allow or deny, checked over HTTP against the real app. The expectation table is written
 * by hand, independently of the routes' policies; a route without an entry, an entry without a route, or a
 * policy that disagrees with its entry is a failure, so adding a route forces a decision about who may call it.
 *
 *   const result = await runAuthorizationMatrix({ app, routes: collectRouteTables([viewerRoutes]), expectations, credentials, buildRequest });
 *   expect(result.failures).toEqual([]);
 */
export type MatrixActor = Role | 'device';
export const MATRIX_ACTORS: readonly MatrixActor[] = ['clinic', 'radiologist', 'auditor', 'admin', 'device'];

/** Callers bound to some clinics: for them, another clinic's resource must look absent. */
const CLINIC_BOUND: readonly MatrixActor[] = ['clinic', 'radiologist', 'device'];

export interface RouteExpectation {
  /** Who may call the route: 'public' (everyone, no credentials needed) or the allowed callers. */
  allow: 'public' | readonly MatrixActor[];
  /**
   * Whether a clinic-bound caller (clinic user, device, radiologist) may reach a resource of a clinic that is
   * not theirs. 'deny' for every route that touches patient data (expected status: `otherClinicStatus`, 404).
   */
  otherClinic: 'deny' | 'allow';
}

/** Keyed by `routeKey(route)`, e.g. "GET /dicomweb/studies". */
export type ExpectationTable = Record<string, RouteExpectation>;

export type MatrixClinic = 'own' | 'other';
export type MatrixCaller = MatrixActor | 'anonymous';

export interface MatrixRequest {
  /** Concrete URL (path parameters filled in, query string included). */
  url: string;
  body?: unknown;
  headers?: Record<string, string>;
  /** Statuses that count as "allowed" (default: the runner's `isAllowed`, else any 2xx or 3xx). */
  allowStatuses?: readonly number[];
  /** The status expected when a clinic-bound caller addresses another clinic's resource (default: the runner's). */
  otherClinicStatus?: number;
  /**
   * For collection routes (searches), where another clinic's data must be absent rather than 404: decides
   * whether the answer to a clinic-bound caller asking for another clinic's data is correct (e.g. 200 and []).
   */
  otherClinicCheck?: (status: number, body: unknown) => boolean;
}

export interface AuthorizationMatrixOptions {
  app: App;
  routes: readonly RouteEntry[];
  expectations: ExpectationTable;
  /** Request headers that authenticate each kind of caller (Bearer, cookie or ApiKey). */
  credentials: Record<MatrixActor, Record<string, string>>;
  /**
   * Builds a request for one case. `clinic` says whose resource to address: one of the caller's own clinics
   * (for an unbound caller, any clinic) or another clinic's. Called anew for each case, so requests that
   * create or consume something can make it fresh.
   */
  buildRequest: (route: RouteEntry, context: { caller: MatrixCaller; clinic: MatrixClinic }) => MatrixRequest | Promise<MatrixRequest>;
  /** Status of a clinic-bound caller addressing another clinic's resource (default 404: existence is not revealed). */
  otherClinicStatus?: number;
  /** Callers to test (default all). */
  actors?: readonly MatrixActor[];
  /**
   * Whether a status means "allowed" (the caller got past authentication, role and tenancy checks). Default:
   * any 2xx or 3xx. A whole-system matrix that sends minimal bodies passes e.g. `s => s !== 401 && s !== 403`.
   */
  isAllowed?: (status: number, route: RouteEntry, context: { caller: MatrixCaller; clinic: MatrixClinic }) => boolean;
}

export interface MatrixCase {
  route: string;
  caller: MatrixCaller;
  clinic: MatrixClinic;
  expected: 'allow' | number;
  status: number;
  ok: boolean;
}

export interface MatrixResult {
  cases: MatrixCase[];
  failures: string[];
}

export function routeKey(route: Pick<RouteEntry, 'method' | 'path'>): string {
  return `${route.method} ${route.path}`;
}

/** Routes without an expectation, expectations without a route, and policies that disagree with their expectation. */
export function checkExpectationTable(routes: readonly RouteEntry[], expectations: ExpectationTable): string[] {
  const failures: string[] = [];
  const keys = new Set(routes.map(routeKey));
  for (const route of routes) {
    const key = routeKey(route);
    const expectation = expectations[key];
    if (!expectation) {
      failures.push(`${key} (router ${route.router}) has no entry in the authorization expectation table`);
      continue;
    }
    if (expectation.allow === 'public' || route.scope === 'public') {
      if (expectation.allow !== 'public' || route.scope !== 'public') failures.push(`${key}: policy scope ${route.scope} but expectation ${JSON.stringify(expectation.allow)}`);
      continue;
    }
    const fromPolicy = new Set<MatrixActor>([...route.roles, ...(route.devices ? (['device'] as const) : [])]);
    const expected = new Set(expectation.allow);
    const same = fromPolicy.size === expected.size && [...fromPolicy].every((a) => expected.has(a));
    if (!same) failures.push(`${key}: policy allows [${[...fromPolicy].join(', ')}] but the expectation table says [${[...expected].join(', ')}]`);
    if (route.scope === 'clinic-data' && expectation.otherClinic !== 'deny') failures.push(`${key}: clinic-data route must deny other clinics`);
  }
  for (const key of Object.keys(expectations)) if (!keys.has(key)) failures.push(`${key} is in the expectation table but no such route exists`);
  return failures;
}

function expectedOutcome(expectation: RouteExpectation, caller: MatrixCaller, clinic: MatrixClinic, otherClinicStatus: number): 'allow' | number {
  if (expectation.allow === 'public') return 'allow';
  if (caller === 'anonymous') return 401;
  if (!expectation.allow.includes(caller)) return 403;
  if (clinic === 'other' && expectation.otherClinic === 'deny' && CLINIC_BOUND.includes(caller)) return otherClinicStatus;
  return 'allow';
}

export async function runAuthorizationMatrix(options: AuthorizationMatrixOptions): Promise<MatrixResult> {
  const failures = checkExpectationTable(options.routes, options.expectations);
  const cases: MatrixCase[] = [];
  const otherClinicStatus = options.otherClinicStatus ?? 404;
  const actors = options.actors ?? MATRIX_ACTORS;
  for (const route of options.routes) {
    const key = routeKey(route);
    const expectation = options.expectations[key];
    if (!expectation) continue;
    const runs: { caller: MatrixCaller; clinic: MatrixClinic }[] = [
      ...actors.flatMap((caller) => (['own', 'other'] as const).map((clinic) => ({ caller, clinic }))),
      { caller: 'anonymous', clinic: 'own' },
    ];
    for (const { caller, clinic } of runs) {
      const built = await options.buildRequest(route, { caller, clinic });
      const method = route.method.toLowerCase() as 'get' | 'post' | 'put' | 'patch' | 'delete';
      let req = request(options.app)[method](built.url);
      const headers = { ...(caller === 'anonymous' ? {} : options.credentials[caller]), ...built.headers };
      for (const [name, value] of Object.entries(headers)) req = req.set(name, value);
      const res = built.body === undefined ? await req : await req.send(built.body as object);
      const expected = expectedOutcome(expectation, caller, clinic, built.otherClinicStatus ?? otherClinicStatus);
      const allowed = built.allowStatuses
        ? built.allowStatuses.includes(res.status)
        : options.isAllowed
          ? options.isAllowed(res.status, route, { caller, clinic })
          : res.status < 400;
      const denyCase = expected !== 'allow' && clinic === 'other' && expected !== 401 && expected !== 403;
      const ok = expected === 'allow' ? allowed : denyCase && built.otherClinicCheck ? built.otherClinicCheck(res.status, res.body) : res.status === expected;
      cases.push({ route: key, caller, clinic, expected, status: res.status, ok });
      if (!ok) {
        const detail = typeof (res.body as { detail?: unknown })?.detail === 'string' ? ` (${(res.body as { detail: string }).detail})` : '';
        failures.push(`${key} as ${caller} on ${clinic} clinic: expected ${expected === 'allow' ? 'allow' : expected}, got ${res.status}${detail}`);
      }
    }
  }
  return { cases, failures };
}
