import { Writable } from 'node:stream';
import request from 'supertest';
import { AppError, createLogger } from '@yunying/core';
import { Router } from 'express';
import { createMetricsRegistry } from './metrics';
import { createServiceApp } from './service-app';
import type { HttpSecurityOptions } from './security';

function build(readyChecks: { name: string; ok: boolean }[], security: HttpSecurityOptions = {}) {
  const lines: string[] = [];
  const logger = createLogger({
    level: 'info',
    service: 'test',
    destination: new Writable({
      write(chunk: Buffer, _e, cb) {
        lines.push(chunk.toString());
        cb();
      },
    }),
  });
  const router = Router();
  router.get('/known', () => {
    throw new AppError('conflict', 'already stored', { details: { sopInstanceUid: '1.2.3' } });
  });
  router.get('/boom', () => {
    throw new Error('password=hunter2 at /srv/secret/path');
  });
  router.get('/echo', (req, res) => {
    res.json({ ip: req.ip, query: req.query });
  });
  router.get('/busy', () => {
    throw new AppError('unavailable', 'replica down', { retryAfterSeconds: 30 });
  });
  const app = createServiceApp({
    service: 'test',
    logger,
    metrics: createMetricsRegistry(),
    readiness: readyChecks.map(({ name, ok }) => ({
      name,
      check: () => (ok ? Promise.resolve() : Promise.reject(new Error('connect ECONNREFUSED postgres://user:pw@host'))),
    })),
    routes: [router],
    security,
  });
  return { app, lines };
}

describe('service app', () => {
  it('answers /healthz and /readyz when every dependency answers', async () => {
    const { app } = build([{ name: 'postgres', ok: true }]);
    await request(app).get('/healthz').expect(200, { status: 'ok', service: 'test' });
    const ready = await request(app).get('/readyz').expect(200);
    expect(ready.body.status).toBe('ready');
  });

  it('answers /readyz 503 naming the failing dependency, without credentials', async () => {
    const { app } = build([
      { name: 'postgres', ok: false },
      { name: 'redis', ok: true },
    ]);
    const res = await request(app).get('/readyz').expect(503);
    expect(res.headers['content-type']).toMatch(/application\/problem\+json/);
    expect(res.body.failing).toEqual(['postgres']);
    expect(res.body.detail).toBe('Not ready: postgres unavailable');
    expect(JSON.stringify(res.body)).not.toContain(':pw@');
  });

  it('maps AppError to problem+json with its status and a request id', async () => {
    const { app } = build([]);
    const res = await request(app).get('/known').set('X-Request-Id', 'abc-123').expect(409);
    expect(res.headers['content-type']).toMatch(/application\/problem\+json/);
    expect(res.body).toMatchObject({ status: 409, code: 'conflict', detail: 'already stored', requestId: 'abc-123', sopInstanceUid: '1.2.3' });
    expect(res.headers['x-request-id']).toBe('abc-123');
  });

  it('hides internals of unknown errors behind a 500 with a correlation id', async () => {
    const { app, lines } = build([]);
    const res = await request(app).get('/boom').expect(500);
    expect(res.body.code).toBe('internal');
    expect(JSON.stringify(res.body)).not.toMatch(/hunter2|secret/);
    expect(res.body.requestId).toMatch(/^[0-9a-f-]{36}$/);
    // The log has the details and the same request id, so support can correlate.
    const logged = lines.map((l) => JSON.parse(l) as { requestId?: string; msg?: string });
    expect(logged.some((l) => l.msg === 'unhandled error' && l.requestId === res.body.requestId)).toBe(true);
  });

  it('sets Retry-After on retryable unavailability', async () => {
    const { app } = build([]);
    const res = await request(app).get('/busy').expect(503);
    expect(res.headers['retry-after']).toBe('30');
  });

  it('answers unknown routes 404 as problem+json and serves Prometheus metrics', async () => {
    const { app } = build([]);
    const res = await request(app).get('/nope').expect(404);
    expect(res.body.code).toBe('not_found');
    const metrics = await request(app).get('/metrics').expect(200);
    expect(metrics.text).toContain('yunying_http_request_duration_seconds');
  });

  it('keeps /metrics and the /readyz detail from a caller that came through a proxy, unless it has the token', async () => {
    const { app } = build([{ name: 'postgres', ok: false }]);
    await request(app).get('/metrics').set('X-Forwarded-For', '203.0.113.9').expect(404);
    const outside = await request(app).get('/readyz').set('X-Forwarded-For', '203.0.113.9').expect(503);
    expect(outside.body.detail).toBe('Not ready');
    expect(JSON.stringify(outside.body)).not.toContain('postgres');

    const withToken = build([{ name: 'postgres', ok: true }], { metricsToken: 'metrics-token-0123456789' }).app;
    await request(withToken).get('/metrics').expect(404);
    await request(withToken).get('/metrics').set('Authorization', 'Bearer wrong-token-0123456789x').expect(404);
    await request(withToken).get('/metrics').set('Authorization', 'Bearer metrics-token-0123456789').expect(200);
    expect((await request(withToken).get('/readyz').expect(200)).body).toEqual({ status: 'ready' });
  });

  it('sends the security headers itself: CSP with frame-ancestors and a tight connect-src, nosniff, no referrer', async () => {
    const { app } = build([], { connectSrc: ['https://ingest.example:8443/base'] });
    const res = await request(app).get('/healthz').expect(200);
    const csp = String(res.headers['content-security-policy']);
    expect(csp).toContain("frame-ancestors 'none'");
    expect(csp).toContain("connect-src 'self' https://ingest.example:8443;");
    expect(csp).not.toMatch(/connect-src[^;]* https?:(\s|;)/);
    expect(res.headers['x-content-type-options']).toBe('nosniff');
    expect(res.headers['referrer-policy']).toBe('no-referrer');
    expect(res.headers['strict-transport-security']).toBeUndefined();
  });

  it('sends HSTS only behind TLS, and believes X-Forwarded-* only from a configured proxy', async () => {
    const { app } = build([]);
    const direct = await request(app).get('/echo').set('X-Forwarded-For', '198.51.100.7').set('X-Forwarded-Proto', 'https').expect(200);
    expect(direct.body.ip).not.toBe('198.51.100.7');
    expect(direct.headers['strict-transport-security']).toBeUndefined();
    const proxied = build([], { trustedProxies: ['loopback'] }).app;
    const res = await request(proxied).get('/echo').set('X-Forwarded-For', '198.51.100.7').set('X-Forwarded-Proto', 'https').expect(200);
    expect(res.body.ip).toBe('198.51.100.7');
    expect(res.headers['strict-transport-security']).toMatch(/max-age=\d+/);
  });

  it('answers 400, not 500, to a NUL or another control character in a query parameter', async () => {
    const { app } = build([]);
    for (const q of ['PatientName=A%00B', 'PatientID=%1f', 'x=%0D%0A']) {
      const res = await request(app).get(`/echo?${q}`).expect(400);
      expect(res.body.code).toBe('bad_request');
    }
    await request(app).get('/echo?PatientName=A%09B%20C').expect(200);
  });
});
