import request from 'supertest';
import { AppError, createLogger } from '@yunying/core';
import { createMetricsRegistry, createServiceApp } from '@yunying/http';
import type { Authenticator } from './middleware';
import type { Principal } from './principal';
import { collectRouteTables, SecureRouter, type RoutePolicy } from './secure-router';
import { checkExpectationTable } from './testing';

const clinicUser: Principal = { kind: 'user', userId: 'u1', username: 'alice', role: 'clinic', clinicId: 'c1', clinics: { all: false, clinicIds: ['c1'] } };
const auditor: Principal = { kind: 'user', userId: 'u2', username: 'audrey', role: 'auditor', clinicId: null, clinics: { all: true } };
const device: Principal = { kind: 'device', apiKeyId: 'k1', username: 'device:us-1', role: 'clinic', clinicId: 'c1', clinics: { all: false, clinicIds: ['c1'] } };

const fake: Authenticator = {
  authenticateAccessToken: (token) => {
    if (token === 'clinic-token') return Promise.resolve(clinicUser);
    if (token === 'auditor-token') return Promise.resolve(auditor);
    return Promise.reject(new AppError('unauthenticated', 'Access token invalid'));
  },
  authenticateApiKey: (key) => (key === 'good-key' ? Promise.resolve(device) : Promise.reject(new AppError('unauthenticated', 'API key invalid'))),
};

function build(trustedProxies: string[] = []) {
  const routes = new SecureRouter('test.router', fake);
  routes.get('/open', { scope: 'public' }, (_req, res) => {
    res.json({ open: true });
  });
  routes.get('/studies', { scope: 'clinic-data', roles: ['clinic', 'radiologist'], devices: true }, (req, res) => {
    res.json({ user: req.principal.username });
  });
  routes.post('/reports', { scope: 'clinic-data', roles: ['clinic'] }, (req, res) => {
    res.status(201).json({ user: req.principal.username });
  });
  routes.get('/audit', { scope: 'audit', roles: ['auditor'] }, async (req, res) => {
    await Promise.resolve();
    res.json({ user: req.principal.username });
  });
  const app = createServiceApp({
    service: 'test',
    logger: createLogger({ level: 'silent', service: 'test' }),
    metrics: createMetricsRegistry(),
    readiness: [],
    routes: [routes.router],
    security: { trustedProxies },
  });
  return { app, routes };
}

