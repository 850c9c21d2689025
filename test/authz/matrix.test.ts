import { Writable } from 'node:stream';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import { loadConfig } from '@yunying/config';
import { createLogger } from '@yunying/core';
import { createPool, quoteIdent, type Pool } from '@yunying/catalog';
import { AuthService, collectRouteTables, seedDemo, type RouteEntry } from '@yunying/auth';
import { runAuthorizationMatrix, routeKey, type ExpectationTable, type MatrixActor, type MatrixRequest } from '@yunying/auth/testing';
import { startRoles, type RunningRoles } from '@yunying/launcher';
import { makeStudy } from '@yunying/dicom/testing';
import { freePort } from '../support/processes';
import { stow, stowBody } from '../support/system';

/**
 * #7: the authorization matrix over EVERY route of every service, generated from the route tables the
 * services register at start-up (all roles started in this process). The expectation table below is
 * written by hand; a route without an entry (or an entry without a route, or a policy that disagrees)
 * fails. Each route is called as every kind of caller, on its own clinic's and another clinic's data,
 * and without credentials.
 */

const everyone: MatrixActor[] = ['clinic', 'radiologist', 'auditor', 'admin', 'device'];
const read = { allow: ['clinic', 'radiologist', 'device'], otherClinic: 'deny' } as const;
const reader = { allow: ['radiologist'], otherClinic: 'deny' } as const;
const admin = { allow: ['admin'], otherClinic: 'allow' } as const;
const audit = { allow: ['auditor', 'admin'], otherClinic: 'allow' } as const;
const auditorOnly = { allow: ['auditor'], otherClinic: 'allow' } as const;

