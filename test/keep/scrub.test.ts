import fs from 'node:fs';
import path from 'node:path';
import * as Minio from 'minio';
import { makeInstance, makeStudy } from '@yunying/dicom/testing';
import { FsReplicaTarget, ReplicatedStore, S3ReplicaTarget } from '@yunying/storage';
import { readStoredFile, s3SystemEnv, s3TestSettings, systemStorageKeyFile, uniqueBucketName } from '@yunying/storage/testing';
import { describeUnless } from '../support/skip';
import { firstValue, startSystem, stow, stowItems, type RunningSystem } from '../support/system';
import { api, sha256, signIn, type ScrubSummary } from './keep.support';

/**
 * #8 scrubber: one copy of a tenth of the objects deleted and of another tenth corrupted; one scrub finds
 * every one (copies.state + a Security Alert each) and the repair rebuilds every one from a good copy with
 * the same retention; a second scrub finds nothing. Against the real system (launcher process).
 */

const INSTANCES = 50;
const TARGETS = ['fs-1', 'fs-2', 'fs-3'];

interface CopyRow {
  sha256: string;
  target: string;
  object_key: string;
  state: string;
  retain_until: Date;
  version_id: string | null;
}

async function copiesOf(system: RunningSystem, digests: string[]): Promise<CopyRow[]> {
  const { rows } = await system.pool.query<CopyRow>(
    'SELECT sha256, target, object_key, state, retain_until, version_id FROM copies WHERE sha256 = ANY($1) ORDER BY sha256, target',
    [digests],
  );
  return rows;
}

async function securityAlerts(system: RunningSystem, event: string): Promise<{ sha256: string; target: string; state?: string }[]> {
  const { rows } = await system.pool.query<{ details: { sha256: string; target: string; state?: string } }>(
    "SELECT details FROM audit_events WHERE event_type = 'Security Alert' AND details->>'event' = $1 ORDER BY seq",
    [event],
  );
  return rows.map((r) => r.details);
}

