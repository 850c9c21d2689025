import fs from 'node:fs/promises';
import path from 'node:path';
import * as Minio from 'minio';
import { Registry } from 'prom-client';
import { IngestPipeline, type Sender } from '@yunying/archive';
import { copyVersionLookup } from '@yunying/catalog';
import { createTestCatalog, type TestCatalog } from '@yunying/catalog/testing';
import { createLogger } from '@yunying/core';
import { makeInstance, newUid } from '@yunying/dicom/testing';
import { ReplicatedStore, S3ReplicaTarget, type FsReplicaTarget } from '@yunying/storage';
import { s3TestSettings, tempFsTargets, uniqueBucketName, type TempFsTargets } from '@yunying/storage/testing';
import { describeUnless } from '../../../../test/support/skip';
import { keeperMetrics } from './keeper.metrics';
import { RepairService } from './repair.service';
import { Scrubber } from './scrub.service';

/**
 * #17 finding 7 through the scrubber, on the real PostgreSQL and real targets: a later version and a delete
 * marker written at copies' keys with the object store's key (Ceph RGW, Object Lock), and a lowered bucket
 * lock configuration, are each a Security Alert and a finding once (not on every pass); the copies stay
 * recorded ok with their version, and what the archive serves is the recorded version. On fs, the root
 * marker is what stands for the bucket configuration.
 */

const logger = createLogger({ level: 'silent', service: 'scrub-tamper-test' });
const retainFar = (): Date => new Date(Date.now() + 15 * 366 * 86_400_000);

function scrubberFor(catalog: TestCatalog, store: ReplicatedStore): Scrubber {
  const metrics = keeperMetrics(new Registry());
  const repair = new RepairService({ pool: catalog.pool, store, logger, metrics, retrySeconds: 3600 });
  return new Scrubber({ pool: catalog.pool, store, repair, logger, metrics, batch: 50, maxBytesPerSecond: 0, cycleSeconds: 86_400, unreachableRetrySeconds: 3600 });
}

async function alerts(catalog: TestCatalog, event: string): Promise<{ target: string; sha256?: string; problem: string }[]> {
  const { rows } = await catalog.pool.query<{ details: { target: string; sha256?: string; problem: string } }>(
    "SELECT details FROM audit_events WHERE event_type = 'Security Alert' AND details->>'event' = $1 ORDER BY seq",
    [event],
  );
  return rows.map((r) => r.details);
}

async function setUpClinic(catalog: TestCatalog, code: string): Promise<Sender> {
  const clinic = await catalog.pool.query<{ id: string }>('INSERT INTO clinics (code, name) VALUES ($1, $1) RETURNING id', [code]);
  return { clinicId: clinic.rows[0]?.id ?? '', actor: { username: 'test-device' }, sourceIp: '127.0.0.1', via: 'STOW-RS' };
}

const s3 = s3TestSettings();

