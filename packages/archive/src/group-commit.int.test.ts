import { Registry } from 'prom-client';
import { createTestCatalog, type TestCatalog } from '@yunying/catalog/testing';
import type { PoolClient } from '@yunying/catalog';
import { createLogger } from '@yunying/core';
import { makeInstance, newUid } from '@yunying/dicom/testing';
import { ReplicatedStore } from '@yunying/storage';
import { tempFsTargets, type TempFsTargets } from '@yunying/storage/testing';
import { backendPid, backendsBlockedBy } from '../../../test/support/pg-locks';
import { waitFor } from '../../../test/support/wait';
import { IngestPipeline, type CommittedInstance, type InstanceOutcome, type Sender } from './ingest.pipeline';
import type { BatchLimits } from './ingest.batch';

/**
 * Group commit across associations and requests (#14), against the real PostgreSQL and fs replicas: the
 * C-STOREs of two synchronous associations (one in flight each) that wait for the same running transaction
 * are written together in the next one (one xmin on their rows, announcements and audit records; one
 * after-commit call), each audited under its own sender; and a UID conflict between two requests found
 * under lock in a shared transaction refuses only the instance that lost, as two separate transactions did;
 * a shared transaction lost to the database sends each association's instances again alone, so only the
 * one whose own transaction is lost too is refused.
 */
