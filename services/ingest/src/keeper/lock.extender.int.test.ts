import { Registry } from 'prom-client';
import { IngestPipeline, type Sender } from '@yunying/archive';
import { listStudyRetention } from '@yunying/audit';
import type { Principal } from '@yunying/auth';
import { createTestCatalog, type TestCatalog } from '@yunying/catalog/testing';
import { createLogger } from '@yunying/core';
import { makeInstance, newUid } from '@yunying/dicom/testing';
import { ReplicatedStore, S3ReplicaTarget, type ReplicaTarget } from '@yunying/storage';
import { s3TestSettings, tempFsTargets, uniqueBucketName } from '@yunying/storage/testing';
import { describeUnless } from '../../../../test/support/skip';
import { keeperMetrics } from './keeper.metrics';
import { LockExtender } from './lock.extender';

/**
 * #20 retention consistency, against the real PostgreSQL and real replica targets (three fs directories;
 * three Object Lock buckets on the test Ceph RGW when S3_ENDPOINT is set): a later instance raises its
 * study's retain-until past the locks of the copies already written; one pass of the lock extender brings
 * every copy's lock, as read back from the store, to the study's date, and the study leaves the at-risk list.
 */

const logger = createLogger({ level: 'silent', service: 'lock-extender-test' });
const auditor: Principal = { kind: 'user', username: 'auditor', role: 'auditor', clinicId: null, clinics: { all: true } };
const DAY = 86_400_000;

interface Backend {
  targets: ReplicaTarget[];
  cleanup(): Promise<void>;
}

