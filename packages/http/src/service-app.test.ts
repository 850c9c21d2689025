import { Writable } from 'node:stream';
import request from 'supertest';
import { AppError, createLogger } from '@yunying/core';
import { Router } from 'express';
import { createMetricsRegistry } from './metrics';
import { createServiceApp } from './service-app';

function build(readyChecks: { name: string; ok: boolean }[]) {
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
});
