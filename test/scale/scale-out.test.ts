import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import Queue from 'bull';
import * as Minio from 'minio';
import sharp from 'sharp';
import { makeStudy, newUid } from '@yunying/dicom/testing';
import { readStoredFile, s3TestSettings, systemStorageKeyFile } from '@yunying/storage/testing';
import { describeUnless, recordSkip, sharedDataDir } from '../support/skip';
import { REPO_ROOT } from '../support/processes';
import { redisServerBinary } from '../support/redis';
import { stow, stowItems, type RunningSystem } from '../support/system';
import { extraRgwUnavailable } from '../support/rgw';
import { frameInstance, results } from '../triage/triage.support';
import { waitFor } from '../support/wait';
import { catalogReads, metricValue, replicaUnavailable, scaleOutUnavailable, startScaleOut, type ScaleOut } from './scale-out.support';

/**
 * Scale-out (issue #18, short version): two ingest and two viewer processes, each with its own DATA_DIR
 * (nothing shared on local disk), and a keeper process of its own, behind Debian's haproxy with /readyz
 * health checks, on Ceph RGW. kill -9 of one ingest process mid-upload: `yunying upload` retries through
 * the proxy to the other; every file is in the catalog once with three copies. Thumbnails are read by
 * both viewers from object storage. Two inference processes share the triage queue: the one running a
 * study's triage is killed -9 and the other completes it, once (one result, one SR). Each copy has its own
 * RGW endpoint (three radosgw on one Ceph; test/support/rgw.ts) and WRITE_QUORUM=2: with the third
 * endpoint killed -9 ingest still acknowledges, and the keeper's repair writes the missing copy once it is
 * back. The catalog is a private PostgreSQL primary with a streaming hot standby that every role has as
 * CATALOG_READ_URL: QIDO/WADO through haproxy are answered by the standby, and by the primary, with no
 * error, while it is down; only the read pools ever connect to it. The keeper process's scheduled scrub
 * (a tick a second) finds a delete marker put over one locked copy in RGW once that copy is due, and
 * alerts in the audit trail, while WADO keeps serving the archived bytes (the scrubber's every finding,
 * and repair, on its admin trigger: test/keep/scrub.test.ts). The queues are on a Redis of their own with an
 * append-only file (fsync every second), as deployed; its kill -9 is test/crash/redis-loss.test.ts's.
 */
const rgwSkip = extraRgwUnavailable();
const replicaSkip = replicaUnavailable();
const ddti = sharedDataDir('thyroid/ddti-frames');
if (rgwSkip !== null) recordSkip('scale-out: one RGW endpoint per copy, one down', rgwSkip);
if (replicaSkip !== null) recordSkip('scale-out: catalog reads on a streaming replica, replica down', replicaSkip);
const redisSkip = redisServerBinary() === null ? 'redis-server not installed (apt-get install redis-server)' : null;
if (redisSkip !== null) recordSkip('scale-out: queues on a Redis with an append-only file', redisSkip);
if (ddti === null) recordSkip('scale-out: inference process killed mid-job', 'shared data folder thyroid/ddti-frames is absent');
const sha256 = (b: Buffer): string => createHash('sha256').update(b).digest('hex');