function lockExtensionSuite(makeTargets: () => Promise<Backend>): void {
  let catalog: TestCatalog;
  let backend: Backend;
  let store: ReplicatedStore;
  let extender: LockExtender;
  let clinicId: string;
  let sender: Sender;

  beforeAll(async () => {
    catalog = await createTestCatalog('locks');
    backend = await makeTargets();
    store = new ReplicatedStore({ targets: backend.targets, writeQuorum: 3 });
    await store.init();
    const clinic = await catalog.pool.query<{ id: string }>("INSERT INTO clinics (code, name) VALUES ('clinic-l', 'Clinic L') RETURNING id");
    clinicId = clinic.rows[0]?.id ?? '';
    sender = { clinicId, actor: { username: 'test-device' }, sourceIp: '127.0.0.1', via: 'STOW-RS' };
    extender = new LockExtender({ pool: catalog.pool, store, logger, metrics: keeperMetrics(new Registry()), batch: 2 });
  });

  afterAll(async () => {
    await catalog?.drop();
    await backend?.cleanup();
  });

  function pipelineAt(now: Date): IngestPipeline {
    return new IngestPipeline({ pool: catalog.pool, store, logger, metrics: new Registry(), parseLimits: {}, retentionMinYears: 15, now: () => now });
  }

  async function copiesOf(studyUid: string): Promise<{ id: string; target: string; object_key: string; version_id: string | null; retain_until: Date }[]> {
    const { rows } = await catalog.pool.query<{ id: string; target: string; object_key: string; version_id: string | null; retain_until: Date }>(
      `SELECT c.id, c.target, c.object_key, c.version_id, c.retain_until
         FROM copies c JOIN instances i ON i.sha256 = c.sha256 JOIN studies s ON s.id = i.study_ref
        WHERE s.study_instance_uid = $1 ORDER BY c.id`,
      [studyUid],
    );
    return rows;
  }

  async function risksOf(studyUid: string): Promise<string[]> {
    const { studies } = await listStudyRetention(catalog.pool, auditor, { studyInstanceUid: studyUid, staleBefore: new Date(Date.now() - DAY) });
    return studies[0]?.risks ?? ['study not listed'];
  }

  test('a later instance raises the study retain-until; one pass extends every copy in the store and the catalog', async () => {
    const studyUid = newUid();
    const first = new Date(Date.now() - 2 * DAY);
    const later = new Date(first.getTime() + DAY);
    expect(await pipelineAt(first).ingest(makeInstance({ studyInstanceUid: studyUid, sopInstanceUid: newUid() }), sender)).toMatchObject({ status: 'stored' });
    expect(await pipelineAt(later).ingest(makeInstance({ studyInstanceUid: studyUid, sopInstanceUid: newUid() }), sender)).toMatchObject({ status: 'stored' });

    const study = await catalog.pool.query<{ retain_until: Date }>('SELECT retain_until FROM studies WHERE study_instance_uid = $1', [studyUid]);
    const studyUntil = study.rows[0]?.retain_until ?? new Date(0);
    const before = await copiesOf(studyUid);
    expect(before).toHaveLength(6);
    // The bug of #20: the first instance's three copies are locked a day short of their study.
    expect(before.filter((c) => c.retain_until.getTime() < studyUntil.getTime())).toHaveLength(3);
    expect(await risksOf(studyUid)).toContain('copy-retention-short');

    const summary = await extender.runPass();
    expect(summary).toEqual({ behind: 3, extended: 3, failed: 0 });

    for (const copy of await copiesOf(studyUid)) {
      expect(copy.retain_until.getTime()).toBeGreaterThanOrEqual(studyUntil.getTime());
      // The lock as the store itself reports it, not the catalog's record of it.
      const stat = await store.target(copy.target).stat(copy.object_key);
      expect(stat?.retainUntil?.getTime()).toBeGreaterThanOrEqual(studyUntil.getTime());
      expect(stat?.lockMode).not.toBeNull();
    }
    // The extended copies reach exactly the study's date (nothing else asked for more).
    const extended = (await copiesOf(studyUid)).filter((c) => before.find((b) => b.id === c.id)?.retain_until.getTime() !== c.retain_until.getTime());
    expect(extended).toHaveLength(3);
    for (const copy of extended) {
      expect(copy.retain_until.toISOString()).toBe(studyUntil.toISOString());
      expect((await store.target(copy.target).stat(copy.object_key))?.retainUntil?.toISOString()).toBe(studyUntil.toISOString());
    }
    expect(await risksOf(studyUid)).toEqual([]);
    const audited = await catalog.pool.query<{ n: number }>(
      "SELECT count(*)::int AS n FROM audit_events WHERE details->>'event' = 'copy.lock-extended' AND study_instance_uid = $1",
      [studyUid],
    );
    expect(audited.rows[0]?.n).toBe(3);

    // Idempotent: a second pass finds nothing behind.
    expect(await extender.runPass()).toEqual({ behind: 0, extended: 0, failed: 0 });
  });

  test('the scheduled tick: a full pass first, then only the studies that received an instance lately, and the full pass again a day later', async () => {
    let clock = Date.now();
    const ticking = new LockExtender({ pool: catalog.pool, store, logger, metrics: keeperMetrics(new Registry()), batch: 2, now: () => new Date(clock) });
    /** A study whose first instance's copies fall behind when its second arrives, `ago` ms before now. */
    const studyFallingBehind = async (ago: number): Promise<string> => {
      const studyUid = newUid();
      expect(await pipelineAt(new Date(Date.now() - ago - DAY)).ingest(makeInstance({ studyInstanceUid: studyUid, sopInstanceUid: newUid() }), sender)).toMatchObject({ status: 'stored' });
      expect(await pipelineAt(new Date(Date.now() - ago)).ingest(makeInstance({ studyInstanceUid: studyUid, sopInstanceUid: newUid() }), sender)).toMatchObject({ status: 'stored' });
      return studyUid;
    };
    const first = await studyFallingBehind(2 * DAY);
    expect(await ticking.tick()).toEqual({ pass: 'full', behind: 3, extended: 3, failed: 0 });
    expect(await risksOf(first)).toEqual([]);

    // Two more fall behind: one whose last instance came two days ago (a state only a full pass finds),
    // one whose last instance came just now.
    const old = await studyFallingBehind(2 * DAY);
    const fresh = await studyFallingBehind(0);
    clock += 30_000;
    expect(await ticking.tick()).toEqual({ pass: 'recent', behind: 3, extended: 3, failed: 0 });
    expect(await risksOf(fresh)).toEqual([]);
    expect(await risksOf(old)).toContain('copy-retention-short');
    clock += 30_000;
    expect(await ticking.tick()).toEqual({ pass: 'recent', behind: 0, extended: 0, failed: 0 });

    clock += 24 * 3_600_000;
    expect(await ticking.tick()).toEqual({ pass: 'full', behind: 3, extended: 3, failed: 0 });
    expect(await risksOf(old)).toEqual([]);
  });

  test('never shortens, and a crash after the store was extended is finished by the next pass', async () => {
    const studyUid = newUid();
    const first = new Date(Date.now() - 2 * DAY);
    expect(await pipelineAt(first).ingest(makeInstance({ studyInstanceUid: studyUid, sopInstanceUid: newUid() }), sender)).toMatchObject({ status: 'stored' });
    const [copy] = await copiesOf(studyUid);
    if (copy === undefined) throw new Error('no copy');
    const original = copy.retain_until;
    const target = store.target(copy.target);

    // An earlier date is not a shortening: the lock stays.
    expect((await target.extendRetention(copy.object_key, copy.version_id, new Date(original.getTime() - DAY))).toISOString()).toBe(original.toISOString());
    expect((await target.stat(copy.object_key))?.retainUntil?.toISOString()).toBe(original.toISOString());

    // The study grows (as a later instance would make it); the store is extended, then the process "dies"
    // before the catalog records it.
    const grown = new Date(original.getTime() + DAY);
    await catalog.pool.query('UPDATE studies SET retain_until = $2 WHERE study_instance_uid = $1', [studyUid, grown]);
    await target.extendRetention(copy.object_key, copy.version_id, grown);
    expect(await risksOf(studyUid)).toContain('copy-retention-short');

    const summary = await extender.runPass();
    expect(summary).toEqual({ behind: 3, extended: 3, failed: 0 });
    for (const c of await copiesOf(studyUid)) {
      expect(c.retain_until.toISOString()).toBe(grown.toISOString());
      expect((await store.target(c.target).stat(c.object_key))?.retainUntil?.toISOString()).toBe(grown.toISOString());
    }
    expect(await risksOf(studyUid)).toEqual([]);
  });
}

describe('lock extender (real PostgreSQL, fs replicas)', () => {
  lockExtensionSuite(async () => {
    const fs = await tempFsTargets();
    return { targets: fs.targets, cleanup: fs.cleanup };
  });
});

const s3 = s3TestSettings();
describeUnless(s3 === null ? 'no S3 endpoint: S3_ENDPOINT/S3_ACCESS_KEY/S3_SECRET_KEY unset (start one with infra/ceph/up.sh)' : null, 'lock extender (real PostgreSQL, S3 Object Lock on Ceph RGW)', () => {
  lockExtensionSuite(() => {
    if (s3 === null) return Promise.reject(new Error('no S3 endpoint'));
    const run = uniqueBucketName('yy-locks');
    const targets = [1, 2, 3].map(
      (i) => new S3ReplicaTarget({ name: `s3-${i}`, endpoint: s3.endpoint, accessKey: s3.accessKey, secretKey: s3.secretKey, region: s3.region, bucket: `${run}-${i}` }),
    );
    // Locked buckets cannot be emptied before their retention ends; each run uses new ones.
    return Promise.resolve({ targets, cleanup: () => Promise.resolve() });
  });
});
