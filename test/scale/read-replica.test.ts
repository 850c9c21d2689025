import { ReplicaReads, createPool, type Pool } from '@yunying/catalog';
import { makeStudy } from '@yunying/dicom/testing';
import { freePort } from '../support/processes';
import { describeUnless } from '../support/skip';
import { startSystem, stow, type RunningSystem } from '../support/system';
import { waitFor } from '../support/wait';
import { drillCluster, postgresBin, type DrillCluster } from '../recover/pitr.support';
import { call, clinicId, createRadiologist, demoPassword, signIn } from '../reading/reading.support';

/**
 * #18: a PostgreSQL streaming replica (a throwaway primary and a `pg_basebackup -R` hot standby) serving
 * the viewer's QIDO/WADO lookups (CATALOG_READ_URL), never the write path. Shown: the reads are answered
 * by the replica (its connections, and a study the paused replica has not replayed is not listed until
 * replay resumes); with the replica stopped every read is answered by the primary with no error to the
 * client, and reads go back to the replica once it is up again; a replica lagging more than the limit is
 * set aside until it catches up. The reading queue and priors are read there too (a claim shows a moment
 * late, harmless), while claims are decided on the primary: with replay paused, the queue still shows a
 * study unclaimed that the primary refuses to a second reader.
 */
const bin = postgresBin();