const expectations: ExpectationTable = {
  'POST /api/auth/sign-in': { allow: 'public', otherClinic: 'allow' },
  'POST /api/auth/refresh': { allow: 'public', otherClinic: 'allow' },
  'POST /api/auth/sign-out': { allow: 'public', otherClinic: 'allow' },
  'GET /api/auth/me': { allow: everyone, otherClinic: 'allow' },
  // Self-service (#17): people only; a device has no password or session.
  'POST /api/auth/password': { allow: ['clinic', 'radiologist', 'auditor', 'admin'], otherClinic: 'allow' },
  'GET /api/auth/sessions': { allow: ['clinic', 'radiologist', 'auditor', 'admin'], otherClinic: 'allow' },
  'POST /api/auth/totp': { allow: ['clinic', 'radiologist', 'auditor', 'admin'], otherClinic: 'allow' },
  'POST /api/auth/totp/confirm': { allow: ['clinic', 'radiologist', 'auditor', 'admin'], otherClinic: 'allow' },
  'GET /api/auth/second-factor': { allow: ['clinic', 'radiologist', 'auditor', 'admin'], otherClinic: 'allow' },
  'POST /api/auth/recovery-codes': { allow: ['clinic', 'radiologist', 'auditor', 'admin'], otherClinic: 'allow' },
  'DELETE /api/auth/sessions/:id': { allow: ['clinic', 'radiologist', 'auditor', 'admin'], otherClinic: 'allow' },
  'GET /api/admin/clinics': admin,
  'POST /api/admin/clinics': admin,
  'PUT /api/admin/clinics/:id/ae-titles/:ae': admin,
  'DELETE /api/admin/clinics/:id/ae-titles/:ae': admin,
  'GET /api/admin/users': admin,
  'POST /api/admin/users': admin,
  'PATCH /api/admin/users/:id': admin,
  'DELETE /api/admin/users/:id/totp': admin,
  'GET /api/admin/users/:id/sessions': admin,
  'DELETE /api/admin/users/:id/sessions': admin,
  'POST /api/admin/grants': admin,
  'DELETE /api/admin/grants/:userId/:clinicId': admin,
  'GET /api/admin/api-keys': admin,
  'POST /api/admin/api-keys': admin,
  'POST /api/admin/api-keys/:id/rotate': admin,
  'DELETE /api/admin/api-keys/:id': admin,
  'GET /api/audit/events': audit,
  'GET /api/audit/events.csv': audit,
  'GET /api/audit/verify': audit,
  'GET /api/audit/retention': audit,
  'GET /api/audit/retention.csv': audit,
  // A study as a record (#20): versions, copies, locks, verification history, signed reports.
  'GET /api/audit/studies/:studyUid/record': audit,
  // DICOMweb: clinics, their devices and granted radiologists; never another clinic's study.
  'GET /dicomweb/studies': read,
  'GET /dicomweb/series': read,
  'GET /dicomweb/instances': read,
  'GET /dicomweb/studies/:study/series': read,
  'GET /dicomweb/studies/:study/instances': read,
  'GET /dicomweb/studies/:study/series/:series/instances': read,
  'GET /dicomweb/studies/:study': read,
  'GET /dicomweb/studies/:study/series/:series': read,
  'GET /dicomweb/studies/:study/series/:series/instances/:instance': read,
  'GET /dicomweb/studies/:study/metadata': read,
  'GET /dicomweb/studies/:study/series/:series/metadata': read,
  'GET /dicomweb/studies/:study/series/:series/instances/:instance/metadata': read,
  'GET /dicomweb/studies/:study/series/:series/instances/:instance/frames/:frames': read,
  'GET /dicomweb/studies/:study/series/:series/instances/:instance/bulkdata/*path': read,
  'GET /dicomweb/studies/:study/series/:series/instances/:instance/rendered': read,
  'GET /dicomweb/studies/:study/series/:series/instances/:instance/frames/:frame/rendered': read,
  'GET /dicomweb/studies/:study/thumbnail': read,
  'GET /dicomweb/studies/:study/series/:series/thumbnail': read,
  'GET /dicomweb/studies/:study/series/:series/instances/:instance/thumbnail': read,
  'GET /wado': read,
  'GET /dicomweb/wado': read,
  // Ingest: only a clinic (user or device) stores, always into its own clinic.
  'POST /dicomweb/studies': { allow: ['clinic', 'device'], otherClinic: 'deny' },
  'POST /dicomweb/studies/:study': { allow: ['clinic', 'device'], otherClinic: 'deny' },
  // Reading: radiologists of granted clinics.
  'GET /api/queue': reader,
  'POST /api/queue/:studyUid/claim': reader,
  'POST /api/queue/:studyUid/release': reader,
  'GET /api/studies/:studyUid/report': { allow: ['clinic', 'radiologist'], otherClinic: 'deny' },
  'PUT /api/studies/:studyUid/report/draft': reader,
  'POST /api/studies/:studyUid/report/sign': reader,
  'POST /api/studies/:studyUid/report/addendum': reader,
  // Verifying a signed report (#20): the reader, the clinic that sent the study, and the auditor (every clinic).
  'GET /api/studies/:studyUid/report/versions/:version/signature': { allow: ['clinic', 'radiologist', 'auditor'], otherClinic: 'deny' },
  'GET /api/studies/:studyUid/banner': { allow: ['clinic', 'radiologist'], otherClinic: 'deny' },
  'GET /api/studies/:studyUid/priors': { allow: ['clinic', 'radiologist'], otherClinic: 'deny' },
  'GET /api/studies/:studyUid/nodule-follow-up': reader,
  // Key images (#20): the reader marks them; the clinic sees them through a share.
  'GET /api/studies/:studyUid/key-images': { allow: ['clinic', 'radiologist'], otherClinic: 'deny' },
  'PUT /api/studies/:studyUid/key-images': reader,
  'GET /api/studies/:studyUid/ai': reader,
  'POST /api/studies/:studyUid/ai/nodules': reader,
  'GET /api/studies/:studyUid/ai/nodules': reader,
  'GET /api/admin/clinics/:clinicId/triage-scope-rules': admin,
  'PUT /api/admin/clinics/:clinicId/triage-scope-rules': admin,
  // C-TIRADS 2020 or ACR TI-RADS 2017 for a clinic's new reports (#20).
  'GET /api/admin/clinics/:clinicId/tirads-system': admin,
  'PUT /api/admin/clinics/:clinicId/tirads-system': admin,
  'GET /api/clinic/studies': { allow: ['clinic'], otherClinic: 'deny' },
  // Reading time per radiologist and day (#20): ids and durations only, for admins.
  'GET /api/reading-times': admin,
  // Share links (#20): the study's clinic users and its granted radiologists manage them; a link itself is
  // opened without an account (the token, checked by the handler, is its only credential).
  'POST /api/studies/:studyUid/shares': { allow: ['clinic', 'radiologist'], otherClinic: 'deny' },
  'GET /api/studies/:studyUid/shares': { allow: ['clinic', 'radiologist'], otherClinic: 'deny' },
  'POST /api/studies/:studyUid/shares/:shareId/revoke': { allow: ['clinic', 'radiologist'], otherClinic: 'deny' },
  'GET /api/share/view': { allow: 'public', otherClinic: 'allow' },
  'GET /api/share/images/:number': { allow: 'public', otherClinic: 'allow' },
  // Patient index (#20): the queue of possible duplicates, merge/unmerge and identifier issuers; admins only.
  'GET /api/admin/patient-index/reviews': admin,
  'POST /api/admin/patient-index/reviews/:id/merge': admin,
  'POST /api/admin/patient-index/studies/:studyUid/correction': admin,
  'POST /api/admin/patient-index/reviews/:id/keep-apart': admin,
  'GET /api/admin/patient-index/merges': admin,
  'POST /api/admin/patient-index/merges/:id/unmerge': admin,
  'GET /api/admin/patient-index/identifier-issuers': admin,
  'PUT /api/admin/patient-index/identifier-issuers': admin,
  // Keep and prove: admins run the keeper, auditors approve disposals; nobody deletes under retention.
  'POST /api/admin/scrub': admin,
  'POST /api/admin/repairs': admin,
  'POST /api/admin/orphan-sweep': admin,
  'GET /api/audit/orphans': audit,
  'PUT /api/admin/studies/:uid/legal-hold': admin,
  'GET /api/audit/legal-hold-releases': audit,
  'POST /api/audit/legal-hold-releases/:id/approve': auditorOnly,
  'POST /api/audit/legal-hold-releases/:id/reject': auditorOnly,
  'POST /api/admin/disposals': admin,
  'GET /api/audit/disposals': audit,
  'POST /api/audit/disposals/:id/approve': auditorOnly,
  'POST /api/audit/disposals/:id/reject': auditorOnly,
  // DICOM credentials of a clinic (#17): admins only.
  'GET /api/admin/clinics/:id/dimse': admin,
  'PUT /api/admin/clinics/:id/dimse-auth': admin,
  'PUT /api/admin/clinics/:id/dimse-source-networks': admin,
  'POST /api/admin/clinics/:id/dimse-certificates': admin,
  'POST /api/admin/dimse-certificates/:fingerprint/revoke': admin,
  // Registered remote AEs of a clinic (#16): where its studies may be moved to; admins only.
  'GET /api/admin/clinics/:id/dimse-destinations': admin,
  'PUT /api/admin/clinics/:id/dimse-destinations/:ae': admin,
  'DELETE /api/admin/clinics/:id/dimse-destinations/:ae': admin,
};

