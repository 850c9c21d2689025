import { randomBytes } from 'node:crypto';
import { Registry } from 'prom-client';
import { createTestCatalog, type TestCatalog } from '@yunying/catalog/testing';
import type { PoolClient } from '@yunying/catalog';
import { createLogger } from '@yunying/core';
import { makeInstance, newUid } from '@yunying/dicom/testing';
import { relayOutbox, TypedQueue } from '@yunying/jobs';
import { ReplicatedStore } from '@yunying/storage';
import { tempFsTargets, type TempFsTargets } from '@yunying/storage/testing';
import { backendPid, backendsBlockedBy } from '../../../test/support/pg-locks';
import { waitFor } from '../../../test/support/wait';
import { IngestPipeline, type CommittedInstance, type InstanceOutcome, type Sender } from './ingest.pipeline';
import type { BatchLimits } from './ingest.batch';

/**
 * One catalog transaction per request (#14), against the real PostgreSQL, Redis and fs replicas: the
 * instances of a batch share one transaction (one xmin on their rows and announcements, one append of their audit records), a UID conflict found under
 * lock refuses that instance alone and keeps nothing of it, a transaction lost to the database refuses its
 * instances as retryable (never stored) while an earlier batch's stay stored, and the outbox relay
 * publishes each announcement once.
 */