describe('scrubber and repair on fs replicas (system)', () => {
  let system: RunningSystem;
  let admin: string;
  let files: Buffer[];
  let digests: string[];
  const root = (target: string): string => path.join(system.dataDir, `replica-${'abc'[TARGETS.indexOf(target)]}`);

  beforeAll(async () => {
    // The schedule is off: this test drives every pass itself, so counts are exact.
    system = await startSystem({ env: { SCRUB_INTERVAL_SECONDS: '0', REPAIR_RETRY_SECONDS: '3600', ORPHAN_SWEEP_INTERVAL_SECONDS: '0' } });
    admin = await signIn(system, 'admin');
    const study = makeStudy(INSTANCES, { rows: 16, columns: 16 });
    files = study.files;
    digests = files.map(sha256);
    const stored = await stow(system.urls.ingest ?? '', system.credentials.apiKey?.key ?? '', files);
    expect(stored.status).toBe(200);
    expect(stowItems(stored, '00081199')).toHaveLength(INSTANCES);
  });
  afterAll(async () => {
    await system?.stop();
  });

  it('finds every deleted and corrupted copy, repairs each with the same retention, then finds nothing', async () => {
    const before = await copiesOf(system, digests);
    expect(before).toHaveLength(INSTANCES * 3);
    const retainBefore = new Map(before.map((c) => [`${c.sha256}:${c.target}`, new Date(c.retain_until).getTime()]));
    // Scrub what ingest wrote first: everything is good.
    const clean = await api<ScrubSummary>(system, 'POST', '/api/admin/scrub', admin, {});
    expect(clean.status).toBe(200);
    expect(clean.body.verified).toBe(INSTANCES * 3);
    expect(clean.body.findings).toEqual([]);

    // A tenth of the objects lose one copy, another tenth get one copy overwritten (different targets).
    const tenth = INSTANCES / 10;
    const damaged = new Map<string, { target: string; kind: 'missing' | 'corrupt' }>();
    for (let i = 0; i < 2 * tenth; i++) {
      const digest = digests[i] ?? '';
      const target = TARGETS[i % 3] ?? 'fs-1';
      const key = before.find((c) => c.sha256 === digest)?.object_key ?? '';
      const file = path.join(root(target), key);
      if (i < tenth) {
        fs.unlinkSync(file);
        damaged.set(`${digest}:${target}`, { target, kind: 'missing' });
      } else {
        fs.chmodSync(file, 0o644);
        const handle = fs.openSync(file, 'r+');
        fs.writeSync(handle, Buffer.from('rotten bytes'), 0, 12, 200);
        fs.closeSync(handle);
        damaged.set(`${digest}:${target}`, { target, kind: 'corrupt' });
      }
    }

    // Find only: every damaged copy is found and recorded, nothing else.
    const found = await api<ScrubSummary>(system, 'POST', '/api/admin/scrub', admin, { repair: false });
    expect(found.status).toBe(200);
    expect(found.body.findings.map((f) => `${f.sha256}:${f.target}:${f.state}`).sort()).toEqual(
      [...damaged.entries()].map(([k, v]) => `${k}:${v.kind}`).sort(),
    );
    const recorded = await copiesOf(system, digests);
    for (const copy of recorded) {
      expect([copy.sha256, copy.target, copy.state]).toEqual([copy.sha256, copy.target, damaged.get(`${copy.sha256}:${copy.target}`)?.kind ?? 'ok']);
    }
    const alerts = await securityAlerts(system, 'copy.bad');
    expect(alerts.map((a) => `${a.sha256}:${a.target}:${a.state}`).sort()).toEqual([...damaged.entries()].map(([k, v]) => `${k}:${v.kind}`).sort());
    const metrics = await (await fetch(`${system.urls.ingest}/metrics`)).text();
    expect(metrics).toMatch(/yunying_keeper_copies_verified_total\{target="fs-\d",outcome="corrupt"\} [1-9]/);

    // Repair: every damaged copy rebuilt from a good one, hashing right, read-only, same retain-until.
    const repaired = await api<{ attempted: number; repaired: number; failed: number }>(system, 'POST', '/api/admin/repairs', admin);
    expect(repaired.body).toEqual({ attempted: damaged.size, repaired: damaged.size, failed: 0 });
    const after = await copiesOf(system, digests);
    expect(after.filter((c) => c.state !== 'ok')).toEqual([]);
    for (const copy of after) expect(new Date(copy.retain_until).getTime()).toBe(retainBefore.get(`${copy.sha256}:${copy.target}`));
    for (const [id, { target }] of damaged) {
      const [digest] = id.split(':');
      const key = after.find((c) => c.sha256 === digest)?.object_key ?? '';
      const file = path.join(root(target), key);
      expect(sha256(await readStoredFile(file, systemStorageKeyFile(system.dataDir)))).toBe(digest);
      expect(fs.statSync(file).mode & 0o222).toBe(0);
      const sidecar = JSON.parse(fs.readFileSync(`${file}.lock.json`, 'utf8')) as { retainUntil: string };
      expect(new Date(sidecar.retainUntil).getTime()).toBe(retainBefore.get(id));
    }
    expect((await securityAlerts(system, 'copy.repaired')).map((a) => `${a.sha256}:${a.target}`).sort()).toEqual([...damaged.keys()].sort());

    const again = await api<ScrubSummary>(system, 'POST', '/api/admin/scrub', admin, {});
    expect(again.body.verified).toBe(INSTANCES * 3);
    expect(again.body.findings).toEqual([]);
  });

  it('reports objects written but never committed as orphans, never deletes them, and a retried upload adopts them', async () => {
    // An upload that died after the copies landed and before the catalog commit.
    const bytes = makeInstance({ rows: 8, columns: 8 });
    const digest = sha256(bytes);
    const direct = new ReplicatedStore({ targets: TARGETS.map((name) => new FsReplicaTarget({ name, root: root(name), createRoot: false })) });
    const retainUntil = new Date(Date.now() + 15 * 366 * 86_400_000);
    const { key } = await direct.put(bytes, { retainUntil });

    const sweep = await api<{ newOrphans: number; openOrphans: number }>(system, 'POST', '/api/admin/orphan-sweep', admin);
    expect(sweep.status).toBe(200);
    expect(sweep.body).toMatchObject({ newOrphans: 3, openOrphans: 3 });
    const auditor = await signIn(system, 'auditor');
    const listed = await api<{ orphans: { target: string; key: string }[] }>(system, 'GET', '/api/audit/orphans', auditor);
    expect(listed.body.orphans.map((o) => `${o.target}:${o.key}`).sort()).toEqual(TARGETS.map((t) => `${t}:${key}`));
    expect((await securityAlerts(system, 'copy.orphan')).filter((a) => a.sha256 === digest)).toHaveLength(3);
    for (const target of TARGETS) expect(fs.existsSync(path.join(root(target), key))).toBe(true);
    // The device may not read the auditor's list.
    expect((await api(system, 'GET', '/api/audit/orphans', system.credentials.apiKey?.key ?? '')).status).toBe(403);

    const retried = await stow(system.urls.ingest ?? '', system.credentials.apiKey?.key ?? '', [bytes]);
    expect(stowItems(retried, '00081199').map((i) => firstValue(i, '00991010'))).toEqual(['STORED']);
    const resweep = await api<{ newOrphans: number; openOrphans: number; resolved: number }>(system, 'POST', '/api/admin/orphan-sweep', admin);
    expect(resweep.body).toMatchObject({ newOrphans: 0, openOrphans: 0, resolved: 3 });
    expect((await copiesOf(system, [digest])).map((c) => c.state)).toEqual(['ok', 'ok', 'ok']);
  });
});