describeUnless(bin === null ? 'PostgreSQL server binaries not installed (apt-get install postgresql)' : null, 'catalog reads on a streaming replica (real primary + standby)', () => {
  let cluster: DrillCluster;
  let primaryPort = 0;
  let replicaPort = 0;
  let standby = '';
  let system: RunningSystem;
  let apiKey = '';
  const studyA = makeStudy(2, { rows: 32, columns: 32, patientId: 'PID-REPLICA-A' });
  const studyB = makeStudy(2, { rows: 32, columns: 32, patientId: 'PID-REPLICA-B' });
  // Two more visits of patient A: C before replay is paused, D while it is.
  const studyC = makeStudy(1, { rows: 32, columns: 32, patientId: 'PID-REPLICA-A' });
  const studyD = makeStudy(1, { rows: 32, columns: 32, patientId: 'PID-REPLICA-A' });

  beforeAll(async () => {
    cluster = drillCluster(bin ?? '');
    primaryPort = await freePort();
    replicaPort = await freePort();
    cluster.startPrimary(primaryPort, { tcp: true });
    standby = cluster.startStandby(primaryPort, replicaPort, { tcp: true });
    system = await startSystem({
      env: {
        DATABASE_URL: `postgres://postgres@127.0.0.1:${primaryPort}/postgres`,
        CATALOG_READ_URL: `postgres://postgres@127.0.0.1:${replicaPort}/postgres`,
        // Generous: this test pauses replay on purpose and must not see the lag guard step in (tested below).
        CATALOG_READ_MAX_LAG_SECONDS: '600',
        SCRUB_INTERVAL_SECONDS: '0',
        ORPHAN_SWEEP_INTERVAL_SECONDS: '0',
      },
    });
    apiKey = system.credentials.apiKey?.key ?? '';
  }, 180_000);

  afterAll(async () => {
    await system?.stop();
    cluster?.cleanup();
  }, 60_000);

  const qidoStudies = async (patientId: string): Promise<{ status: number; uids: string[] }> => {
    const res = await fetch(`${system.urls.viewer}/dicomweb/studies?PatientID=${patientId}`, { headers: { authorization: `ApiKey ${apiKey}`, accept: 'application/dicom+json' } });
    const body = res.status === 200 ? ((await res.json()) as Record<string, { Value?: string[] }>[]) : [];
    return { status: res.status, uids: body.map((s) => s['0020000D']?.Value?.[0] ?? '') };
  };
  const metadataStatus = async (studyUid: string): Promise<number> =>
    (await fetch(`${system.urls.viewer}/dicomweb/studies/${studyUid}/metadata`, { headers: { authorization: `ApiKey ${apiKey}`, accept: 'application/dicom+json' } })).status;
  const served = async (): Promise<{ replica: number; primary: number }> => {
    const text = await (await fetch(`${system.urls.viewer}/metrics`)).text();
    const count = (server: string): number => Number(new RegExp(`^yunying_catalog_reads_total\\{server="${server}"\\} (\\d+)`, 'm').exec(text)?.[1] ?? 0);
    return { replica: count('replica'), primary: count('primary') };
  };
  const readConnections = (port: number): number => Number(cluster.sql(port, "SELECT count(*) FROM pg_stat_activity WHERE application_name = 'yunying-all-reads'"));

  it('answers QIDO/WADO from the replica: its connections, and what it has not replayed is not listed yet', async () => {
    expect(cluster.sql(replicaPort, 'SELECT pg_is_in_recovery()')).toBe('t');
    expect((await stow(system.urls.ingest ?? '', apiKey, studyA.files)).status).toBe(200);
    // Streaming replication is asynchronous: the study is listed once the replica has replayed it.
    await waitFor('study A listed', async () => (await qidoStudies('PID-REPLICA-A')).uids.includes(studyA.studyInstanceUid));
    expect(await metadataStatus(studyA.studyInstanceUid)).toBe(200);
    expect(readConnections(replicaPort)).toBeGreaterThan(0);
    expect(readConnections(primaryPort)).toBe(0);

    // Replay paused: the primary has study B, the replica does not, and QIDO/WADO do not show it.
    cluster.sql(replicaPort, 'SELECT pg_wal_replay_pause()');
    expect((await stow(system.urls.ingest ?? '', apiKey, studyB.files)).status).toBe(200);
    expect(Number((await system.pool.query<{ n: string }>('SELECT count(*) AS n FROM studies WHERE study_instance_uid = $1', [studyB.studyInstanceUid])).rows[0]?.n)).toBe(1);
    expect(await qidoStudies('PID-REPLICA-B')).toEqual({ status: 200, uids: [] });
    expect(await metadataStatus(studyB.studyInstanceUid)).toBe(404);
    cluster.sql(replicaPort, 'SELECT pg_wal_replay_resume()');
    await waitFor('study B listed after replay resumes', async () => (await qidoStudies('PID-REPLICA-B')).uids.includes(studyB.studyInstanceUid));
    const counts = await served();
    expect(counts.replica).toBeGreaterThan(0);
    expect(counts.primary).toBe(0);
  }, 120_000);

  it('falls back to the primary with no error while the replica is down, and goes back to it when it returns', async () => {
    cluster.crash(standby);
    const before = await served();
    for (let i = 0; i < 5; i++) {
      expect(await qidoStudies('PID-REPLICA-A')).toEqual({ status: 200, uids: [studyA.studyInstanceUid] });
      expect(await metadataStatus(studyB.studyInstanceUid)).toBe(200);
    }
    const during = await served();
    expect(during.primary - before.primary).toBe(10);
    expect(during.replica).toBe(before.replica);

    cluster.restart(standby, replicaPort, { tcp: true });
    // The next probe (every 2 s) takes the replica back; every read meanwhile still succeeds.
    await waitFor('reads back on the replica', async () => {
      expect(await qidoStudies('PID-REPLICA-A')).toEqual({ status: 200, uids: [studyA.studyInstanceUid] });
      return (await served()).replica > during.replica;
    });
    expect(readConnections(replicaPort)).toBeGreaterThan(0);
  }, 120_000);

  it('reads the reading queue and priors on the replica and decides claims on the primary', async () => {
    const viewer = system.urls.viewer ?? '';
    const admin = await signIn(viewer, 'admin', demoPassword(system, 'admin'));
    const reader = await signIn(viewer, 'radiologist', demoPassword(system, 'radiologist'));
    const second = await createRadiologist(viewer, admin, 'replica-second-reader', [clinicId(system, 'demo-clinic')]);
    type QueueItem = { studyInstanceUid: string; claim: { mine: boolean } | null };
    const queueItem = async (token: string, studyUid: string): Promise<QueueItem | undefined> => {
      const res = await call<{ items: QueueItem[] }>(viewer, 'GET', '/api/queue?limit=100', token);
      expect(res.status).toBe(200);
      return res.body.items.find((i) => i.studyInstanceUid === studyUid);
    };
    const priorsOf = async (studyUid: string): Promise<string[]> => {
      const res = await call<{ studies: { studyInstanceUid: string }[] }>(viewer, 'GET', `/api/studies/${studyUid}/priors`, reader);
      expect(res.status).toBe(200);
      return res.body.studies.map((s) => s.studyInstanceUid).sort();
    };

    expect((await stow(system.urls.ingest ?? '', apiKey, studyC.files)).status).toBe(200);
    // A and C linked in the patient index (the first priors read indexes them, on the primary) and replayed.
    await waitFor('C among the priors of A', async () => (await priorsOf(studyA.studyInstanceUid)).includes(studyC.studyInstanceUid));
    await waitFor('A in the queue from the replica', async () => (await queueItem(reader, studyA.studyInstanceUid)) !== undefined);
    await waitFor('reads on the replica', async () => {
      const before = await served();
      await priorsOf(studyA.studyInstanceUid);
      const after = await served();
      return after.replica > before.replica && after.primary === before.primary;
    });

    cluster.sql(replicaPort, 'SELECT pg_wal_replay_pause()');
    try {
      // The claim is decided on the primary; the queue, read on the replica that has not replayed it, still
      // shows A unclaimed; the second reader's claim is refused by the primary.
      expect((await call(viewer, 'POST', `/api/queue/${studyA.studyInstanceUid}/claim`, reader)).status).toBe(200);
      const before = await served();
      expect((await queueItem(reader, studyA.studyInstanceUid))?.claim).toBeNull();
      expect((await served()).replica).toBeGreaterThan(before.replica);
      expect(cluster.sql(replicaPort, `SELECT claimed_by IS NULL FROM ${system.env.DATABASE_SCHEMA ?? ''}.studies WHERE study_instance_uid = '${studyA.studyInstanceUid}'`)).toBe('t');
      const refused = await call(viewer, 'POST', `/api/queue/${studyA.studyInstanceUid}/claim`, second.token);
      expect(refused.status).toBe(409);
      const claimed = await system.pool.query<{ claimed: boolean }>('SELECT claimed_by IS NOT NULL AS claimed FROM studies WHERE study_instance_uid = $1', [studyA.studyInstanceUid]);
      expect(claimed.rows[0]?.claimed).toBe(true);

      // Priors: D, stored while replay is paused, is not on the replica: its own priors are read on the
      // primary (where it is indexed first) and list A and C; A's priors, read on the replica, do not list D yet.
      expect((await stow(system.urls.ingest ?? '', apiKey, studyD.files)).status).toBe(200);
      expect(await priorsOf(studyD.studyInstanceUid)).toEqual([studyA.studyInstanceUid, studyC.studyInstanceUid].sort());
      expect(await priorsOf(studyA.studyInstanceUid)).toEqual([studyC.studyInstanceUid]);
    } finally {
      cluster.sql(replicaPort, 'SELECT pg_wal_replay_resume()');
    }
    await waitFor('the claim shown once replayed', async () => (await queueItem(reader, studyA.studyInstanceUid))?.claim?.mine === true);
    await waitFor('D among the priors of A once replayed', async () => (await priorsOf(studyA.studyInstanceUid)).includes(studyD.studyInstanceUid));
  }, 120_000);

  it('sets a lagging replica aside until it has caught up (CATALOG_READ_MAX_LAG_SECONDS)', async () => {
    const primary: Pool = createPool({ url: `postgres://postgres@127.0.0.1:${primaryPort}/postgres`, schema: 'public', poolSize: 2 });
    const replica: Pool = createPool({ url: `postgres://postgres@127.0.0.1:${replicaPort}/postgres`, schema: 'public', poolSize: 2 });
    const reads = new ReplicaReads(primary, replica, { maxLagSeconds: 0, probeIntervalMs: 100 });
    try {
      await primary.query('CREATE TABLE lag_probe (id integer PRIMARY KEY)');
      await primary.query('INSERT INTO lag_probe VALUES (1)');
      await waitFor('the replica has the table', async () => (await replica.query('SELECT 1 FROM lag_probe WHERE id = 1').catch(() => ({ rowCount: 0 }))).rowCount === 1);
      await waitFor('reads on the replica', () => Promise.resolve(reads.serving === 'replica'));
      cluster.sql(replicaPort, 'SELECT pg_wal_replay_pause()');
      await primary.query('INSERT INTO lag_probe VALUES (2)');
      // Received but not replayed: lag over 0 s, so the primary answers and row 2 is there.
      await waitFor('reads on the primary', () => Promise.resolve(reads.serving === 'primary'));
      expect((await reads.query<{ n: string }>('SELECT count(*) AS n FROM lag_probe')).rows[0]?.n).toBe('2');
      cluster.sql(replicaPort, 'SELECT pg_wal_replay_resume()');
      await waitFor('reads back on the replica', () => Promise.resolve(reads.serving === 'replica'));
      expect((await reads.query<{ n: string }>('SELECT count(*) AS n FROM lag_probe')).rows[0]?.n).toBe('2');
    } finally {
      await reads.close();
      await primary.end();
    }
  }, 60_000);
});