describe('IngestPipeline: group commit across associations (real PostgreSQL, fs replicas)', () => {
  let catalog: TestCatalog;
  let storage: TempFsTargets;
  let pipeline: IngestPipeline;
  let clinicA: string;
  let clinicB: string;
  const committedCalls: CommittedInstance[][] = [];

  /** One association: its calling AE title is the actor. */
  const association = (clinicId: string, ae: string): Sender => ({ clinicId, actor: { username: `ae:${ae}`, role: 'device', clinicId }, sourceIp: '127.0.0.1', via: 'DIMSE' });
  /** As the DICOM port opens an association's batch. */
  const associationBatch: BatchLimits = { maxInstances: 64, maxBytes: 32 * 1024 * 1024, commitWhenIdle: true };

  const xminsOf = async (sopUids: string[]): Promise<string[]> =>
    (await catalog.pool.query<{ x: string }>('SELECT DISTINCT xmin::text AS x FROM instances WHERE sop_instance_uid = ANY($1::text[])', [sopUids])).rows.map((r) => r.x);

  /**
   * Runs `during` while the pipeline's committer is busy with a transaction held at the audit chain's
   * advisory lock (its last step), so whatever is submitted meanwhile waits for the next transaction.
   */
  async function whileCommitterBusy<T>(during: () => Promise<T>): Promise<{ held: InstanceOutcome; result: T }> {
    const holder: PoolClient = await catalog.pool.connect();
    try {
      await holder.query('SELECT pg_advisory_lock(7007, hashtext(current_schema()))');
      const holderPid = await backendPid(holder);
      const held = pipeline.ingest(makeInstance({ studyInstanceUid: newUid(), sopInstanceUid: newUid() }), association(clinicA, 'BUSY'));
      await waitFor('a transaction to wait for the audit lock', async () => (await backendsBlockedBy(holder, holderPid)).length === 1, 30_000);
      const result = await during();
      await holder.query('SELECT pg_advisory_unlock_all()');
      return { held: await held, result };
    } finally {
      await holder.query('SELECT pg_advisory_unlock_all()').catch(() => undefined);
      holder.release();
    }
  }

  beforeAll(async () => {
    catalog = await createTestCatalog('archive_group_commit');
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
  });

  afterAll(async () => {
    await catalog?.drop();
    await storage?.cleanup();
  });

  test('two synchronous associations (one C-STORE in flight each) share one catalog transaction, each instance audited under its own association', async () => {
    const modality = pipeline.openBatch(association(clinicA, 'CT1'), undefined, associationBatch);
    const other = pipeline.openBatch(association(clinicA, 'US2'), undefined, associationBatch);
    const files = [makeInstance({ studyInstanceUid: newUid(), sopInstanceUid: newUid() }), makeInstance({ studyInstanceUid: newUid(), sopInstanceUid: newUid() })];
    committedCalls.length = 0;
    const { held, result: outcomes } = await whileCommitterBusy(async () => {
      const started = [modality.add(files[0]!), other.add(files[1]!)];
      await Promise.all(started.map((s) => s.staged));
      return started.map((s) => s.outcome);
    });
    const done = await Promise.all(outcomes);
    expect(held.status).toBe('stored');
    expect(done.map((o) => o.status)).toEqual(['stored', 'stored']);
    const sopUids = done.map((o) => (o.status === 'stored' ? o.sopInstanceUid : ''));
    const studyUids = done.map((o) => (o.status === 'stored' ? o.studyInstanceUid : ''));

    // One transaction wrote both associations' rows, and it is not the one they waited for.
    const shared = await xminsOf(sopUids);
    expect(shared).toHaveLength(1);
    expect(await xminsOf([held.status === 'stored' ? held.sopInstanceUid : ''])).not.toEqual(shared);
    const outbox = await catalog.pool.query<{ x: string }>("SELECT DISTINCT xmin::text AS x FROM outbox WHERE payload->>'studyInstanceUid' = ANY($1::text[])", [studyUids]);
    expect(outbox.rows.map((r) => r.x)).toEqual(shared);
    // One after-commit call (one outbox relay kick, one thumbnail hand-over) for both.
    expect(committedCalls.map((c) => c.map((i) => i.parsed.sopInstanceUid).sort())).toEqual([[expect.any(String)], [...sopUids].sort()]);

    // Each transfer record names its own association, all appended in one go (one subtransaction).
    const audit = await catalog.pool.query<{ sop: string; actor: string; x: string }>(
      "SELECT details->>'sopInstanceUid' AS sop, actor_username AS actor, xmin::text AS x FROM audit_events WHERE event_type = 'DICOM Instances Transferred' AND details->>'sopInstanceUid' = ANY($1::text[]) ORDER BY actor_username",
      [sopUids],
    );
    expect(audit.rows.map((r) => [r.sop, r.actor])).toEqual([
      [sopUids[0], 'ae:CT1'],
      [sopUids[1], 'ae:US2'],
    ]);
    expect(new Set(audit.rows.map((r) => r.x)).size).toBe(1);
  });

  test('a study UID of one clinic sent by another in the same shared transaction: only that instance is refused, as two transactions refused it', async () => {
    const study = newUid();
    const first = pipeline.openBatch(association(clinicA, 'CT1'), undefined, associationBatch);
    const intruder = pipeline.openBatch(association(clinicB, 'MR9'), undefined, associationBatch);
    const bystander = pipeline.openBatch(association(clinicB, 'US2'), undefined, associationBatch);
    const sopUids = [newUid(), newUid(), newUid()];
    const files = [
      makeInstance({ studyInstanceUid: study, sopInstanceUid: sopUids[0]! }),
      // Both pass the pre-check (the study is not in the catalog yet); the conflict is found under lock.
      makeInstance({ studyInstanceUid: study, sopInstanceUid: sopUids[1]!, patientName: 'Other^Person', patientId: 'PID0002' }),
      makeInstance({ studyInstanceUid: newUid(), sopInstanceUid: sopUids[2]!, patientName: 'Third^Person', patientId: 'PID0003' }),
    ];
    const { result } = await whileCommitterBusy(async () => {
      // Staged one after the other, so that clinic A's instance is first in the shared transaction.
      const started: Array<Promise<InstanceOutcome>> = [];
      for (const [batch, file] of [[first, files[0]!], [intruder, files[1]!], [bystander, files[2]!]] as const) {
        const s = batch.add(file);
        await s.staged;
        started.push(s.outcome);
      }
      return started;
    });
    const outcomes = await Promise.all(result);
    expect(outcomes.map((o) => o.status)).toEqual(['stored', 'rejected', 'stored']);
    // The status an intruder got when it committed on its own after clinic A's instance (0x0110, not retryable).
    expect(outcomes[1]).toMatchObject({ reason: 'uid_conflict', retryable: false, failureReason: 0x0110, message: 'Study Instance UID already stored for another sender', sopInstanceUid: sopUids[1] });

    // The two others still share one transaction; nothing of the refused instance is kept.
    expect(await xminsOf([sopUids[0]!, sopUids[2]!])).toHaveLength(1);
    const rows = await catalog.pool.query<{ sop_instance_uid: string; clinic_id: string }>('SELECT sop_instance_uid, clinic_id::text FROM instances WHERE sop_instance_uid = ANY($1::text[]) ORDER BY sop_instance_uid', [sopUids]);
    expect(rows.rows.map((r) => [r.sop_instance_uid, r.clinic_id]).sort()).toEqual([[sopUids[0], clinicA], [sopUids[2], clinicB]].sort());
    const orphans = await catalog.pool.query<{ n: number }>('SELECT count(*)::int AS n FROM objects o WHERE NOT EXISTS (SELECT 1 FROM instances i WHERE i.sha256 = o.sha256)');
    expect(orphans.rows[0]?.n).toBe(0);
    const audit = await catalog.pool.query<{ event_type: string; clinic_id: string }>(
      "SELECT event_type, clinic_id::text FROM audit_events WHERE details->>'sopInstanceUid' = $1",
      [sopUids[1]],
    );
    // Only the Security Alert, recorded under the clinic that holds the study.
    expect(audit.rows).toEqual([{ event_type: 'Security Alert', clinic_id: clinicA }]);
    const counts = await catalog.pool.query<{ number_of_instances: number; clinic_id: string }>('SELECT number_of_instances, clinic_id::text FROM studies WHERE study_instance_uid = $1', [study]);
    expect(counts.rows).toEqual([{ number_of_instances: 1, clinic_id: clinicA }]);
  });

  test('a shared transaction lost to the database: each association is retried alone, and only the one lost again is refused (retryable), the other stored', async () => {
    // Association A adds to a study that exists; a second session holds that study's row, so every
    // transaction holding A's instance waits there and can be terminated (a crashed backend).
    const study = newUid();
    expect(await pipeline.ingest(makeInstance({ studyInstanceUid: study, sopInstanceUid: newUid() }), association(clinicA, 'CT1'))).toMatchObject({ status: 'stored' });
    const one = pipeline.openBatch(association(clinicA, 'CT1'), undefined, associationBatch);
    const two = pipeline.openBatch(association(clinicA, 'US2'), undefined, associationBatch);
    const sopUids = [newUid(), newUid()];
    const rowHolder: PoolClient = await catalog.pool.connect();
    const rowHolderPid = await backendPid(rowHolder);
    const waitingAtStudyRow = async (not: number): Promise<number> =>
      waitFor(
        'a transaction to wait for the study row',
        async () => (await backendsBlockedBy(catalog.pool, rowHolderPid, '%INSERT INTO studies%')).find((pid) => pid !== not) ?? null,
        30_000,
      );
    let outcomes: InstanceOutcome[];
    try {
      const { result } = await whileCommitterBusy(async () => {
        const a = one.add(makeInstance({ studyInstanceUid: study, sopInstanceUid: sopUids[0]! }));
        await a.staged;
        const b = two.add(makeInstance({ studyInstanceUid: newUid(), sopInstanceUid: sopUids[1]! }));
        await b.staged;
        await rowHolder.query('BEGIN');
        await rowHolder.query('SELECT 1 FROM studies WHERE study_instance_uid = $1 FOR UPDATE', [study]);
        return [a.outcome, b.outcome];
      });
      // The shared transaction (A and B) waits at the row: lost. Then A alone waits there again: lost again.
      const shared = await waitingAtStudyRow(0);
      await catalog.pool.query('SELECT pg_terminate_backend($1)', [shared]);
      const alone = await waitingAtStudyRow(shared);
      await catalog.pool.query('SELECT pg_terminate_backend($1)', [alone]);
      outcomes = await Promise.all(result);
    } finally {
      await rowHolder.query('ROLLBACK').catch(() => undefined);
      rowHolder.release();
    }
    expect(outcomes[0]).toMatchObject({ status: 'rejected', reason: 'storage_unavailable', retryable: true, sopInstanceUid: sopUids[0] });
    expect(outcomes[1]).toMatchObject({ status: 'stored', sopInstanceUid: sopUids[1] });
    const rows = await catalog.pool.query<{ sop_instance_uid: string }>('SELECT sop_instance_uid FROM instances WHERE sop_instance_uid = ANY($1::text[])', [sopUids]);
    expect(rows.rows.map((r) => r.sop_instance_uid)).toEqual([sopUids[1]]);
    const audit = await catalog.pool.query<{ n: number }>("SELECT count(*)::int AS n FROM audit_events WHERE details->>'sopInstanceUid' = $1", [sopUids[0]]);
    expect(audit.rows[0]?.n).toBe(0);
  });

  test('the same SOP Instance UID from two associations at once goes into two transactions: stored, then a new version', async () => {
    const sopInstanceUid = newUid();
    const study = newUid();
    const one = pipeline.openBatch(association(clinicA, 'CT1'), undefined, associationBatch);
    const two = pipeline.openBatch(association(clinicA, 'CT2'), undefined, associationBatch);
    const { result } = await whileCommitterBusy(async () => {
      const a = one.add(makeInstance({ studyInstanceUid: study, sopInstanceUid }));
      await a.staged;
      const b = two.add(makeInstance({ studyInstanceUid: study, sopInstanceUid, instanceNumber: 7 }));
      await b.staged;
      return [a.outcome, b.outcome];
    });
    const outcomes = await Promise.all(result);
    expect(outcomes.map((o) => (o.status === 'rejected' ? o.reason : `${o.status}:${o.version}`))).toEqual(['stored:1', 'new_version:2']);
    const rows = await catalog.pool.query<{ version: number; is_current: boolean }>('SELECT version, is_current FROM instances WHERE sop_instance_uid = $1 ORDER BY version', [sopInstanceUid]);
    expect(rows.rows).toEqual([
      { version: 1, is_current: false },
      { version: 2, is_current: true },
    ]);
  });
});