const s3 = s3TestSettings();

describeUnless(s3 === null ? 'no S3 endpoint (S3_ENDPOINT unset; Ceph RGW not running)' : null, 'scrubber and repair on S3 Object Lock buckets (system, Ceph RGW)', () => {
  const COUNT = 20;
  let system: RunningSystem;
  let client: Minio.Client;
  let buckets: string[];
  let admin: string;
  let digests: string[];
  let study: ReturnType<typeof makeStudy>;

  beforeAll(async () => {
    const s = s3!;
    buckets = ['a', 'b', 'c'].map((r) => uniqueBucketName(`yy-keep-${r}`));
    system = await startSystem({
      env: {
        ...s3SystemEnv(s, buckets),
        SCRUB_INTERVAL_SECONDS: '0',
        REPAIR_RETRY_SECONDS: '3600',
        ORPHAN_SWEEP_INTERVAL_SECONDS: '0',
      },
    });
    const url = new URL(s.endpoint);
    client = new Minio.Client({ endPoint: url.hostname, port: Number(url.port), useSSL: false, accessKey: s.accessKey, secretKey: s.secretKey, region: s.region, pathStyle: true });
    admin = await signIn(system, 'admin');
    study = makeStudy(COUNT, { rows: 16, columns: 16 });
    digests = study.files.map(sha256);
    expect((await stow(system.urls.ingest ?? '', system.credentials.apiKey?.key ?? '', study.files)).status).toBe(200);
  });
  afterAll(async () => {
    await system?.stop();
  });

  it('finds a delete marker and a new version written at a tenth of the copies each (#17): alerted once, never served, the locked versions kept', async () => {
    const before = await copiesOf(system, digests);
    expect(before).toHaveLength(COUNT * 3);
    const tampered = new Map<string, string>();
    for (let i = 0; i < COUNT / 5; i++) {
      const digest = digests[i] ?? '';
      const bucketIndex = i % 3;
      const copy = before.find((c) => c.sha256 === digest && c.target === `s3-${bucketIndex + 1}`);
      const bucket = buckets[bucketIndex] ?? '';
      if (!copy) throw new Error('copy row missing');
      if (i < COUNT / 10) {
        // Without a version id: a delete marker on top; the locked version stays.
        await client.removeObject(bucket, copy.object_key);
        tampered.set(`${digest}:${copy.target}`, '1 delete marker(s)');
      } else {
        // Same size as the instance: a size check alone would let it through.
        await client.putObject(bucket, copy.object_key, Buffer.alloc(study.files[i]?.length ?? 0, 0x41));
        tampered.set(`${digest}:${copy.target}`, '1 version(s) written after the recorded one');
      }
      // The application's own credentials cannot delete the locked version.
      await expect(client.removeObject(bucket, copy.object_key, { versionId: copy.version_id ?? '', governanceBypass: true })).rejects.toMatchObject({ code: 'AccessDenied' });
    }

    const pass = await api<ScrubSummary>(system, 'POST', '/api/admin/scrub', admin, {});
    expect(pass.status).toBe(200);
    expect(pass.body.findings.map((f) => `${f.sha256}:${f.target}:${f.state}:${f.problem}`).sort()).toEqual(
      [...tampered.entries()].map(([k, v]) => `${k}:tampered:${v}`).sort(),
    );
    expect(pass.body.ok).toBe(COUNT * 3);
    expect((await securityAlerts(system, 'copy.tampered')).map((a) => `${a.sha256}:${a.target}`).sort()).toEqual([...tampered.keys()].sort());
    expect(await securityAlerts(system, 'copy.bad')).toEqual([]);

    // Nothing rewritten: every copy recorded ok with the version written at ingest, which is what is served.
    const after = await copiesOf(system, digests);
    expect(after.map((c) => `${c.sha256}:${c.target}:${c.state}:${c.version_id}`)).toEqual(before.map((c) => `${c.sha256}:${c.target}:ok:${c.version_id}`));

    // WADO serves the archived bytes of instances whose first copy (s3-1, read first) got a delete marker
    // (0) or a garbage version (3).
    for (const i of [0, 3]) {
      const q = `requestType=WADO&studyUID=${study.studyInstanceUid}&seriesUID=${study.seriesInstanceUid}&objectUID=${study.sopInstanceUids[i] ?? ''}&contentType=application%2Fdicom`;
      const res = await fetch(`${system.urls.viewer ?? ''}/dicomweb/wado?${q}`, { headers: { authorization: `ApiKey ${system.credentials.apiKey?.key ?? ''}` } });
      expect(res.status).toBe(200);
      expect(sha256(Buffer.from(await res.arrayBuffer()))).toBe(digests[i]);
    }

    const again = await api<ScrubSummary>(system, 'POST', '/api/admin/scrub', admin, {});
    expect(again.body.verified).toBe(COUNT * 3);
    expect(again.body.findings).toEqual([]);
  });

  it('reports objects written to the buckets but never committed as orphans (listed through the targets), never deletes them', async () => {
    const s = s3!;
    const targets = buckets.map((bucket, i) => new S3ReplicaTarget({ name: `s3-${i + 1}`, endpoint: s.endpoint, accessKey: s.accessKey, secretKey: s.secretKey, region: s.region, bucket }));
    const direct = new ReplicatedStore({ targets });
    const bytes = makeInstance({ rows: 8, columns: 8 });
    const { key } = await direct.put(bytes, { retainUntil: new Date(Date.now() + 15 * 366 * 86_400_000) });
    const sweep = await api<{ listed: number; newOrphans: number; openOrphans: number; unreachable: string[] }>(system, 'POST', '/api/admin/orphan-sweep', admin);
    expect(sweep.status).toBe(200);
    // The listing sees current versions: the two keys under the previous test's delete markers are hidden
    // (catalogued copies, read by their recorded version; the scrubber reported the markers).
    expect(sweep.body).toMatchObject({ listed: (COUNT + 1) * 3 - COUNT / 10, newOrphans: 3, openOrphans: 3, unreachable: [] });
    const orphans = await system.pool.query<{ target: string; object_key: string }>('SELECT target, object_key FROM orphan_copies ORDER BY target');
    expect(orphans.rows).toEqual(['s3-1', 's3-2', 's3-3'].map((target) => ({ target, object_key: key })));
    for (const target of targets) expect((await target.stat(key))?.size).toBe(bytes.length);
  });
});