describe('SecureRouter and authenticate', () => {
  const { app, routes } = build();

  it('answers 401 problem+json without credentials and with bad ones', async () => {
    const res = await request(app).get('/studies').expect(401);
    expect(res.headers['content-type']).toMatch(/application\/problem\+json/);
    expect(res.headers['www-authenticate']).toMatch(/Bearer/);
    await request(app).get('/studies').set('Authorization', 'Bearer nope').expect(401);
    await request(app).get('/studies').set('Authorization', 'Basic dXNlcjpwYXNz').expect(401);
    await request(app).get('/studies').set('X-Api-Key', 'bad-key').expect(401);
  });

  it('accepts Bearer, cookie, ApiKey and X-Api-Key credentials', async () => {
    await request(app).get('/studies').set('Authorization', 'Bearer clinic-token').expect(200, { user: 'alice' });
    await request(app).get('/studies').set('Cookie', 'other=1; yy_access=clinic-token').expect(200, { user: 'alice' });
    await request(app).get('/studies').set('Authorization', 'ApiKey good-key').expect(200, { user: 'device:us-1' });
    await request(app).get('/studies').set('X-Api-Key', 'good-key').expect(200, { user: 'device:us-1' });
  });

  it('answers 403 for a role or a device the policy does not allow', async () => {
    await request(app).get('/studies').set('Authorization', 'Bearer auditor-token').expect(403);
    await request(app).get('/audit').set('Authorization', 'Bearer clinic-token').expect(403);
    await request(app).get('/audit').set('Authorization', 'Bearer auditor-token').expect(200, { user: 'audrey' });
    await request(app).post('/reports').set('X-Api-Key', 'good-key').expect(403);
    await request(app).post('/reports').set('Authorization', 'Bearer clinic-token').expect(201);
  });

  it('refuses cross-site state changes authenticated by the cookie', async () => {
    await request(app).post('/reports').set('Cookie', 'yy_access=clinic-token').set('Origin', 'https://evil.example').expect(403);
    await request(app).post('/reports').set('Cookie', 'yy_access=clinic-token').set('Sec-Fetch-Site', 'cross-site').expect(403);
    const res = await request(app).post('/reports').set('Cookie', 'yy_access=clinic-token');
    expect(res.status).toBe(201);
    await request(app).post('/reports').set('Cookie', 'yy_access=clinic-token').set('Sec-Fetch-Site', 'same-origin').expect(201);
  });

  it('refuses Origin: null (a POST bounced by a cross-origin 307) and a same-site page on another origin', async () => {
    await request(app).post('/reports').set('Cookie', 'yy_access=clinic-token').set('Origin', 'null').expect(403);
    await request(app).post('/reports').set('Cookie', 'yy_access=clinic-token').set('Sec-Fetch-Site', 'same-site').expect(403);
    // A bearer token is not sent by the browser on its own: no CSRF, so no origin check.
    await request(app).post('/reports').set('Authorization', 'Bearer clinic-token').set('Origin', 'null').expect(201);
  });

  it('reads only the __Host- cookie over TLS, so a plain-named cookie planted by a sibling site is ignored', async () => {
    const { app: behindTls } = build(['loopback']);
    await request(behindTls).get('/studies').set('X-Forwarded-Proto', 'https').set('Cookie', 'yy_access=clinic-token').expect(401);
    await request(behindTls).get('/studies').set('X-Forwarded-Proto', 'https').set('Cookie', '__Host-yy_access=clinic-token').expect(200, { user: 'alice' });
  });

  it('serves public routes without credentials', async () => {
    await request(app).get('/open').expect(200, { open: true });
  });

  it('lists every route with its policy, and registers the router for collectRouteTables', () => {
    expect(routes.routeTable()).toEqual([
      { router: 'test.router', method: 'GET', path: '/open', scope: 'public', roles: [], devices: false },
      { router: 'test.router', method: 'GET', path: '/studies', scope: 'clinic-data', roles: ['clinic', 'radiologist'], devices: true },
      { router: 'test.router', method: 'POST', path: '/reports', scope: 'clinic-data', roles: ['clinic'], devices: false },
      { router: 'test.router', method: 'GET', path: '/audit', scope: 'audit', roles: ['auditor'], devices: false },
    ]);
    expect(collectRouteTables().filter((r) => r.router === 'test.router')).toHaveLength(4);
  });

  it('refuses a route without a policy, an empty role list, or a route declared twice', () => {
    const r = new SecureRouter('test.invalid', fake);
    const handler = (): void => undefined;
    expect(() => r.get('/x', undefined as unknown as RoutePolicy, handler)).toThrow(/no access policy/);
    expect(() => r.get('/y', { scope: 'admin', roles: [] as unknown as ['admin'] }, handler)).toThrow(/invalid roles/);
    expect(() => r.get('/z', { scope: 'admin', roles: ['admin'], devices: true }, handler)).toThrow(/devices/);
    r.get('/w', { scope: 'public' }, handler);
    expect(() => r.get('/w', { scope: 'public' }, handler)).toThrow(/twice/);
  });

  it('fails the expectation check for a route without an entry, a stale entry, or a disagreeing policy', () => {
    const failures = checkExpectationTable(routes.routeTable(), {
      'GET /open': { allow: 'public', otherClinic: 'allow' },
      'GET /studies': { allow: ['clinic', 'radiologist', 'device'], otherClinic: 'deny' },
      'GET /audit': { allow: ['auditor', 'admin'], otherClinic: 'allow' },
      'GET /gone': { allow: ['admin'], otherClinic: 'allow' },
    });
    expect(failures).toEqual([
      'POST /reports (router test.router) has no entry in the authorization expectation table',
      'GET /audit: policy allows [auditor] but the expectation table says [auditor, admin]',
      'GET /gone is in the expectation table but no such route exists',
    ]);
  });
});