const QIDO = new Set([
  '/dicomweb/studies',
  '/dicomweb/series',
  '/dicomweb/instances',
  '/dicomweb/studies/:study/series',
  '/dicomweb/studies/:study/instances',
  '/dicomweb/studies/:study/series/:series/instances',
]);

interface StudyRef {
  study: string;
  series: string;
  instance: string;
}

describe('authorization matrix over every route of every service (real Postgres, Redis, fs replicas)', () => {
  const roles: RunningRoles[] = [];
  let pool: Pool;
  let schema: string;
  let dataDir: string;
  let urls: Record<string, string>;
  const credentials = {} as Record<MatrixActor, Record<string, string>>;
  const studies = {} as Record<'own' | 'other', StudyRef>;
  const shares = {} as Record<'own' | 'other', string>;
  let demoClinicId = '';
  let otherClinicId = '';

  beforeAll(async () => {
    const id = randomBytes(5).toString('hex');
    schema = `authz_${id}`;
    dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'yy-authz-'));
    const env = {
      AUTH_TOKEN_SECRET: `authz-secret-${id}`.padEnd(48, 'x'),
      DATABASE_URL: process.env.TEST_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test',
      DATABASE_SCHEMA: schema,
      REDIS_URL: process.env.TEST_REDIS_URL ?? 'redis://127.0.0.1:6379',
      QUEUE_PREFIX: `authz${id}`,
      DATA_DIR: dataDir,
      INGEST_PORT: String(await freePort()),
      VIEWER_PORT: String(await freePort()),
      INFERENCE_PORT: String(await freePort()),
      DIMSE_PORT: String(await freePort()),
      LOG_LEVEL: 'silent',
      STORAGE_FS_LEAF_DIRS: 'on-demand',
    };
    const config = loadConfig(env);
    const logger = createLogger({ level: 'silent', service: 'authz', destination: new Writable({ write: (_c, _e, cb) => cb() }) });
    // The inference role has no routes of its own (health and metrics only) and runs worker threads from
    // its build output: the matrix starts the two roles that serve routes, each as in scale-out.
    for (const role of ['ingest', 'viewer']) roles.push(await startRoles(loadConfig({ ...env, ROLE: role }), logger));
    urls = Object.fromEntries(roles.flatMap((r) => r.started).map((s) => [s.role, s.url]));
    pool = createPool({ url: config.database.url, schema, poolSize: 3 });
    const seeded = await seedDemo(pool, { tokenSecret: config.auth.tokenSecret });
    if (!seeded) throw new Error('seed created nothing');
    demoClinicId = seeded.clinics.find((c) => c.code === 'demo-clinic')?.id ?? '';
    otherClinicId = seeded.clinics.find((c) => c.code === 'other-clinic')?.id ?? '';
    const auth = new AuthService({ pool, tokenSecret: config.auth.tokenSecret, accessTokenTtlSeconds: 900, refreshTokenTtlSeconds: 3600 });
    const otherKey = (await auth.createApiKey({ clinicId: otherClinicId, name: 'other-device' })).key;

    for (const user of seeded.users) {
      const res = await fetch(`${urls.viewer}/api/auth/sign-in`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ username: user.username, password: user.password, client: 'api' }),
      });
      const body = (await res.json()) as { accessToken?: string };
      credentials[user.role as MatrixActor] = { authorization: `Bearer ${body.accessToken ?? ''}` };
    }
    credentials.device = { authorization: `ApiKey ${seeded.apiKey?.key ?? ''}` };

    const own = makeStudy(1, { frames: 2 });
    const other = makeStudy(1, { frames: 2 });
    expect((await stow(urls.ingest ?? '', seeded.apiKey?.key ?? '', own.files)).status).toBe(200);
    expect((await stow(urls.ingest ?? '', otherKey, other.files)).status).toBe(200);
    studies.own = { study: own.studyInstanceUid, series: own.seriesInstanceUid, instance: own.sopInstanceUids[0] ?? '' };
    studies.other = { study: other.studyInstanceUid, series: other.seriesInstanceUid, instance: other.sopInstanceUids[0] ?? '' };
    // A share link on each study, so that revoking one is a real share of the clinic's own study (allowed)
    // or of another clinic's (refused as not found): each made by a user of the study's clinic, as they make one.
    const otherSharer = { username: 'other-sharer', password: 'Kettle-Lantern-93#Quartz' };
    await auth.createUser({ ...otherSharer, role: 'clinic', clinicId: otherClinicId });
    const signedIn = await fetch(`${urls.viewer}/api/auth/sign-in`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ ...otherSharer, client: 'api' }),
    });
    const sharers = { own: credentials.clinic?.authorization ?? '', other: `Bearer ${((await signedIn.json()) as { accessToken?: string }).accessToken ?? ''}` };
    for (const which of ['own', 'other'] as const) {
      const res = await fetch(`${urls.viewer}/api/studies/${studies[which].study}/shares`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: sharers[which] },
        body: '{}',
      });
      expect(res.status).toBe(201);
      shares[which] = ((await res.json()) as { id: string }).id;
    }
  });

  afterAll(async () => {
    for (const r of roles) await r.lifecycle.stop();
    await pool?.query(`DROP SCHEMA IF EXISTS ${quoteIdent(schema)} CASCADE`);
    await pool?.end();
    fs.rmSync(dataDir, { recursive: true, force: true });
  });

  function serviceOf(route: RouteEntry): string {
    return route.router.startsWith('ingest.') ? (urls.ingest ?? '') : (urls.viewer ?? '');
  }

  function buildRequest(route: RouteEntry, context: { clinic: 'own' | 'other' }): MatrixRequest {
    const ref = studies[context.clinic];
    const params: Record<string, string> = {
      study: ref.study,
      studyUid: ref.study,
      uid: ref.study,
      series: ref.series,
      instance: ref.instance,
      frames: '1',
      frame: '1',
      version: '1',
      number: '1',
      shareId: shares[context.clinic],
      id: '00000000-0000-4000-8000-000000000000',
      userId: '00000000-0000-4000-8000-000000000000',
      clinicId: context.clinic === 'own' ? demoClinicId : otherClinicId,
    };
    let url = route.path.replace(/\*path/, '7FE00010').replace(/:([A-Za-z]+)/g, (_m, name: string) => params[name] ?? 'x');
    if (route.path === '/wado' || route.path === '/dicomweb/wado') url += `?requestType=WADO&studyUID=${ref.study}&seriesUID=${ref.series}&objectUID=${ref.instance}&contentType=application/dicom`;
    const request: MatrixRequest = { url: `${serviceOf(route)}${url}` };
    if (route.method === 'POST' && route.path.startsWith('/dicomweb/studies')) {
      // Storing into another clinic's study is refused per instance (a UID conflict), which is a 409.
      const { body, contentType } = stowBody([makeStudy(1, { studyInstanceUid: ref.study }).files[0] ?? Buffer.alloc(0)]);
      return { ...request, body, headers: { 'content-type': contentType }, ...(context.clinic === 'other' ? { otherClinicStatus: 409 } : {}) };
    }
    if (route.method === 'GET' && QIDO.has(route.path)) {
      // Searches: another clinic's study must simply be absent from the results (200 and an empty list).
      const sep = url.includes('?') ? '&' : '?';
      return {
        url: `${serviceOf(route)}${url}${sep}StudyInstanceUID=${ref.study}`,
        otherClinicCheck: (status, body) => status === 200 && Array.isArray(body) && body.length === 0,
      };
    }
    if (route.path === '/api/queue' || route.path === '/api/clinic/studies') {
      // Lists: another clinic's study is absent, even when the caller asks for that clinic by name.
      const otherStudy = studies.other.study;
      return {
        url: `${request.url}${context.clinic === 'other' && route.path === '/api/queue' ? `?clinic=${otherClinicId}` : ''}`,
        otherClinicCheck: (status, body) =>
          status === 200 && !JSON.stringify((body as { items?: unknown[] }).items ?? ['missing items']).includes(otherStudy) && Array.isArray((body as { items?: unknown[] }).items),
      };
    }
    // Failed sign-ins are rate limited (429) after a few attempts: both mean "not let in".
    if (route.path === '/api/auth/sign-in') return { ...request, body: { username: 'nobody', password: 'wrong-password' }, allowStatuses: [401, 429] };
    if (route.path === '/api/auth/refresh') return { ...request, body: {}, allowStatuses: [401] };
    // Reader-guided scoring: a well-formed box, so that what answers is tenancy, not body validation.
    if (route.method === 'POST' && route.path === '/api/studies/:studyUid/ai/nodules') {
      return { ...request, body: { sopInstanceUid: ref.instance, box: { x: 0, y: 0, width: 32, height: 32 } } };
    }
    if (['POST', 'PUT', 'PATCH'].includes(route.method)) return { ...request, body: {} };
    return request;
  }

  // Every route x every caller x two clinics, a request each: about a minute on a loaded 2-core machine.
  it('has an expectation for every route, and every caller gets exactly what the table says', async () => {
    // Sign-out revokes the caller's session: run it last so the other routes see live credentials.
    const routes = collectRouteTables()
      .filter((r) => !['test', 'example'].some((p) => r.router.startsWith(p)))
      .sort((a, b) => Number(a.path === '/api/auth/sign-out') - Number(b.path === '/api/auth/sign-out'));
    // Every service contributed routes: a service that silently registered none would escape the matrix.
    expect(new Set(routes.map((r) => r.router.split('.')[0]))).toEqual(new Set(['auth', 'audit', 'viewer', 'ingest']));
    const result = await runAuthorizationMatrix({
      app: '',
      routes,
      expectations,
      credentials,
      buildRequest,
      // Allowed means: not refused for who you are. A handler may still answer 400/409/422 to the minimal
      // bodies sent here; but on its own clinic's data a 404 would be tenancy refusing the rightful caller.
      isAllowed: (status, route, { clinic }) => status !== 401 && status !== 403 && !(status === 404 && route.scope === 'clinic-data' && clinic === 'own'),
    });
    expect(result.failures).toEqual([]);
    expect(result.cases.length).toBeGreaterThan(routes.length * 10);
    // No route deletes patient data: deletion under retention has no HTTP path at all (these remove
    // configuration: an API key, a grant, a modality's AE title, a registered remote AE, another user's TOTP generator or sign-ins, one's own session).
    expect(routes.filter((r) => r.method === 'DELETE').map(routeKey).sort()).toEqual([
      'DELETE /api/admin/api-keys/:id',
      'DELETE /api/admin/clinics/:id/ae-titles/:ae',
      'DELETE /api/admin/clinics/:id/dimse-destinations/:ae',
      'DELETE /api/admin/grants/:userId/:clinicId',
      'DELETE /api/admin/users/:id/sessions',
      'DELETE /api/admin/users/:id/totp',
      'DELETE /api/auth/sessions/:id',
    ]);
  }, 240_000);
});
