import fs from 'node:fs/promises';
import path from 'node:path';
import { Registry } from 'prom-client';
import { IngestPipeline, type Sender } from '@yunying/archive';
import { createTestCatalog, type TestCatalog } from '@yunying/catalog/testing';
import { createLogger } from '@yunying/core';
import { makeInstance, newUid } from '@yunying/dicom/testing';
import { ReplicatedStore } from '@yunying/storage';
import { takeFsTargetOffline, tempFsTargets, type TempFsTargets } from '@yunying/storage/testing';
import { keeperMetrics } from './keeper.metrics';
import { RepairService } from './repair.service';
import { Scrubber } from './scrub.service';

/**
 * The scrubber's and the repair worker's claims, on the real PostgreSQL and three fs targets: a scheduled
 * tick takes the copies not verified within the cycle; a scrub that only reports (repair: false) finds a
 * copy deleted from one target missing, leaves it unrepaired and releases its claim, so the next
 * report-only pass finds it again instead of skipping a copy it still holds; the repair worker then takes
 * it as due and rebuilds it from a good copy. With the other targets offline, their copies are left alone
 * for the retry period and the repair fails with a backoff.
 */
describe('scrubber without repair (real PostgreSQL, fs targets)', () => {
  const logger = createLogger({ level: 'silent', service: 'scrub-report-test' });
  let catalog: TestCatalog;
  let fsTargets: TempFsTargets;
  let scrubber: Scrubber;
  let repair: RepairService;
  let sender: Sender;
  let store: ReplicatedStore;

  beforeAll(async () => {
    catalog = await createTestCatalog('scrubreport');
    fsTargets = await tempFsTargets(3);
    store = new ReplicatedStore({ targets: fsTargets.targets, writeQuorum: 3 });
    await store.init();
    const metrics = keeperMetrics(new Registry());
    repair = new RepairService({ pool: catalog.pool, store, logger, metrics, retrySeconds: 3600 });
    // A cycle of 0 s: every copy verified before now is due at a tick.
    scrubber = new Scrubber({ pool: catalog.pool, store, repair, logger, metrics, batch: 50, maxBytesPerSecond: 0, cycleSeconds: 0, unreachableRetrySeconds: 3600 });
    const clinic = await catalog.pool.query<{ id: string }>("INSERT INTO clinics (code, name) VALUES ('scrub-r', 'Clinic R') RETURNING id");
    sender = { clinicId: clinic.rows[0]?.id ?? '', actor: { username: 'test-device' }, sourceIp: '127.0.0.1', via: 'STOW-RS' };
  });

  afterAll(async () => {
    await catalog?.drop();
    await fsTargets?.cleanup();
  });

  it('ticks over due copies; records a deleted copy missing without repair, releasing the claim; the repair worker rebuilds it', async () => {
    const pipeline = new IngestPipeline({ pool: catalog.pool, store, logger, metrics: new Registry(), parseLimits: {}, retentionMinYears: 15 });
    expect(await pipeline.ingest(makeInstance({ studyInstanceUid: newUid(), sopInstanceUid: newUid(), rows: 8, columns: 8 }), sender)).toMatchObject({ status: 'stored' });
    const tick = await scrubber.tick();
    expect(tick).toMatchObject({ verified: 3, ok: 3, findings: [] });
    const verified = await catalog.pool.query<{ n: number }>('SELECT count(*)::int AS n FROM copies WHERE last_verified_at IS NOT NULL AND claimed_until IS NULL');
    expect(verified.rows[0]?.n).toBe(3);
    const { rows: copies } = await catalog.pool.query<{ sha256: string; object_key: string }>("SELECT sha256, object_key FROM copies WHERE target = 'fs-2'");
    const copy = copies[0]!;
    const file = path.join(fsTargets.targets[1]!.root, copy.object_key);
    await fs.unlink(file);

    for (let pass = 0; pass < 2; pass++) {
      const summary = await scrubber.fullPass({ repair: false });
      expect(summary.verified).toBe(3);
      expect(summary.findings).toEqual([{ sha256: copy.sha256, target: 'fs-2', state: 'missing', problem: expect.any(String), repaired: null }]);
      const { rows } = await catalog.pool.query<{ state: string; claimed_until: Date | null }>("SELECT state, claimed_until FROM copies WHERE target = 'fs-2'");
      expect(rows).toEqual([{ state: 'missing', claimed_until: null }]);
    }
    await expect(fs.access(file)).rejects.toMatchObject({ code: 'ENOENT' });

    expect(await repair.runDue()).toEqual({ attempted: 1, repaired: 1, failed: 0 });
    await fs.access(file);
    const { rows } = await catalog.pool.query<{ state: string; claimed_until: Date | null; last_repaired_at: Date | null }>(
      "SELECT state, claimed_until, last_repaired_at FROM copies WHERE target = 'fs-2'",
    );
    expect(rows).toEqual([{ state: 'ok', claimed_until: null, last_repaired_at: expect.any(Date) }]);
    expect(await repair.runDue()).toEqual({ attempted: 0, repaired: 0, failed: 0 });
  });

  it('leaves unreachable copies alone for the retry period, and backs off a repair with no reachable source', async () => {
    const { rows: copies } = await catalog.pool.query<{ object_key: string }>("SELECT object_key FROM copies WHERE target = 'fs-2'");
    await fs.unlink(path.join(fsTargets.targets[1]!.root, copies[0]!.object_key));
    const restore = [await takeFsTargetOffline(fsTargets.targets[0]!), await takeFsTargetOffline(fsTargets.targets[2]!)];
    try {
      const pass = await scrubber.fullPass({ repair: false });
      expect(pass).toMatchObject({ verified: 3, unreachable: 2, findings: [{ target: 'fs-2', state: 'missing' }] });
      const held = await catalog.pool.query<{ target: string; state: string; held_s: number }>(
        "SELECT target, state, extract(epoch FROM claimed_until - now())::int AS held_s FROM copies WHERE target <> 'fs-2' ORDER BY target",
      );
      // unreachableRetrySeconds 3600: not looked at again within the hour, and nothing recorded about them.
      expect(held.rows.map((r) => [r.target, r.state, r.held_s > 3000 && r.held_s <= 3600])).toEqual([
        ['fs-1', 'ok', true],
        ['fs-3', 'ok', true],
      ]);

      expect(await repair.runDue()).toEqual({ attempted: 1, repaired: 0, failed: 1 });
      const failed = await catalog.pool.query<{ state: string; repair_attempts: number; retry_s: number; claimed_until: Date | null; failure_reason: string | null }>(
        "SELECT state, repair_attempts, extract(epoch FROM next_repair_at - now())::int AS retry_s, claimed_until, failure_reason FROM copies WHERE target = 'fs-2'",
      );
      const row = failed.rows[0]!;
      // retrySeconds 3600 on the first failure; the claim is released for the next due attempt.
      expect(row).toMatchObject({ state: 'missing', repair_attempts: 1, claimed_until: null, failure_reason: expect.any(String) });
      expect(row.retry_s > 3000 && row.retry_s <= 3600).toBe(true);
      expect(await repair.runDue()).toEqual({ attempted: 0, repaired: 0, failed: 0 });
    } finally {
      for (const back of restore) await back();
    }
  });
});