describeUnless(s3 === null ? 'no S3 endpoint: S3_ENDPOINT unset (start Ceph RGW with infra/ceph/up.sh)' : null, 'scrubber: object store tampering (Ceph RGW, Object Lock)', () => {
  let catalog: TestCatalog;
  let store: ReplicatedStore;
  let raw: Minio.Client;
  let buckets: string[];
  let sender: Sender;

  beforeAll(async () => {
    const s = s3!;
    catalog = await createTestCatalog('scrubtamper');
    buckets = [1, 2, 3].map((n) => uniqueBucketName(`yy-tamper-${n}`));
    const targets = buckets.map((bucket, i) => new S3ReplicaTarget({ name: `s3-${i + 1}`, endpoint: s.endpoint, accessKey: s.accessKey, secretKey: s.secretKey, region: s.region, bucket }));
    store = new ReplicatedStore({ targets, copyVersions: copyVersionLookup(catalog.pool) });
    await store.init();
    const url = new URL(s.endpoint);
    raw = new Minio.Client({ endPoint: url.hostname, port: Number(url.port), useSSL: false, accessKey: s.accessKey, secretKey: s.secretKey, region: s.region, pathStyle: true });
    sender = await setUpClinic(catalog, 'clinic-t');
  });
  afterAll(async () => {
    await catalog?.drop();
  });

  it('alerts once on a later version and on a delete marker, keeps the recorded copies, and serves them', async () => {
    const pipeline = new IngestPipeline({ pool: catalog.pool, store, logger, metrics: new Registry(), parseLimits: {}, retentionMinYears: 15 });
    const bytes = makeInstance({ studyInstanceUid: newUid(), sopInstanceUid: newUid(), rows: 8, columns: 8 });
    expect(await pipeline.ingest(bytes, sender)).toMatchObject({ status: 'stored' });
    const { rows: before } = await catalog.pool.query<{ sha256: string; target: string; object_key: string; version_id: string }>(
      'SELECT sha256, target, object_key, version_id FROM copies ORDER BY target',
    );
    expect(before).toHaveLength(3);
    const key = before[0]!.object_key;
    const scrubber = scrubberFor(catalog, store);
    expect((await scrubber.fullPass({ repair: true })).findings).toEqual([]);

    // Written with the archive's own key: a same-size garbage version on copy 1, a delete marker on copy 2.
    await raw.putObject(buckets[0]!, key, Buffer.alloc(bytes.length, 0x41), bytes.length);
    await raw.removeObject(buckets[1]!, key);

    const found = await scrubber.fullPass({ repair: true });
    expect(found.findings.map((f) => `${f.target}:${f.state}:${f.problem}`).sort()).toEqual([
      's3-1:tampered:1 version(s) written after the recorded one',
      's3-2:tampered:1 delete marker(s)',
    ]);
    expect(found.findings.every((f) => f.sha256 === before[0]!.sha256 && f.repaired === null)).toBe(true);
    expect(found.ok).toBe(3);
    expect((await alerts(catalog, 'copy.tampered')).map((a) => a.target)).toEqual(['s3-1', 's3-2']);
    // The copies stay recorded ok with the versions written at ingest; nothing was rewritten.
    const { rows: after } = await catalog.pool.query<{ target: string; version_id: string; state: string }>('SELECT target, version_id, state FROM copies ORDER BY target');
    expect(after).toEqual(before.map((c) => ({ target: c.target, version_id: c.version_id, state: 'ok' })));

    // Reads (WADO, retrieve, triage go through this) return the archived bytes, the range from copy 1 too.
    expect(Buffer.from(await store.read(key, { expectedSize: bytes.length }))).toEqual(Buffer.from(bytes));
    expect(Buffer.from(await store.readRange(key, 0, 132, { expectedSize: bytes.length }))).toEqual(Buffer.from(bytes.subarray(0, 132)));

    // The same tampering is not alerted again; a new one is.
    expect((await scrubber.fullPass({ repair: true })).findings).toEqual([]);
    await raw.removeObject(buckets[0]!, key);
    const next = await scrubber.fullPass({ repair: true });
    expect(next.findings.map((f) => `${f.target}:${f.problem}`)).toEqual(['s3-1:1 version(s) written after the recorded one; 1 delete marker(s)']);
    expect(await alerts(catalog, 'copy.tampered')).toHaveLength(3);
  });

  it('alerts once when a bucket default retention is lowered, and when it is back', async () => {
    const scrubber = scrubberFor(catalog, store);
    expect((await scrubber.tick()).findings).toEqual([]);
    await (raw.setObjectLockConfig(buckets[2]!, { mode: Minio.RETENTION_MODES.GOVERNANCE, unit: Minio.RETENTION_VALIDITY_UNITS.DAYS, validity: 1 }) as unknown as Promise<void>);
    const found = await scrubber.tick();
    expect(found.findings).toEqual([
      { sha256: null, target: 's3-3', state: 'unprotected', problem: 'bucket default retention mode GOVERNANCE, expected COMPLIANCE; bucket default retention 1 days, expected at least 5475', repaired: null },
    ]);
    expect((await scrubber.tick()).findings).toEqual([]);
    expect((await alerts(catalog, 'replica.protection-changed')).map((a) => a.target)).toEqual(['s3-3']);
    // The scrubber never puts it back (its key should not be able to); init of a preparing role does.
    expect(await store.targets[2]!.checkProtection()).toHaveLength(2);
    await store.init();
    expect((await scrubber.tick()).findings).toEqual([]);
    expect((await alerts(catalog, 'replica.protection-restored')).map((a) => a.target)).toEqual(['s3-3']);
  });
});

describe('scrubber: fs replica protection (root marker)', () => {
  let catalog: TestCatalog;
  let temp: TempFsTargets;

  beforeAll(async () => {
    catalog = await createTestCatalog('scrubfsmark');
    temp = await tempFsTargets(3);
  });
  afterAll(async () => {
    await catalog?.drop();
    await temp?.cleanup();
  });

  it('reports a root whose marker names another replica, once', async () => {
    const store = new ReplicatedStore({ targets: temp.targets, copyVersions: copyVersionLookup(catalog.pool) });
    const scrubber = scrubberFor(catalog, store);
    expect((await scrubber.tick()).findings).toEqual([]);
    const fs2 = temp.targets[1] as FsReplicaTarget;
    await fs.writeFile(path.join(fs2.root, '.yunying-replica.json'), JSON.stringify({ name: 'fs-1' }));
    expect((await scrubber.tick()).findings).toEqual([
      { sha256: null, target: 'fs-2', state: 'unprotected', problem: 'replica marker names another replica', repaired: null },
    ]);
    expect((await scrubber.tick()).findings).toEqual([]);
    expect((await alerts(catalog, 'replica.protection-changed')).map((a) => a.target)).toEqual(['fs-2']);
    // fs reads are not pinned (no versions): a put and a read work as before with the lookup configured.
    const bytes = new Uint8Array(Buffer.from('fs bytes'));
    const { key } = await store.put(bytes, { retainUntil: retainFar() });
    expect(Buffer.from(await store.read(key))).toEqual(Buffer.from(bytes));
  });
});