describeUnless(scaleOutUnavailable(), 'scale-out: two processes per role behind haproxy on Ceph RGW (system)', () => {
  let scale: ScaleOut;
  let system: RunningSystem;
  let base = '';
  let work = '';
  const study = makeStudy(24, { rows: 256, columns: 256, patientId: 'PID-SCALE' });

  beforeAll(async () => {
    // The lag guard is read-replica.test.ts's subject; here the standby is either up or down. A 10 s job lock
    // (QUEUE_LOCK_SECONDS; bull's default is 30 s): the inference kill below is taken over within ~20 s.
    scale = await startScaleOut({ env: { CATALOG_READ_MAX_LAG_SECONDS: '600', QUEUE_LOCK_SECONDS: '10' } });
    ({ system, base, work } = scale);
  }, 240_000);

  afterAll(async () => {
    await scale?.stop();
  }, 120_000);

  it('loses nothing and stores nothing twice when one ingest process is killed -9 mid-upload', async () => {
    const dir = fs.mkdtempSync(path.join(work, 'upload-'));
    study.files.forEach((file, i) => fs.writeFileSync(path.join(dir, `${i}.dcm`), file));
    const cli = path.join(REPO_ROOT, 'services/gateway/dist/cli.js');
    const args = [cli, 'upload', '--archive', base, '--check', 'none', '--batch-files', '1', '--concurrency', '2', '--give-up-after', '120', '--state-dir', path.join(work, 'state'), dir];
    const upload = new Promise<number | null>((resolve) => {
      const child = execFile(process.execPath, args, { env: { PATH: process.env.PATH ?? '', YUNYING_API_KEY: system.credentials.apiKey?.key ?? '' } });
      child.once('exit', (code) => resolve(code));
    });
    // Kill the first ingest process once some instances are in, while the rest are still on their way.
    const storedAtKill = await waitFor(
      'a few instances stored',
      async () => {
        const n = Number((await system.pool.query<{ n: string }>('SELECT count(*) AS n FROM instances')).rows[0]?.n ?? 0);
        return n >= 4 ? n : null;
      },
      120_000,
      50,
    );
    system.launcher.child.kill('SIGKILL');
    // The kill really was mid-upload: files were still to come.
    expect(storedAtKill).toBeLessThan(study.files.length);
    expect(await upload).toBe(0);
    const { rows } = await system.pool.query<{ sop: string; copies: string }>(
      `SELECT i.sop_instance_uid AS sop, (SELECT count(*) FROM copies c WHERE c.sha256 = i.sha256 AND c.state = 'ok') AS copies FROM instances i`,
    );
    expect(rows.map((r) => r.sop).sort()).toEqual([...study.sopInstanceUids].sort());
    expect(rows.every((r) => Number(r.copies) === 3)).toBe(true);
    // With WRITE_QUORUM=2 an acknowledgement needs two copies; all three endpoints were up, so each has three.
  }, 240_000);

  it('serves the thumbnail from object storage through either viewer (no local disk)', async () => {
    const settings = s3TestSettings();
    if (settings === null) throw new Error('unreachable');
    const url = new URL(settings.endpoint);
    const client = new Minio.Client({ endPoint: url.hostname, port: Number(url.port), useSSL: false, accessKey: settings.accessKey, secretKey: settings.secretKey, region: settings.region, pathStyle: true });
    const key = `thumbnails/${study.seriesInstanceUid}.jpg`;
    await waitFor('the thumbnail object', async () => client.statObject(scale.derivedBucket, key).catch(() => null));
    // A marker image in its place: only a viewer that reads object storage can serve it.
    const marker = await sharp({ create: { width: 7, height: 3, channels: 3, background: { r: 255, g: 0, b: 0 } } }).jpeg().toBuffer();
    await client.putObject(scale.derivedBucket, key, marker, marker.length, { 'Content-Type': 'image/jpeg' });
    const thumbnail = `${base}/dicomweb/studies/${study.studyInstanceUid}/series/${study.seriesInstanceUid}/thumbnail`;
    for (let i = 0; i < 4; i += 1) {
      const res = await fetch(thumbnail, { headers: { authorization: `ApiKey ${system.credentials.apiKey?.key ?? ''}`, accept: 'image/jpeg' } });
      expect(res.status).toBe(200);
      expect(Buffer.from(await res.arrayBuffer()).equals(marker)).toBe(true);
    }
  });

  const withAof = redisSkip === null ? it : it.skip;
  withAof('keeps its queues on a Redis with an append-only file, fsync every second, which holds the published jobs', async () => {
    const redis = scale.redis;
    if (redis === null) throw new Error('unreachable: skipped without redis-server');
    expect(system.env.REDIS_URL).toBe(redis.url);
    const queue = new Queue('study', redis.url, { prefix: system.env.QUEUE_PREFIX });
    queue.on('error', () => undefined);
    try {
      expect(await queue.client.config('GET', 'appendonly')).toEqual(['appendonly', 'yes']);
      expect(await queue.client.config('GET', 'appendfsync')).toEqual(['appendfsync', 'everysec']);
    } finally {
      await queue.close();
    }
    // The upload's announcement, published by the outbox relay, is in the append-only file on disk.
    const published = await waitFor('the upload announced', async () => {
      const r = await system.pool.query<{ job_id: string }>("SELECT job_id FROM outbox WHERE payload->>'studyInstanceUid' = $1 AND published_at IS NOT NULL", [study.studyInstanceUid]);
      return r.rows[0]?.job_id ?? null;
    });
    const aofDir = path.join(work, 'redis');
    const onDisk = (): boolean =>
      fs.readdirSync(aofDir, { recursive: true, withFileTypes: true }).some((e) => e.isFile() && fs.readFileSync(path.join(e.parentPath, e.name)).includes(published));
    await waitFor('the job in the append-only file', () => Promise.resolve(onDisk()), 10_000);
  });

  it('runs the keeper as a process of its own, ready on its own port with its metrics', async () => {
    // Its scrub schedule is not observed here: copies verified at write time are not due for
    // SCRUB_CYCLE_DAYS (test/keep/scrub.test.ts covers the scrubber itself).
    const keeperUrl = scale.nodesOf('keeper')[0]?.url ?? '';
    expect((await fetch(`${keeperUrl}/readyz`)).status).toBe(200);
    expect(await (await fetch(`${keeperUrl}/metrics`)).text()).toContain('yunying_keeper_copies_verified_total');
  });

  const withReplica = replicaSkip === null ? it : it.skip;
  withReplica('answers QIDO/WADO through haproxy from the streaming replica, from the primary while it is down, and keeps writes off it', async () => {
    const replica = scale.replica;
    if (replica === null) throw new Error('unreachable: skipped without the replica');
    const apiKey = system.credentials.apiKey?.key ?? '';
    const viewers = scale.nodesOf('viewer').map((n) => n.url);
    const headers = { authorization: `ApiKey ${apiKey}`, accept: 'application/dicom+json' };
    const studiesOf = async (patientId: string): Promise<string[]> => {
      const res = await fetch(`${base}/dicomweb/studies?PatientID=${patientId}`, { headers });
      expect(res.status).toBe(200);
      return ((await res.json()) as Record<string, { Value?: string[] }>[]).map((s) => s['0020000D']?.Value?.[0] ?? '');
    };
    const metadataCount = async (studyUid: string): Promise<number> => {
      const res = await fetch(`${base}/dicomweb/studies/${studyUid}/metadata`, { headers });
      expect(res.status).toBe(200);
      return ((await res.json()) as unknown[]).length;
    };
    // Four QIDO and four WADO-RS metadata requests; haproxy alternates them between the two viewers.
    const readRound = async (): Promise<void> => {
      for (let i = 0; i < 4; i++) {
        expect(await studiesOf('PID-SCALE')).toEqual([study.studyInstanceUid]);
        expect(await metadataCount(study.studyInstanceUid)).toBeGreaterThanOrEqual(study.files.length);
      }
    };
    expect(replica.onReplica('SELECT pg_is_in_recovery()')).toBe('t');
    // The upload's rows are replayed on the standby before QIDO can list them there.
    await waitFor('the study listed', async () => (await studiesOf('PID-SCALE')).length === 1);
    const before = await catalogReads(viewers);
    await readRound();
    const healthy = await catalogReads(viewers);
    expect(healthy.replica - before.replica).toBeGreaterThanOrEqual(8);
    expect(healthy.primary).toBe(before.primary);

    // Only read pools hold connections on the standby; the write path, claims, jobs and the keeper are on
    // the primary (every role has CATALOG_READ_URL, and the ingest and keeper processes are connected there).
    const clients = (port: number): string[] =>
      replica.cluster
        .sql(port, "SELECT DISTINCT application_name FROM pg_stat_activity WHERE backend_type = 'client backend' AND application_name LIKE 'yunying-%' ORDER BY 1")
        .split('\n')
        .filter((n) => n !== '');
    const onReplica = clients(replica.replicaPort);
    expect(onReplica).toContain('yunying-viewer-reads');
    expect(onReplica.every((n) => n.endsWith('-reads'))).toBe(true);
    expect(clients(replica.primaryPort)).toEqual(expect.arrayContaining(['yunying-ingest', 'yunying-keeper', 'yunying-viewer']));

    // The standby down: every read still answers, from the primary; a STOW through the proxy is
    // acknowledged and at once listed (the primary has it).
    replica.crash();
    const down = await catalogReads(viewers);
    await readRound();
    const other = makeStudy(2, { rows: 32, columns: 32, patientId: 'PID-SCALE-REPLICA' });
    expect((await stow(base, apiKey, other.files)).status).toBe(200);
    expect(await studiesOf('PID-SCALE-REPLICA')).toEqual([other.studyInstanceUid]);
    const during = await catalogReads(viewers);
    expect(during.replica).toBe(down.replica);
    expect(during.primary - down.primary).toBeGreaterThanOrEqual(9);

    // Back up: it catches up from the primary and each viewer takes it back at its next probe (2 s); what
    // was stored meanwhile is then listed from the standby too.
    const duringEach = await Promise.all(viewers.map((url) => catalogReads([url])));
    replica.restart();
    await waitFor('both viewers reading from the replica again', async () => {
      // One request per viewer; a standby still catching up may not list it yet (then: not yet).
      let listed = true;
      for (let i = 0; i < viewers.length; i++) listed = (await studiesOf('PID-SCALE-REPLICA')).includes(other.studyInstanceUid) && listed;
      const now = await Promise.all(viewers.map((url) => catalogReads([url])));
      return listed && now.every((n, i) => n.replica > (duringEach[i]?.replica ?? 0));
    });
    const back = await catalogReads(viewers);
    await readRound();
    expect((await catalogReads(viewers)).primary).toBe(back.primary);
  }, 120_000);

  const withFrames = ddti !== null ? it : it.skip;
  withFrames('completes a triage job once, on the other process, when the inference process running it is killed -9', async () => {
    const apiKey = system.credentials.apiKey?.key ?? '';
    const inference = scale.nodesOf('inference');
    const triageQueue = new Queue('triage', system.env.REDIS_URL ?? '', { prefix: system.env.QUEUE_PREFIX });
    triageQueue.on('error', () => undefined);
    try {
      const completed = async (url: string): Promise<number> =>
        (await Promise.all(['triaged', 'no_nodule_found', 'not_triaged'].map((o) => metricValue(url, 'yunying_triage_jobs_total', `{outcome="${o}"}`)))).reduce((a, b) => a + b, 0);
      // Whole DDTI frames of a thyroid case with a suspicious nodule (as test/triage/triage.test.ts): a job of seconds.
      const studyUid = newUid();
      const frames = ['images/296_1.jpg', 'images/296_2.jpg', 'images/296_3.jpg'];
      const files = await Promise.all([...frames, ...frames, ...frames].map((f) => frameInstance(path.join(ddti ?? '', f), { studyInstanceUid: studyUid })));
      const before = await Promise.all(inference.map((p) => completed(p.url)));
      expect((await stow(base, apiKey, files, studyUid)).status).toBe(200);
      // The process running this study's job: the only active triage job is this study's, and (one job at a
      // time per process) the process whose running gauge shows 1 holds it.
      const holder = await waitFor(
        'one inference process running the job',
        async () => {
          const active = await triageQueue.getActive();
          if (active.length !== 1 || (active[0]?.data as { studyInstanceUid?: string }).studyInstanceUid !== studyUid) return null;
          const running = await Promise.all(inference.map((p) => metricValue(p.url, 'yunying_triage_jobs_running')));
          return running.filter((n) => n === 1).length === 1 ? { index: running.indexOf(1) } : null;
        },
        120_000,
        50,
      );
      const killed = inference[holder.index];
      const survivor = inference[1 - holder.index];
      if (killed === undefined || survivor === undefined) throw new Error('unreachable');
      killed.process.child.kill('SIGKILL');
      // Mid-job: nothing was stored for the study when it died.
      expect(await results(system.pool, studyUid)).toHaveLength(0);
      // bull notices the dead worker's job once its lock lapses (QUEUE_LOCK_SECONDS, 10 s here) and the other
      // process's stalled-job check (as often) takes it up.
      const result = await waitFor('the result', async () => (await results(system.pool, studyUid))[0], 180_000, 500);
      expect(result.status).toBe('triaged');
      expect(result.instance_count).toBe(files.length);
      const srUid = await waitFor('the triage SR', async () => (await results(system.pool, studyUid))[0]?.sr_sop_instance_uid ?? null, 60_000, 300);
      // Nothing of the study left in the queue (no second run pending), then count.
      await waitFor('the triage queue idle', async () => {
        const jobs = await triageQueue.getJobs(['active', 'waiting', 'delayed']);
        return jobs.every((j) => (j.data as { studyInstanceUid?: string }).studyInstanceUid !== studyUid);
      }, 60_000, 300);
      expect(await results(system.pool, studyUid)).toHaveLength(1);
      const { rows } = await system.pool.query<{ sop: string; sop_class: string }>(
        'SELECT i.sop_instance_uid AS sop, i.sop_class_uid AS sop_class FROM instances i JOIN series se ON se.id = i.series_ref JOIN studies s ON s.id = se.study_ref WHERE s.study_instance_uid = $1 AND i.is_current',
        [studyUid],
      );
      const sr = rows.filter((r) => r.sop === srUid);
      expect(sr).toHaveLength(1);
      // One triage SR in the study (a second run would have written another of its class).
      expect(rows.filter((r) => r.sop_class === sr[0]?.sop_class)).toHaveLength(1);
      // Completed by the other process: the killed one is gone (no row was stored when it died), the survivor
      // counted a completion since (at least this one; it may also have finished earlier studies' jobs).
      expect(killed.process.child.signalCode).toBe('SIGKILL');
      expect((await completed(survivor.url)) - (before[1 - holder.index] ?? 0)).toBeGreaterThanOrEqual(1);
    } finally {
      await triageQueue.close().catch(() => undefined);
    }
  }, 360_000);

  const withRgws = rgwSkip === null ? it : it.skip;
  withRgws('acknowledges with one RGW endpoint down (2 of 3) and repairs the missing copy once it is back', async () => {
    const third = scale.rgws[1];
    if (third === undefined) throw new Error('unreachable');
    await third.kill();
    const study = makeStudy(3, { rows: 64, columns: 64, patientId: 'PID-SCALE-RGW' });
    const digests = study.files.map(sha256);
    const result = await stow(base, system.credentials.apiKey?.key ?? '', study.files);
    expect(result.status).toBe(200);
    expect(stowItems(result, '00081199')).toHaveLength(3);
    const states = async (): Promise<string[]> =>
      (await system.pool.query<{ s: string }>('SELECT target || \':\' || state AS s FROM copies WHERE sha256 = ANY($1) ORDER BY sha256, target', [digests])).rows.map((r) => r.s);
    expect((await states()).filter((s) => s === 's3-3:missing')).toHaveLength(3);
    expect((await states()).filter((s) => s.endsWith(':ok'))).toHaveLength(6);
    await third.start();
    await waitFor('the third copies repaired', async () => (await states()).every((s) => s.endsWith(':ok')), 120_000, 500);
    // The repaired objects are in the third bucket, read through the third endpoint.
    const settings = s3TestSettings();
    if (settings === null) throw new Error('unreachable');
    const url = new URL(third.endpoint);
    const client = new Minio.Client({ endPoint: url.hostname, port: Number(url.port), useSSL: false, accessKey: settings.accessKey, secretKey: settings.secretKey, region: settings.region, pathStyle: true });
    const keys = await system.pool.query<{ sha256: string; object_key: string }>("SELECT sha256, object_key FROM copies WHERE target = 's3-3' AND sha256 = ANY($1)", [digests]);
    expect(keys.rows).toHaveLength(3);
    for (const row of keys.rows) {
      const stream = await client.getObject(scale.buckets[2] ?? '', row.object_key);
      const chunks: Buffer[] = [];
      for await (const chunk of stream) chunks.push(chunk as Buffer);
      // Sealed at rest (#17): opened with the deployment's key file before hashing.
      const file = path.join(work, `repaired-${row.sha256}`);
      fs.writeFileSync(file, Buffer.concat(chunks));
      expect(sha256(await readStoredFile(file, systemStorageKeyFile(system.dataDir)))).toBe(row.sha256);
    }
  }, 240_000);

  it("finds a copy tampered with in RGW in the keeper process's scheduled scrub, alerts in the audit trail and still serves the archived bytes", async () => {
    const settings = s3TestSettings();
    if (settings === null) throw new Error('unreachable');
    const url = new URL(settings.endpoint);
    const client = new Minio.Client({ endPoint: url.hostname, port: Number(url.port), useSSL: false, accessKey: settings.accessKey, secretKey: settings.secretKey, region: settings.region, pathStyle: true });
    const file = study.files[0];
    if (file === undefined) throw new Error('unreachable');
    const digest = sha256(file);
    const copy = await system.pool.query<{ object_key: string }>("SELECT object_key FROM copies WHERE sha256 = $1 AND target = 's3-1'", [digest]);
    const key = copy.rows[0]?.object_key ?? '';
    // Without a version id: a delete marker over the locked version (the application's credentials cannot
    // remove the version itself, test/keep/scrub.test.ts).
    await client.removeObject(scale.buckets[0] ?? '', key);
    // The copy was verified when written, minutes ago; as if a cycle (SCRUB_CYCLE_DAYS, 7) had passed since.
    await system.pool.query("UPDATE copies SET last_verified_at = now() - interval '8 days' WHERE sha256 = $1 AND target = 's3-1'", [digest]);
    const keeperUrl = scale.nodesOf('keeper')[0]?.url ?? '';
    const alerts = async (): Promise<{ target: string; problem: string }[]> =>
      (
        await system.pool.query<{ details: { target: string; problem: string } }>(
          "SELECT details FROM audit_events WHERE event_type = 'Security Alert' AND details->>'event' = 'copy.tampered' AND details->>'sha256' = $1",
          [digest],
        )
      ).rows.map((r) => ({ target: r.details.target, problem: r.details.problem }));
    // Found by the schedule alone (nobody calls the scrub API), and recorded as verified now.
    expect(await waitFor('the scheduled scrub to alert', async () => ((await alerts()).length > 0 ? alerts() : null), 60_000, 300)).toEqual([{ target: 's3-1', problem: '1 delete marker(s)' }]);
    const verified = await system.pool.query<{ recent: boolean }>("SELECT last_verified_at > now() - interval '1 hour' AS recent FROM copies WHERE sha256 = $1 AND target = 's3-1'", [digest]);
    expect(verified.rows[0]?.recent).toBe(true);
    expect(await metricValue(keeperUrl, 'yunying_keeper_copies_verified_total', '{target="s3-1",outcome="tampered"}')).toBeGreaterThanOrEqual(1);
    const q = `requestType=WADO&studyUID=${study.studyInstanceUid}&seriesUID=${study.seriesInstanceUid}&objectUID=${study.sopInstanceUids[0] ?? ''}&contentType=application%2Fdicom`;
    const res = await fetch(`${base}/dicomweb/wado?${q}`, { headers: { authorization: `ApiKey ${system.credentials.apiKey?.key ?? ''}` } });
    expect(res.status).toBe(200);
    expect(sha256(Buffer.from(await res.arrayBuffer()))).toBe(digest);
  }, 90_000);
});
