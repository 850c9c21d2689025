import { execFile, spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import * as Minio from 'minio';
import sharp from 'sharp';
import { makeStudy } from '@yunying/dicom/testing';
import { s3SystemEnv, s3TestSettings, systemStorageKeyFile, uniqueBucketName } from '@yunying/storage/testing';
import { describeUnless, findExecutable } from '../support/skip';
import { REPO_ROOT, freePort, startLauncher, type LauncherProcess } from '../support/processes';
import { startSystem, type RunningSystem } from '../support/system';
import { waitFor } from '../support/wait';

/**
 * Scale-out (issue #18, short version): two ingest and two viewer processes, each with its own DATA_DIR
 * (nothing shared on local disk), and a keeper process of its own, behind Debian's haproxy with /readyz
 * health checks, on Ceph RGW. kill -9 of one ingest process mid-upload: `yunying upload` retries through
 * the proxy to the other; every file is in the catalog once with three copies. Thumbnails are read by
 * both viewers from object storage.
 */
const haproxy = findExecutable('haproxy') ?? (fs.existsSync('/usr/sbin/haproxy') ? '/usr/sbin/haproxy' : null);
const s3 = s3TestSettings();
const skip = haproxy === null ? 'haproxy not installed (apt-get install haproxy)' : s3 === null ? 'no S3 endpoint (S3_ENDPOINT unset; infra/ceph/up.sh)' : null;

describeUnless(skip, 'scale-out: two processes per role behind haproxy on Ceph RGW (system)', () => {
  let system: RunningSystem;
  const others: LauncherProcess[] = [];
  let keeperUrl = '';
  let proxy: ChildProcess;
  let base = '';
  let derivedBucket = '';
  const work = fs.mkdtempSync(path.join(os.tmpdir(), 'yy-scale-'));
  const study = makeStudy(24, { rows: 256, columns: 256, patientId: 'PID-SCALE' });

  const roleEnv = async (role: string): Promise<Record<string, string>> => ({
    ...system.env,
    ROLE: role,
    DATA_DIR: fs.mkdtempSync(path.join(work, `${role}-`)),
    // One key-encryption key file for all processes (#17 at rest): a viewer opens what any ingest sealed.
    STORAGE_KEY_FILE: systemStorageKeyFile(system.dataDir),
    INGEST_PORT: String(await freePort()),
    VIEWER_PORT: String(await freePort()),
    KEEPER_PORT: String(await freePort()),
    DIMSE_PORT: String(await freePort()),
  });

  beforeAll(async () => {
    const settings = s3TestSettings();
    if (settings === null) throw new Error('unreachable: skipped without S3');
    const buckets = ['a', 'b', 'c'].map((r) => uniqueBucketName(`yy-scale-${r}`));
    derivedBucket = uniqueBucketName('yy-scale-derived');
    system = await startSystem({ env: { ...s3SystemEnv(settings, buckets), S3_DERIVED_BUCKET: derivedBucket, ROLE: 'ingest', SCRUB_INTERVAL_SECONDS: '1' } });
    for (const role of ['ingest', 'viewer', 'viewer', 'keeper']) others.push(startLauncher(await roleEnv(role)));
    const started = (await Promise.all(others.map((o) => o.ready))).flat();
    const urlsOf = (role: string): string[] => [...(role === 'ingest' ? [system.urls.ingest ?? ''] : []), ...started.filter((s) => s.role === role).map((s) => s.url)];
    keeperUrl = urlsOf('keeper')[0] ?? '';
    const proxyPort = await freePort();
    const servers = (role: string): string => urlsOf(role).map((u, i) => `  server ${role}${i + 1} ${new URL(u).host} check inter 300 fall 1 rise 2`).join('\n');
    const cfg = path.join(work, 'haproxy.cfg');
    fs.writeFileSync(
      cfg,
      [
        'defaults\n  mode http\n  timeout connect 2s\n  timeout client 120s\n  timeout server 120s\n  balance roundrobin',
        `frontend dicomweb\n  bind 127.0.0.1:${proxyPort}\n  acl is_stow method POST\n  acl stow_path path_reg ^/dicomweb/studies(/[0-9.]+)?/?$\n  use_backend ingest if is_stow stow_path\n  default_backend viewer`,
        `backend ingest\n  option httpchk GET /readyz\n${servers('ingest')}`,
        `backend viewer\n  option httpchk GET /readyz\n${servers('viewer')}`,
        '',
      ].join('\n'),
    );
    proxy = spawn(haproxy ?? 'haproxy', ['-db', '-f', cfg], { stdio: 'ignore' });
    base = `http://127.0.0.1:${proxyPort}`;
    await waitFor('haproxy to see both viewers ready', async () => (await fetch(`${base}/healthz`).catch(() => null))?.status === 200);
  }, 240_000);

  afterAll(async () => {
    if (proxy !== undefined && proxy.exitCode === null) {
      const exited = new Promise((resolve) => proxy.once('exit', resolve));
      proxy.kill('SIGTERM');
      await exited;
    }
    for (const o of others) await o.stop();
    await system?.stop();
    fs.rmSync(work, { recursive: true, force: true });
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
  }, 240_000);

  it('serves the thumbnail from object storage through either viewer (no local disk)', async () => {
    const settings = s3TestSettings();
    if (settings === null) throw new Error('unreachable');
    const url = new URL(settings.endpoint);
    const client = new Minio.Client({ endPoint: url.hostname, port: Number(url.port), useSSL: false, accessKey: settings.accessKey, secretKey: settings.secretKey, region: settings.region, pathStyle: true });
    const key = `thumbnails/${study.seriesInstanceUid}.jpg`;
    await waitFor('the thumbnail object', async () => client.statObject(derivedBucket, key).catch(() => null));
    // A marker image in its place: only a viewer that reads object storage can serve it.
    const marker = await sharp({ create: { width: 7, height: 3, channels: 3, background: { r: 255, g: 0, b: 0 } } }).jpeg().toBuffer();
    await client.putObject(derivedBucket, key, marker, marker.length, { 'Content-Type': 'image/jpeg' });
    const thumbnail = `${base}/dicomweb/studies/${study.studyInstanceUid}/series/${study.seriesInstanceUid}/thumbnail`;
    for (let i = 0; i < 4; i += 1) {
      const res = await fetch(thumbnail, { headers: { authorization: `ApiKey ${system.credentials.apiKey?.key ?? ''}`, accept: 'image/jpeg' } });
      expect(res.status).toBe(200);
      expect(Buffer.from(await res.arrayBuffer()).equals(marker)).toBe(true);
    }
  });

  it('runs the keeper as a process of its own, ready on its own port with its metrics', async () => {
    // Its scrub schedule is not observed here: copies verified at write time are not due for
    // SCRUB_CYCLE_DAYS (test/keep/scrub.test.ts covers the scrubber itself).
    expect((await fetch(`${keeperUrl}/readyz`)).status).toBe(200);
    expect(await (await fetch(`${keeperUrl}/metrics`)).text()).toContain('yunying_keeper_copies_verified_total');
  });
});