describe('IngestBatch: one catalog transaction per request (real PostgreSQL, Redis, fs replicas)', () => {
  let catalog: TestCatalog;
  let storage: TempFsTargets;
  let pipeline: IngestPipeline;
  let queue: TypedQueue<'study'>;
  let clinicA: string;
  let clinicB: string;
  const committedCalls: CommittedInstance[][] = [];

  const sender = (clinicId: string): Sender => ({ clinicId, actor: { username: 'test-device' }, sourceIp: '127.0.0.1', via: 'STOW-RS' });
  const wide: BatchLimits = { maxInstances: 64, maxBytes: 64 * 1024 * 1024 };

  /** Adds every file (two in flight, as the STOW route does), closes the batch, returns the outcomes in order. */
  async function storeAll(files: Buffer[], clinicId: string, limits: BatchLimits, beforeClose?: () => Promise<void>): Promise<InstanceOutcome[]> {
    const batch = pipeline.openBatch(sender(clinicId), undefined, limits);
    const started = files.map((file) => batch.add(file));
    await Promise.all(started.map((s) => s.staged));
    await beforeClose?.();
    await batch.close();
    return Promise.all(started.map((s) => s.outcome));
  }

  /** The transactions (xmin) that wrote the rows of these instances, their audit records and their study announcements. */
  async function writers(sopUids: string[], studyUids: string[]): Promise<{ instances: string[]; audit: string[]; outbox: string[] }> {
    const distinct = async (sql: string, values: unknown[]): Promise<string[]> => (await catalog.pool.query<{ x: string }>(sql, values)).rows.map((r) => r.x);
    return {
      instances: await distinct('SELECT DISTINCT xmin::text AS x FROM instances WHERE sop_instance_uid = ANY($1::text[])', [sopUids]),
      audit: await distinct("SELECT DISTINCT xmin::text AS x FROM audit_events WHERE details->>'sopInstanceUid' = ANY($1::text[]) AND event_type <> 'Security Alert'", [sopUids]),
      outbox: await distinct("SELECT DISTINCT xmin::text AS x FROM outbox WHERE payload->>'studyInstanceUid' = ANY($1::text[])", [studyUids]),
    };
  }

  beforeAll(async () => {
    catalog = await createTestCatalog('archive_batch');
    storage = await tempFsTargets();
    const a = await catalog.pool.query<{ id: string }>("INSERT INTO clinics (code, name) VALUES ('clinic-a', 'Clinic A') RETURNING id");
    const b = await catalog.pool.query<{ id: string }>("INSERT INTO clinics (code, name) VALUES ('clinic-b', 'Clinic B') RETURNING id");
    clinicA = a.rows[0]!.id;
    clinicB = b.rows[0]!.id;
    pipeline = new IngestPipeline({
      pool: catalog.pool,
      store: new ReplicatedStore({ targets: storage.targets, writeQuorum: 3 }),
      logger: createLogger({ level: 'silent', service: 'archive-test' }),
      metrics: new Registry(),
      parseLimits: {},
      retentionMinYears: 15,
      afterCommit: (committed) => committedCalls.push([...committed]),
    });
    queue = new TypedQueue('study', { redisUrl: process.env.TEST_REDIS_URL ?? 'redis://127.0.0.1:6379', prefix: `batch-${randomBytes(4).toString('hex')}` });
  });

  afterAll(async () => {
    await queue?.bull.obliterate({ force: true }).catch(() => undefined);
    await queue?.close();
    await catalog?.drop();
    await storage?.cleanup();
  });

  test('six instances of two studies: one transaction writes all their rows, audit records and announcements; the relay publishes each once', async () => {
    const studies = [newUid(), newUid()];
    const series = [newUid(), newUid(), newUid()];
    // Study 0: series 0 (two instances) and 1 (two); study 1: series 2 (two).
    const fixed = Array.from({ length: 6 }, (_, i) =>
      makeInstance({ studyInstanceUid: studies[i < 4 ? 0 : 1]!, seriesInstanceUid: series[i < 2 ? 0 : i < 4 ? 1 : 2]!, sopInstanceUid: newUid(), instanceNumber: i + 1 }),
    );
    committedCalls.length = 0;
    const outcomes = await storeAll(fixed, clinicA, wide);
    expect(outcomes.map((o) => o.status)).toEqual(['stored', 'stored', 'stored', 'stored', 'stored', 'stored']);
    const sopUids = outcomes.map((o) => (o.status === 'stored' ? o.sopInstanceUid : ''));

    const w = await writers(sopUids, studies);
    expect(w.instances).toHaveLength(1);
    expect(w.outbox).toEqual(w.instances);
    // The audit records are appended under a savepoint (a subtransaction has its own xid): one append for all.
    expect(w.audit).toHaveLength(1);
    // The after-commit hook ran once for the transaction, with every new instance and no thumbnail yet.
    expect(committedCalls).toHaveLength(1);
    expect(committedCalls[0]?.map((c) => c.parsed.sopInstanceUid).sort()).toEqual([...sopUids].sort());
    expect(committedCalls[0]?.every((c) => !c.seriesHasThumbnail)).toBe(true);

    // Counters and rows as one-by-one ingest writes them.
    const counts = await catalog.pool.query<{ study_instance_uid: string; number_of_instances: number; number_of_series: number }>(
      'SELECT study_instance_uid, number_of_instances, number_of_series FROM studies WHERE study_instance_uid = ANY($1::text[]) ORDER BY number_of_instances DESC',
      [studies],
    );
    expect(counts.rows).toEqual([
      { study_instance_uid: studies[0], number_of_instances: 4, number_of_series: 2 },
      { study_instance_uid: studies[1], number_of_instances: 2, number_of_series: 1 },
    ]);
    const audit = await catalog.pool.query<{ n: number }>(
      "SELECT count(*)::int AS n FROM audit_events WHERE event_type = 'DICOM Instances Transferred' AND action = 'C' AND details->>'sopInstanceUid' = ANY($1::text[])",
      [sopUids],
    );
    expect(audit.rows[0]?.n).toBe(6);

    // One announcement per study; published once, a second pass publishes nothing.
    const outbox = await catalog.pool.query<{ job_id: string }>("SELECT job_id FROM outbox WHERE payload->>'studyInstanceUid' = ANY($1::text[]) ORDER BY id", [studies]);
    expect(outbox.rows).toHaveLength(2);
    expect(await relayOutbox(catalog.pool, { study: queue })).toBe(2);
    expect(await relayOutbox(catalog.pool, { study: queue })).toBe(0);
    for (const row of outbox.rows) expect((await queue.bull.getJob(row.job_id))?.data).toEqual({ studyInstanceUid: expect.any(String) });
    expect(await queue.bull.getJobCounts()).toMatchObject({ delayed: 0 });
    expect((await queue.bull.getJobs(['waiting', 'delayed'])).length).toBe(2);

    // Sent again in one request: all already stored, audited as re-sends, nothing announced again.
    const again = await storeAll(fixed, clinicA, wide);
    expect(again.map((o) => o.status)).toEqual(['already_stored', 'already_stored', 'already_stored', 'already_stored', 'already_stored', 'already_stored']);
    const outboxAfter = await catalog.pool.query<{ n: number }>("SELECT count(*)::int AS n FROM outbox WHERE payload->>'studyInstanceUid' = ANY($1::text[])", [studies]);
    expect(outboxAfter.rows[0]?.n).toBe(2);
  });

  test('a UID taken by another clinic while part 3 waited for its batch: part 3 refused and nothing of it kept, the others stored', async () => {
    const study = newUid();
    const sopUids = [newUid(), newUid(), newUid(), newUid()];
    const files = sopUids.map((sopInstanceUid) => makeInstance({ studyInstanceUid: study, sopInstanceUid }));
    const thief = makeInstance({ studyInstanceUid: newUid(), sopInstanceUid: sopUids[2]!, patientName: 'Other^Person', patientId: 'PID0002' });
    const outcomes = await storeAll(files, clinicA, wide, async () => {
      // After part 3's pre-check and copies, before the batch's transaction: the race the pre-check cannot see.
      expect(await pipeline.ingest(thief, sender(clinicB))).toMatchObject({ status: 'stored' });
    });
    expect(outcomes.map((o) => o.status)).toEqual(['stored', 'stored', 'rejected', 'stored']);
    expect(outcomes[2]).toMatchObject({ reason: 'uid_conflict', retryable: false, sopInstanceUid: sopUids[2] });
    const rows = await catalog.pool.query<{ sop_instance_uid: string; clinic_id: string }>(
      'SELECT sop_instance_uid, clinic_id::text FROM instances WHERE sop_instance_uid = ANY($1::text[]) ORDER BY sop_instance_uid',
      [sopUids],
    );
    expect(rows.rows.filter((r) => r.clinic_id === clinicA).map((r) => r.sop_instance_uid).sort()).toEqual([sopUids[0], sopUids[1], sopUids[3]].sort());
    expect(rows.rows.find((r) => r.sop_instance_uid === sopUids[2])?.clinic_id).toBe(clinicB);
    // Nothing of the refused part: no object row without an instance, no transfer record of clinic A for it.
    const orphans = await catalog.pool.query<{ n: number }>('SELECT count(*)::int AS n FROM objects o WHERE NOT EXISTS (SELECT 1 FROM instances i WHERE i.sha256 = o.sha256)');
    expect(orphans.rows[0]?.n).toBe(0);
    const audit = await catalog.pool.query<{ n: number }>(
      "SELECT count(*)::int AS n FROM audit_events WHERE event_type = 'DICOM Instances Transferred' AND clinic_id = $2 AND details->>'sopInstanceUid' = $1",
      [sopUids[2], clinicA],
    );
    expect(audit.rows[0]?.n).toBe(0);
    const w = await writers([sopUids[0]!, sopUids[1]!, sopUids[3]!], [study]);
    expect(w.instances).toHaveLength(1);
    const counts = await catalog.pool.query<{ number_of_instances: number }>('SELECT number_of_instances FROM studies WHERE study_instance_uid = $1', [study]);
    expect(counts.rows[0]?.number_of_instances).toBe(3);
  });

  test('the database lost inside the second batch: its parts are retryable refusals with nothing written, the first batch stays stored; the retry stores them once', async () => {
    const study = newUid();
    const sopUids = [newUid(), newUid(), newUid(), newUid()];
    const files = sopUids.map((sopInstanceUid) => makeInstance({ studyInstanceUid: study, sopInstanceUid }));
    const batch = pipeline.openBatch(sender(clinicA), undefined, { maxInstances: 2, maxBytes: 64 * 1024 * 1024 });
    const first = [batch.add(files[0]!), batch.add(files[1]!)];
    await Promise.all(first.map((s) => s.staged));
    expect((await Promise.all(first.map((s) => s.outcome))).map((o) => o.status)).toEqual(['stored', 'stored']);

    // The audit append is the transaction's last step and waits for the chain's advisory lock: holding it
    // stops the second batch inside its transaction, whose backend is then terminated (a crashed server).
    const holder: PoolClient = await catalog.pool.connect();
    let second: InstanceOutcome[];
    try {
      await holder.query('SELECT pg_advisory_lock(7007, hashtext(current_schema()))');
      const holderPid = await backendPid(holder);
      const rest = [batch.add(files[2]!), batch.add(files[3]!)];
      const pid = await waitFor(
        'the second batch to wait for the audit lock inside its transaction',
        async () => (await backendsBlockedBy(holder, holderPid))[0] ?? null,
        30_000,
      );
      await holder.query('SELECT pg_terminate_backend($1)', [pid]);
      await batch.close();
      second = await Promise.all(rest.map((s) => s.outcome));
    } finally {
      await holder.query('SELECT pg_advisory_unlock_all()').catch(() => undefined);
      holder.release();
    }
    expect(second.map((o) => o.status)).toEqual(['rejected', 'rejected']);
    expect(second[0]).toMatchObject({ reason: 'storage_unavailable', retryable: true, sopInstanceUid: sopUids[2] });
    const stored = await catalog.pool.query<{ sop_instance_uid: string }>('SELECT sop_instance_uid FROM instances WHERE sop_instance_uid = ANY($1::text[])', [sopUids]);
    expect(stored.rows.map((r) => r.sop_instance_uid).sort()).toEqual([sopUids[0], sopUids[1]].sort());
    const audit = await catalog.pool.query<{ n: number }>("SELECT count(*)::int AS n FROM audit_events WHERE details->>'sopInstanceUid' = ANY($1::text[])", [[sopUids[2], sopUids[3]]]);
    expect(audit.rows[0]?.n).toBe(0);

    const retried = await storeAll([files[2]!, files[3]!], clinicA, wide);
    expect(retried.map((o) => o.status)).toEqual(['stored', 'stored']);
    const counts = await catalog.pool.query<{ number_of_instances: number }>('SELECT number_of_instances FROM studies WHERE study_instance_uid = $1', [study]);
    expect(counts.rows[0]?.number_of_instances).toBe(4);
  });

  test('the same SOP Instance UID twice in one request goes into two transactions: stored, then a new version', async () => {
    const study = newUid();
    const sopInstanceUid = newUid();
    const files = [makeInstance({ studyInstanceUid: study, sopInstanceUid }), makeInstance({ studyInstanceUid: study, sopInstanceUid, instanceNumber: 7 })];
    const outcomes = await storeAll(files, clinicA, wide);
    // Both parts are copied side by side; whichever is staged second waits for the first one's transaction.
    expect(outcomes.map((o) => (o.status === 'rejected' ? o.reason : `${o.status}:${o.version}`)).sort()).toEqual(['new_version:2', 'stored:1']);
    const rows = await catalog.pool.query<{ n: number; current: number }>('SELECT count(*)::int AS n, count(*) FILTER (WHERE is_current)::int AS current FROM instances WHERE sop_instance_uid = $1', [sopInstanceUid]);
    expect(rows.rows[0]).toEqual({ n: 2, current: 1 });
  });

  test('group commit (a DIMSE association): an instance alone is committed without close; those staged while a transaction runs share the next one', async () => {
    const batch = pipeline.openBatch(sender(clinicA), undefined, { ...wide, commitWhenIdle: true });
    const study = newUid();
    // Alone: its outcome arrives with no close and no limit reached (a batch of one, at once).
    const alone = batch.add(makeInstance({ studyInstanceUid: study, sopInstanceUid: newUid() }));
    const first = await alone.outcome;
    expect(first.status).toBe('stored');
    const firstUid = first.status === 'stored' ? first.sopInstanceUid : '';
    expect((await catalog.pool.query('SELECT 1 FROM instances WHERE sop_instance_uid = $1', [firstUid])).rowCount).toBe(1);

    // Eight more while a transaction runs (an SCU using the asynchronous operations window): the first of
    // them is held inside its transaction at the audit chain's advisory lock; the seven staged meanwhile
    // go together into the next one. Every outcome still comes without close.
    const files = Array.from({ length: 8 }, (_, i) => makeInstance({ studyInstanceUid: study, sopInstanceUid: newUid(), instanceNumber: i + 2 }));
    const holder: PoolClient = await catalog.pool.connect();
    let outcomes: InstanceOutcome[];
    try {
      await holder.query('SELECT pg_advisory_lock(7007, hashtext(current_schema()))');
      const holderPid = await backendPid(holder);
      const head = batch.add(files[0]!);
      await waitFor('the first transaction to wait for the audit lock', async () => (await backendsBlockedBy(holder, holderPid)).length === 1, 30_000);
      const tail = files.slice(1).map((file) => batch.add(file));
      await Promise.all(tail.map((s) => s.staged));
      await holder.query('SELECT pg_advisory_unlock_all()');
      outcomes = await Promise.all([head, ...tail].map((s) => s.outcome));
    } finally {
      await holder.query('SELECT pg_advisory_unlock_all()').catch(() => undefined);
      holder.release();
    }
    expect(outcomes.map((o) => o.status)).toEqual(Array.from({ length: 8 }, () => 'stored'));
    const sopUids = outcomes.map((o) => (o.status === 'stored' ? o.sopInstanceUid : ''));
    const headWriters = await writers(sopUids.slice(0, 1), [study]);
    const tailWriters = await writers(sopUids.slice(1), [study]);
    expect(tailWriters.instances).toHaveLength(1);
    expect(tailWriters.instances).not.toEqual(headWriters.instances);
    const counts = await catalog.pool.query<{ number_of_instances: number }>('SELECT number_of_instances FROM studies WHERE study_instance_uid = $1', [study]);
    expect(counts.rows[0]?.number_of_instances).toBe(9);
    await batch.close();
  });
});
