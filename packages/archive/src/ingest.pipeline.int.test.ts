import { createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { Registry } from 'prom-client';
import { createTestCatalog, type TestCatalog } from '@yunying/catalog/testing';
import type { PoolClient } from '@yunying/catalog';
import { createLogger } from '@yunying/core';
import { makeInstance, newUid } from '@yunying/dicom/testing';
import { ReplicatedStore } from '@yunying/storage';
import { takeFsTargetOffline, tempFsTargets, type TempFsTargets } from '@yunying/storage/testing';
import { backendPid, backendsBlockedBy } from '../../../test/support/pg-locks';
import { waitFor } from '../../../test/support/wait';
import { IngestPipeline, type InstanceOutcome, type Sender } from './ingest.pipeline';

/**
 * The failure branches of the one write path, against the real PostgreSQL and real replica directories:
 * a missed storage quorum, the database connection lost inside the catalog transaction, and UID conflicts
 * (checked before storage, and lost in a race inside the transaction). In each, nothing of the refused
 * instance may remain in the catalog, and a retry of a retryable refusal must store the instance once.
 */
describe('IngestPipeline failure branches (real PostgreSQL, fs replicas)', () => {
  let catalog: TestCatalog;
  let storage: TempFsTargets;
  let pipeline: IngestPipeline;
  let clinicA: string;
  let clinicB: string;

  const sender = (clinicId: string): Sender => ({ clinicId, actor: { username: 'test-device' }, sourceIp: '127.0.0.1', via: 'STOW-RS' });

  /** What the catalog holds for a SOP Instance UID / study, in every table the pipeline writes. */
  async function catalogRows(sopInstanceUid: string, studyInstanceUid: string): Promise<Record<string, number>> {
    const { rows } = await catalog.pool.query<Record<string, number>>(
      `SELECT (SELECT count(*)::int FROM instances WHERE sop_instance_uid = $1) AS instances,
              (SELECT count(*)::int FROM studies WHERE study_instance_uid = $2) AS studies,
              (SELECT count(*)::int FROM outbox WHERE payload->>'studyInstanceUid' = $2) AS outbox,
              (SELECT count(*)::int FROM audit_events WHERE details->>'sopInstanceUid' = $1 AND event_type <> 'Security Alert') AS audit`,
      [sopInstanceUid, studyInstanceUid],
    );
    return rows[0] ?? {};
  }

  function filesUnder(dir: string): number {
    let count = 0;
    for (const entry of fs.readdirSync(dir, { withFileTypes: true, recursive: true })) if (entry.isFile()) count++;
    return count;
  }

  beforeAll(async () => {
    catalog = await createTestCatalog('archive');
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
    });
  });

  afterAll(async () => {
    await catalog?.drop();
    await storage?.cleanup();
  });

  test('content address and dataset digest: SHA-256 of the whole file and of the dataset after the file meta', async () => {
    const sopInstanceUid = newUid();
    const bytes = makeInstance({ studyInstanceUid: newUid(), sopInstanceUid });
    const sha = (b: Buffer): string => createHash('sha256').update(b).digest('hex');
    // PS3.10 7.1: 128-byte preamble, "DICM", then group 0002 whose length (0002,0000) is at byte 140.
    const dataset = bytes.subarray(144 + bytes.readUInt32LE(140));
    expect(await pipeline.ingest(bytes, sender(clinicA))).toMatchObject({ status: 'stored' });
    const { rows } = await catalog.pool.query<{ sha256: string; dataset_sha256: string; object_key: string }>(
      'SELECT i.sha256, i.dataset_sha256, o.object_key FROM instances i JOIN objects o ON o.sha256 = i.sha256 WHERE i.sop_instance_uid = $1',
      [sopInstanceUid],
    );
    expect(rows).toEqual([{ sha256: sha(bytes), dataset_sha256: sha(dataset), object_key: `sha256/${sha(bytes).slice(0, 2)}/${sha(bytes).slice(2, 4)}/${sha(bytes)}` }]);
    for (const target of storage.targets) {
      expect(sha(fs.readFileSync(path.join(target.root, ...(rows[0]?.object_key ?? '').split('/'))))).toBe(sha(bytes));
    }
    // The same dataset behind another preamble is a re-send: the dataset digest recognises it.
    const repacked = Buffer.from(bytes);
    repacked.write('other preamble', 0, 'latin1');
    expect(await pipeline.ingest(repacked, sender(clinicA))).toMatchObject({ status: 'already_stored', version: 1 });
  });

  test('a missed quorum is a retryable refusal with nothing in the catalog; the retry stores it once', async () => {
    const studyInstanceUid = newUid();
    const sopInstanceUid = newUid();
    const bytes = makeInstance({ studyInstanceUid, sopInstanceUid });
    const restore = await takeFsTargetOffline(storage.targets[2]!);
    let outcome: InstanceOutcome;
    try {
      outcome = await pipeline.ingest(bytes, sender(clinicA));
    } finally {
      await restore();
    }
    expect(outcome).toMatchObject({ status: 'rejected', reason: 'storage_unavailable', retryable: true, failureReason: 0xa700, sopInstanceUid });
    expect(await catalogRows(sopInstanceUid, studyInstanceUid)).toEqual({ instances: 0, studies: 0, outbox: 0, audit: 0 });

    const retried = await pipeline.ingest(bytes, sender(clinicA));
    expect(retried).toMatchObject({ status: 'stored', sopInstanceUid, version: 1 });
    expect(await catalogRows(sopInstanceUid, studyInstanceUid)).toEqual({ instances: 1, studies: 1, outbox: 1, audit: 1 });
    const copies = await catalog.pool.query<{ target: string }>(
      'SELECT c.target FROM copies c JOIN instances i ON i.sha256 = c.sha256 WHERE i.sop_instance_uid = $1 ORDER BY c.target',
      [sopInstanceUid],
    );
    expect(copies.rows.map((r) => r.target)).toEqual(['fs-1', 'fs-2', 'fs-3']);
  });

  test('the database connection lost inside the catalog transaction: retryable refusal, the transaction rolled back', async () => {
    const studyInstanceUid = newUid();
    const sopInstanceUid = newUid();
    const bytes = makeInstance({ studyInstanceUid, sopInstanceUid });
    // The audit append is the transaction's last statement and waits for the audit chain's advisory lock.
    // Holding that lock here stops the pipeline inside its transaction (instance rows and outbox row
    // already written); its backend is then terminated, as a crashed or restarted server would end it.
    const holder: PoolClient = await catalog.pool.connect();
    try {
      await holder.query('SELECT pg_advisory_lock(7007, hashtext(current_schema()))');
      const holderPid = await backendPid(holder);
      const pending = pipeline.ingest(bytes, sender(clinicA));
      const waiting = async (): Promise<number | null> => (await backendsBlockedBy(holder, holderPid))[0] ?? null;
      const pid = await waitFor('the pipeline to wait for the audit lock inside its transaction', waiting, 30_000);
      const inside = await holder.query<{ state: string }>('SELECT state FROM pg_stat_activity WHERE pid = $1', [pid]);
      expect(inside.rows[0]?.state).toBe('active');
      await holder.query('SELECT pg_terminate_backend($1)', [pid]);
      const outcome = await pending;
      expect(outcome).toMatchObject({ status: 'rejected', reason: 'storage_unavailable', retryable: true, sopInstanceUid });
    } finally {
      await holder.query('SELECT pg_advisory_unlock_all()').catch(() => undefined);
      holder.release();
    }
    expect(await catalogRows(sopInstanceUid, studyInstanceUid)).toEqual({ instances: 0, studies: 0, outbox: 0, audit: 0 });
    // The copies written before the transaction stay (locked; the orphan sweep reports them) and the retry re-uses them.
    const filesBefore = filesUnder(storage.dir);
    const retried = await pipeline.ingest(bytes, sender(clinicA));
    expect(retried).toMatchObject({ status: 'stored', sopInstanceUid, version: 1 });
    expect(filesUnder(storage.dir)).toBe(filesBefore);
    expect(await catalogRows(sopInstanceUid, studyInstanceUid)).toEqual({ instances: 1, studies: 1, outbox: 1, audit: 1 });
  });

  test('a SOP Instance UID already stored for another clinic is refused before storage, permanently', async () => {
    const studyInstanceUid = newUid();
    const sopInstanceUid = newUid();
    expect(await pipeline.ingest(makeInstance({ studyInstanceUid, sopInstanceUid }), sender(clinicA))).toMatchObject({ status: 'stored' });
    const filesBefore = filesUnder(storage.dir);
    // Another clinic, other bytes (another patient), the same SOP Instance UID in another study.
    const otherStudy = newUid();
    const outcome = await pipeline.ingest(makeInstance({ studyInstanceUid: otherStudy, sopInstanceUid, patientName: 'Other^Person', patientId: 'PID0002' }), sender(clinicB));
    expect(outcome).toMatchObject({ status: 'rejected', reason: 'uid_conflict', retryable: false, failureReason: 0x0110, sopInstanceUid });
    expect(filesUnder(storage.dir)).toBe(filesBefore);
    expect(await catalogRows(sopInstanceUid, otherStudy)).toEqual({ instances: 1, studies: 0, outbox: 0, audit: 1 });
    // The refusal is a Security Alert (#17 finding 5) under the clinic that holds the UID, naming the sender.
    const alerts = await catalog.pool.query<{ outcome: number; clinic_id: string; actor_username: string; details: Record<string, unknown> }>(
      "SELECT outcome, clinic_id::text, actor_username, details FROM audit_events WHERE event_type = 'Security Alert' AND details->>'sopInstanceUid' = $1",
      [sopInstanceUid],
    );
    expect(alerts.rows).toEqual([
      {
        outcome: 4,
        clinic_id: clinicA,
        actor_username: 'test-device',
        details: { kind: 'uid-conflict', via: 'STOW-RS', sopInstanceUid, reason: 'SOP Instance UID already stored for another sender', senderClinicId: clinicB, otherClinic: true },
      },
    ]);
    expect(JSON.stringify(alerts.rows)).not.toMatch(/Other\^Person|PID0002/);
  });

  test("a new instance in another clinic's study is refused and alerted under the study's clinic", async () => {
    const studyInstanceUid = newUid();
    expect(await pipeline.ingest(makeInstance({ studyInstanceUid }), sender(clinicA))).toMatchObject({ status: 'stored' });
    const sopInstanceUid = newUid();
    const outcome = await pipeline.ingest(makeInstance({ studyInstanceUid, sopInstanceUid }), sender(clinicB));
    expect(outcome).toMatchObject({ status: 'rejected', reason: 'uid_conflict', retryable: false, sopInstanceUid });
    const alerts = await catalog.pool.query<{ clinic_id: string; details: Record<string, unknown> }>(
      "SELECT clinic_id::text, details FROM audit_events WHERE event_type = 'Security Alert' AND details->>'sopInstanceUid' = $1",
      [sopInstanceUid],
    );
    expect(alerts.rows).toEqual([{ clinic_id: clinicA, details: expect.objectContaining({ senderClinicId: clinicB, otherClinic: true }) }]);
  });

  test('two clinics racing with one SOP Instance UID: one is stored, the other refused, nothing of it kept', async () => {
    const sopInstanceUid = newUid();
    const studyA = newUid();
    const studyB = newUid();
    const [a, b] = await Promise.all([
      pipeline.ingest(makeInstance({ studyInstanceUid: studyA, sopInstanceUid }), sender(clinicA)),
      pipeline.ingest(makeInstance({ studyInstanceUid: studyB, sopInstanceUid, patientName: 'Other^Person', patientId: 'PID0002' }), sender(clinicB)),
    ]);
    const statuses = [a.status, b.status].sort();
    expect(statuses).toEqual(['rejected', 'stored']);
    const loser = a.status === 'rejected' ? a : b;
    expect(loser).toMatchObject({ reason: 'uid_conflict', retryable: false });
    const winnerStudy = a.status === 'stored' ? studyA : studyB;
    const loserStudy = a.status === 'stored' ? studyB : studyA;
    expect(await catalogRows(sopInstanceUid, winnerStudy)).toEqual({ instances: 1, studies: 1, outbox: 1, audit: 1 });
    expect(await catalogRows(sopInstanceUid, loserStudy)).toEqual({ instances: 1, studies: 0, outbox: 0, audit: 1 });
    const objects = await catalog.pool.query<{ n: number }>(
      'SELECT count(*)::int AS n FROM objects o WHERE NOT EXISTS (SELECT 1 FROM instances i WHERE i.sha256 = o.sha256)',
    );
    expect(objects.rows[0]?.n).toBe(0);
  });

  test('pre-checks waiting at once are one statement, each answered as it would be alone (#14)', async () => {
    // The same pipeline over a pool that counts the pre-check statements (a real pool; only counted).
    let prechecks = 0;
    const counted = new Proxy(catalog.pool, {
      get(target, prop) {
        const value: unknown = Reflect.get(target, prop, target);
        if (prop !== 'query' || typeof value !== 'function') return typeof value === 'function' ? (value as (...a: unknown[]) => unknown).bind(target) : value;
        return (...args: unknown[]): unknown => {
          if (typeof args[0] === 'string' && args[0].includes('FROM ingest_precheck(')) prechecks += 1;
          return (value as (...a: unknown[]) => unknown).apply(target, args);
        };
      },
    });
    const merged = new IngestPipeline({
      pool: counted,
      store: new ReplicatedStore({ targets: storage.targets, writeQuorum: 3 }),
      logger: createLogger({ level: 'silent', service: 'archive-test' }),
      metrics: new Registry(),
      parseLimits: {},
      retentionMinYears: 15,
    });
    const studyInstanceUid = newUid();
    const kept = makeInstance({ studyInstanceUid });
    const keptUid = newUid();
    const versioned = newUid();
    expect(await merged.ingest(kept, sender(clinicA))).toMatchObject({ status: 'stored' });
    expect(await merged.ingest(makeInstance({ studyInstanceUid, sopInstanceUid: keptUid }), sender(clinicA))).toMatchObject({ status: 'stored' });
    expect(await merged.ingest(makeInstance({ studyInstanceUid, sopInstanceUid: versioned }), sender(clinicA))).toMatchObject({ status: 'stored' });
    prechecks = 0;
    const fresh = newUid();
    // Started in one turn of the event loop: their pre-checks wait together.
    const [resend, newVersion, otherClinic, stored] = await Promise.all([
      merged.ingest(kept, sender(clinicA)),
      merged.ingest(makeInstance({ studyInstanceUid, sopInstanceUid: versioned, patientName: 'Corrected^Name' }), sender(clinicA)),
      merged.ingest(makeInstance({ studyInstanceUid: newUid(), sopInstanceUid: keptUid, patientName: 'Other^Person', patientId: 'PID0002' }), sender(clinicB)),
      merged.ingest(makeInstance({ studyInstanceUid: newUid(), sopInstanceUid: fresh }), sender(clinicB)),
    ]);
    expect(prechecks).toBe(1);
    expect(resend).toMatchObject({ status: 'already_stored', version: 1 });
    expect(newVersion).toMatchObject({ status: 'new_version', sopInstanceUid: versioned, version: 2 });
    expect(otherClinic).toMatchObject({ status: 'rejected', reason: 'uid_conflict', retryable: false, failureReason: 0x0110, sopInstanceUid: keptUid });
    expect(stored).toMatchObject({ status: 'stored', sopInstanceUid: fresh, version: 1 });
    const alerts = await catalog.pool.query<{ clinic_id: string; details: Record<string, unknown> }>(
      "SELECT clinic_id::text, details FROM audit_events WHERE event_type = 'Security Alert' AND details->>'sopInstanceUid' = $1",
      [keptUid],
    );
    expect(alerts.rows).toEqual([{ clinic_id: clinicA, details: expect.objectContaining({ senderClinicId: clinicB, otherClinic: true }) }]);
    expect((await catalog.pool.query('SELECT 1 FROM instances WHERE sop_instance_uid = $1', [keptUid])).rowCount).toBe(1);
  });
});
