import { spawn } from 'node:child_process';
import { Writable } from 'node:stream';
import { Registry } from 'prom-client';
import { AppError, createLogger } from '@yunying/core';
import { createTestCatalog, type TestCatalog } from '@yunying/catalog/testing';
import { describeUnless, findExecutable } from '../../../../test/support/skip';
import { startDimseServer, type DimseServer } from './index';

/** Issue #17: AE titles could be enumerated (65 associations in 3.7 s). Refusals per address are throttled. */
function echoscu(aet: string, port: number): Promise<{ code: number | null; output: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn('echoscu', ['-aet', aet, '-aec', 'YUNYING', '-ta', '10', '127.0.0.1', String(port)], { stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stdout.on('data', (c: Buffer) => (output += c.toString()));
    child.stderr.on('data', (c: Buffer) => (output += c.toString()));
    child.once('error', reject);
    child.once('close', (code) => resolve({ code, output }));
  });
}

describeUnless(findExecutable('echoscu') === null ? 'dcmtk echoscu not installed' : null, 'DIMSE: refused associations are throttled per source address', () => {
  let catalog: TestCatalog;
  let server: DimseServer;
  let now = 1_000_000;

  beforeAll(async () => {
    catalog = await createTestCatalog('dimsethrottle');
    const clinic = (await catalog.pool.query<{ id: string }>("INSERT INTO clinics (code, name, dimse_auth) VALUES ('thr-1', 'one', 'ae_only') RETURNING id")).rows[0]!.id;
    await catalog.pool.query('INSERT INTO clinic_ae_titles (ae_title, clinic_id) VALUES ($1, $2)', ['KNOWN_AE', clinic]);
    server = await startDimseServer({
      host: '127.0.0.1',
      port: 0,
      aeTitle: 'YUNYING',
      checkCalledAe: false,
      pool: catalog.pool,
      // C-ECHO only: no instance is ever stored here.
      pipeline: {
        openBatch: () => {
          throw new AppError('internal', 'not used');
        },
      },
      logger: createLogger({ level: 'silent', service: 'throttle-test', destination: new Writable({ write: (_c, _e, cb) => cb() }) }),
      metrics: new Registry(),
      failedAssociations: { maxFailures: 3, windowMs: 60_000, now: () => now },
    });
  });

  afterAll(async () => {
    await server?.close();
    await catalog?.drop();
  });

  it('refuses an address that probed unknown AE titles, even with a known one, until the window passes', async () => {
    for (const probe of ['PROBE_1', 'PROBE_2', 'PROBE_3']) {
      const run = await echoscu(probe, server.port);
      expect(run.output).toMatch(/Association Rejected[\s\S]*Reason: Calling AE Title Not Recognized/);
    }
    const throttled = await echoscu('KNOWN_AE', server.port);
    expect(throttled.code).not.toBe(0);
    expect(throttled.output).toMatch(/Association Rejected[\s\S]*Result: Rejected Transient[\s\S]*Reason: Temporary Congestion/);
    // Three audit records (the third marks the start of throttling), none for the throttled attempt.
    const { rows } = await catalog.pool.query<{ details: { callingAeTitle: string; sourceThrottled?: boolean } }>(
      "SELECT details FROM audit_events WHERE event_type = 'Security Alert' ORDER BY seq",
    );
    expect(rows.map((r) => [r.details.callingAeTitle, r.details.sourceThrottled ?? false])).toEqual([
      ['PROBE_1', false],
      ['PROBE_2', false],
      ['PROBE_3', true],
    ]);
    now += 60_001;
    expect((await echoscu('KNOWN_AE', server.port)).code).toBe(0);
  });
});
