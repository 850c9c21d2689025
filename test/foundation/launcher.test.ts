import { describeUnless } from '../support/skip';
import { freePort, postgresAvailable, startLauncher, startThrowawayPostgres, type ThrowawayPostgres } from '../support/processes';

const secret = 'test-secret-'.padEnd(40, 'x');

async function portsEnv(): Promise<Record<string, string>> {
  return {
    INGEST_PORT: String(await freePort()),
    VIEWER_PORT: String(await freePort()),
    INFERENCE_PORT: String(await freePort()),
    DIMSE_PORT: String(await freePort()),
  };
}

describe('launcher: configuration at boot', () => {
  it('refuses to boot on a bad value, naming the variable and what is expected', async () => {
    const launcher = startLauncher({ AUTH_TOKEN_SECRET: secret, WRITE_QUORUM: 'three', ROLE: 'reader' });
    const code = await launcher.exited;
    expect(code).toBe(78);
    expect(launcher.output()).toMatch(/WRITE_QUORUM: .*got "three"/);
    expect(launcher.output()).toMatch(/ROLE: .*got "reader"/);
  });

  it('refuses to boot without the token secret, without echoing secrets', async () => {
    const launcher = startLauncher({ AUTH_TOKEN_SECRET: 'too-short-secret' });
    expect(await launcher.exited).toBe(78);
    expect(launcher.output()).toMatch(/AUTH_TOKEN_SECRET: at least 32 characters/);
    expect(launcher.output()).not.toContain('too-short-secret');
  });
});

describeUnless(postgresAvailable(), 'launcher: all roles, readiness and shutdown (real PostgreSQL and Redis)', () => {
  let postgres: ThrowawayPostgres;
  afterAll(() => postgres?.stop());

  it('serves /readyz 200 for every role, 503 naming postgres when it stops, and drains on SIGTERM', async () => {
    postgres = startThrowawayPostgres(await freePort());
    const launcher = startLauncher({
      AUTH_TOKEN_SECRET: secret,
      DATABASE_URL: postgres.url,
      REDIS_URL: process.env.TEST_REDIS_URL ?? 'redis://127.0.0.1:6379',
      QUEUE_PREFIX: `t${Date.now()}`,
      DATA_DIR: `/tmp/yy-launcher-${process.pid}`,
      ...(await portsEnv()),
    });
    try {
      const services = await launcher.ready;
      expect(services.map((s) => s.role).sort()).toEqual(['inference', 'ingest', 'viewer']);
      for (const { url } of services) {
        const res = await fetch(`${url}/readyz`);
        expect(res.status).toBe(200);
        expect(((await res.json()) as { status: string }).status).toBe('ready');
        expect((await fetch(`${url}/healthz`)).status).toBe(200);
        expect(await (await fetch(`${url}/metrics`)).text()).toContain('yunying_');
      }

      postgres.stop();
      for (const { url } of services) {
        const res = await fetch(`${url}/readyz`);
        expect(res.status).toBe(503);
        expect(res.headers.get('content-type')).toMatch(/application\/problem\+json/);
        const body = (await res.json()) as { failing: string[]; detail: string };
        expect(body.failing).toEqual(['postgres']);
        expect(body.detail).toMatch(/postgres unavailable/);
        // Liveness is not readiness: the process itself is fine.
        expect((await fetch(`${url}/healthz`)).status).toBe(200);
      }
    } finally {
      const code = await launcher.stop('SIGTERM');
      expect(code).toBe(0);
    }
  });
});
