import fs from 'node:fs/promises';
import path from 'node:path';
import { Registry } from 'prom-client';
import { IngestPipeline, type Sender } from '@yunying/archive';
import { createTestCatalog, type TestCatalog } from '@yunying/catalog/testing';
import { createLogger } from '@yunying/core';
import { makeInstance, newUid } from '@yunying/dicom/testing';
import { ReplicatedStore } from '@yunying/storage';
import { tempFsTargets, type TempFsTargets } from '@yunying/storage/testing';
import { keeperMetrics } from './keeper.metrics';
import { RepairService } from './repair.service';
import { Scrubber } from './scrub.service';

/**
 * A scrub that only reports (repair: false), on the real PostgreSQL and three fs targets: a copy deleted
 * from one target is found missing and recorded so, left unrepaired, and its claim is released, so the
 * next report-only pass finds it again instead of skipping a copy it still holds.
 */
describe('scrubber without repair (real PostgreSQL, fs targets)', () => {
  const logger = createLogger({ level: 'silent', service: 'scrub-report-test' });
  let catalog: TestCatalog;
  let fsTargets: TempFsTargets;
  let scrubber: Scrubber;
  let sender: Sender;
  let store: ReplicatedStore;

  beforeAll(async () => {
    catalog = await createTestCatalog('scrubreport');
    fsTargets = await tempFsTargets(3);
    store = new ReplicatedStore({ targets: fsTargets.targets, writeQuorum: 3 });
    await store.init();
    const metrics = keeperMetrics(new Registry());
    const repair = new RepairService({ pool: catalog.pool, store, logger, metrics, retrySeconds: 3600 });
    scrubber = new Scrubber({ pool: catalog.pool, store, repair, logger, metrics, batch: 50, maxBytesPerSecond: 0, cycleSeconds: 86_400, unreachableRetrySeconds: 3600 });
    const clinic = await catalog.pool.query<{ id: string }>("INSERT INTO clinics (code, name) VALUES ('scrub-r', 'Clinic R') RETURNING id");
    sender = { clinicId: clinic.rows[0]?.id ?? '', actor: { username: 'test-device' }, sourceIp: '127.0.0.1', via: 'STOW-RS' };
  });

  afterAll(async () => {
    await catalog?.drop();
    await fsTargets?.cleanup();
  });

  it('records a deleted copy missing, repairs nothing, and releases the claim so the next pass sees it again', async () => {
    const pipeline = new IngestPipeline({ pool: catalog.pool, store, logger, metrics: new Registry(), parseLimits: {}, retentionMinYears: 15 });
    expect(await pipeline.ingest(makeInstance({ studyInstanceUid: newUid(), sopInstanceUid: newUid(), rows: 8, columns: 8 }), sender)).toMatchObject({ status: 'stored' });
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
  });
});
