import { execFile, execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { createSecretFileOnce, generateCheckpointSigningKeyPem, newAuditKeyLine } from '@yunying/audit';
import { AuthService } from '@yunying/auth';
import { createPool, quoteIdent, type Pool } from '@yunying/catalog';
import { RECOMMENDED_GLIBC_TUNABLES } from '@yunying/config';
import { newStorageKeyLine } from '@yunying/storage';
import { CLINICS, clinicCode } from './corpus';
import { portPicker } from './free-port';
import { HttpClient } from './http';
import { signInWithSecondFactor, type SignInPost } from './second-factor';

const run = promisify(execFile);
export const REPO_ROOT = path.resolve(__dirname, '../../..');

/**
 * The processes a benchmark needs, all private to this run: a PostgreSQL server and a Redis (inside the
 * network namespace of run-in-netns.sh the host's are not reachable), Yunying as real launcher
 * processes, and Debian's Orthanc with the DICOMweb plugin. Everything lives under one work directory
 * on the disk the replicas would use, and is removed at the end.
 */
export class Lab {
  readonly work: string;
  private readonly children: ChildProcess[] = [];
  private readonly cleanups: (() => Promise<void> | void)[] = [];
  postgresUrl = '';
  redisUrl = '';

  constructor(base = process.env.BENCH_WORK_DIR ?? os.tmpdir()) {
    this.work = fs.mkdtempSync(path.join(base, 'yy-bench-'));
    // The private PostgreSQL runs as the postgres user and must reach its directory inside.
    fs.chmodSync(this.work, 0o755);
  }

  log(line: string): void {
    process.stderr.write(`[${new Date().toISOString().slice(11, 19)}] ${line}\n`);
  }

  /** The private PostgreSQL's data directory (its postmaster.pid names the server process). */
  postgresDataDir(): string {
    return path.join(this.work, 'pg', 'data');
  }

  /**
   * PostgreSQL with its default durability (fsync on, synchronous_commit on): the catalog is part of
   * what an acknowledged instance promises, as Orthanc's SQLite index is.
   */
  async startPostgres(): Promise<void> {
    const bin = postgresBin();
    const dir = path.join(this.work, 'pg');
    fs.mkdirSync(dir);
    execFileSync('chown', ['postgres:postgres', dir]);
    const asPostgres = (cmd: string, args: string[]): void => {
      execFileSync('runuser', ['-u', 'postgres', '--', path.join(bin, cmd), ...args], { stdio: 'pipe' });
    };
    const port = await freePort();
    asPostgres('initdb', ['-D', path.join(dir, 'data'), '-U', 'postgres', '--auth=trust', '-E', 'UTF8']);
    // BENCH_PG_OPTIONS adds server settings, e.g. "-c jit=off" to see what JIT compilation costs a query.
    const options = `-c listen_addresses=127.0.0.1 -p ${port} -k ${dir} -c shared_buffers=512MB -c max_connections=200 -c work_mem=16MB -c maintenance_work_mem=256MB -c max_wal_size=4GB ${process.env.BENCH_PG_OPTIONS ?? ''}`;
    asPostgres('pg_ctl', ['-D', path.join(dir, 'data'), '-l', path.join(dir, 'log'), '-w', '-o', options, 'start']);
    this.cleanups.push(() => {
      try {
        asPostgres('pg_ctl', ['-D', path.join(dir, 'data'), '-m', 'immediate', '-w', 'stop']);
      } catch {
        // already stopped
      }
    });
    this.postgresUrl = `postgres://postgres@127.0.0.1:${port}/postgres`;
  }

  /**
   * A PostgreSQL the lab did not start and does not stop (catalog-scale --database: a catalog loaded once
   * and measured later, in a database of the machine's own server).
   */
  useExternalPostgres(url: string): void {
    this.postgresUrl = url;
  }

  async startRedis(): Promise<void> {
    const port = await freePort();
    const child = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--dir', this.work], { stdio: 'ignore' });
    this.children.push(child);
    await waitForPort(port, 10_000);
    this.redisUrl = `redis://127.0.0.1:${port}`;
  }

  /**
   * Fresh Yunying: its own schema, replica roots and queue prefix; one launcher process per role.
   * With `kept`, a Yunying whose catalog outlives the run: the schema is kept at stop, and a catalog seeded
   * by an earlier run (kept.state) is started again with that run's secrets and users instead of a new seed.
   */
  async startYunying(roles: ('ingest' | 'viewer' | 'inference' | 'all')[], extraEnv: Record<string, string> = {}, kept?: { schema: string; state: KeptYunyingState | null }): Promise<Yunying> {
    const id = randomBytes(4).toString('hex');
    const dataDir = path.join(this.work, `yunying-${id}`);
    fs.mkdirSync(dataDir);
    // Production refuses to generate the audit and storage keys itself (#17): the lab provisions them, as an operator would.
    const macKeyFile = path.join(dataDir, 'secrets', 'audit-mac.keys');
    const signingKeyFile = path.join(dataDir, 'secrets', 'audit-signing.pem');
    const storageKeyFile = path.join(dataDir, 'secrets', 'storage.keys');
    const previous = kept?.state ?? null;
    const secrets = previous?.secrets ?? { auditMac: newAuditKeyLine(), auditSigning: generateCheckpointSigningKeyPem(), storage: newStorageKeyLine() };
    createSecretFileOnce(macKeyFile, secrets.auditMac);
    createSecretFileOnce(signingKeyFile, secrets.auditSigning);
    createSecretFileOnce(storageKeyFile, secrets.storage);
    const schema = kept?.schema ?? `bench_${id}`;
    const tokenSecret = previous?.tokenSecret ?? `bench-secret-${id}`.padEnd(48, 'x');
    const env: Record<string, string> = {
      NODE_ENV: 'production',
      AUDIT_MAC_KEY_FILE: macKeyFile,
      AUDIT_SIGNING_KEY_FILE: signingKeyFile,
      STORAGE_KEY_FILE: storageKeyFile,
      LOG_LEVEL: 'warn',
      AUTH_TOKEN_SECRET: tokenSecret,
      DATABASE_URL: this.postgresUrl,
      DATABASE_SCHEMA: schema,
      REDIS_URL: this.redisUrl,
      QUEUE_PREFIX: `bench${id}`,
      DATA_DIR: dataDir,
      INGEST_PORT: String(await freePort()),
      VIEWER_PORT: String(await freePort()),
      INFERENCE_PORT: String(await freePort()),
      DIMSE_PORT: String(await freePort()),
      SHUTDOWN_GRACE_SECONDS: '5',
      ...extraEnv,
    };
    // BENCH_NODE_OPTIONS reaches the Yunying processes only (e.g. --require of a profiler preload; Node refuses --cpu-prof there).
    const nodeOptions = process.env.BENCH_NODE_OPTIONS;
    // BENCH_LAUNCHER_ENV: space-separated NAME=value pairs for the Yunying processes only (e.g. GLIBC_TUNABLES,
    // which the C library reads once at process start, so no setting inside the process can stand in for it).
    const launcherEnv = Object.fromEntries((process.env.BENCH_LAUNCHER_ENV ?? '').split(' ').filter((pair) => pair.includes('=')).map((pair) => [pair.slice(0, pair.indexOf('=')), pair.slice(pair.indexOf('=') + 1)]));
    // The allocator settings npm start and infra/deploy give the launcher; BENCH_LAUNCHER_ENV="GLIBC_TUNABLES=" runs without.
    const childEnv = { PATH: process.env.PATH ?? '', GLIBC_TUNABLES: RECOMMENDED_GLIBC_TUNABLES, ...(nodeOptions ? { NODE_OPTIONS: nodeOptions } : {}), ...launcherEnv, ...env };
    const pool = createPool({ url: this.postgresUrl, schema, poolSize: 4 });
    let radiologist: { username: string; password: string } | null;
    let clinicKeys: string[];
    if (previous) {
      radiologist = previous.radiologist;
      clinicKeys = previous.clinicKeys;
      // The TOTP key of each user was kept by the earlier run's process only (as an authenticator app keeps
      // it) and is sealed under its token secret: enrolment starts over at the next sign-in.
      await pool.query(`DELETE FROM user_totp`);
    } else {
      const seeded = await run(process.execPath, [path.join(REPO_ROOT, 'services/launcher/dist/seed.cli.js'), '--json'], { cwd: REPO_ROOT, env: childEnv });
      const demo = JSON.parse(seeded.stdout.trim()) as { users: { username: string; password: string }[]; apiKey: { key: string } | null };
      clinicKeys = (await createBenchClinics(pool, tokenSecret)).keys;
      const seededRadiologist = demo.users.find((u) => u.username === 'radiologist');
      radiologist = seededRadiologist ? { username: seededRadiologist.username, password: seededRadiologist.password } : null;
    }
    const processes: ChildProcess[] = [];
    const urls: Record<string, string> = {};
    for (const role of roles) {
      const { child, started } = await startLauncher({ ...childEnv, ROLE: role });
      processes.push(child);
      this.children.push(child);
      for (const s of started) urls[s.role] = s.url;
    }
    const yunying: Yunying = {
      env,
      urls,
      pool,
      clinicKeys,
      aeTitle: 'DEMO_US',
      dimsePort: Number(env.DIMSE_PORT),
      radiologist,
      dataDir,
      kept: kept ? { secrets, tokenSecret, radiologist, clinicKeys } : null,
      pids: processes.map((c) => c.pid ?? 0),
      stop: async () => {
        for (const child of processes) {
          if (child.exitCode === null) child.kill('SIGTERM');
        }
        await Promise.all(processes.map((c) => (c.exitCode === null ? new Promise((r) => c.once('exit', r)) : Promise.resolve())));
        if (!kept) await pool.query(`DROP SCHEMA IF EXISTS ${quoteIdent(schema)} CASCADE`).catch(() => undefined);
        await pool.end();
        // Replica files are read-only by design; this tree is the benchmark's own.
        await run('chmod', ['-R', 'u+w', dataDir]).catch(() => undefined);
        fs.rmSync(dataDir, { recursive: true, force: true });
      },
    };
    return yunying;
  }

  /**
   * Fresh Orthanc (Debian package) with the DICOMweb plugin, storage uncompressed, default durability
   * (SyncStorageArea on), authentication off: it listens on every interface, which is why the whole run
   * sits in a private network namespace. `overrides` replace settings of this configuration.
   */
  async startOrthanc(overrides: Record<string, unknown> = {}): Promise<Orthanc> {
    const id = randomBytes(4).toString('hex');
    const dir = path.join(this.work, `orthanc-${id}`);
    fs.mkdirSync(path.join(dir, 'storage'), { recursive: true });
    const httpPort = await freePort();
    const dicomPort = await freePort();
    const config = {
      Name: 'BENCH',
      StorageDirectory: path.join(dir, 'storage'),
      IndexDirectory: path.join(dir, 'storage'),
      StorageCompression: false,
      // Its default since 1.7.4, stated so the comparison is with a durable Orthanc (fsync per file).
      SyncStorageArea: true,
      HttpPort: httpPort,
      DicomPort: dicomPort,
      DicomAet: 'ORTHANC',
      DicomCheckCalledAet: false,
      RemoteAccessAllowed: true,
      AuthenticationEnabled: false,
      OverwriteInstances: true,
      Plugins: [orthancDicomWebPlugin()],
      DicomWeb: { Enable: true, Root: '/dicom-web/', EnableWado: true, Ssl: false, StudiesMetadata: 'Full', SeriesMetadata: 'Full' },
      ...overrides,
    };
    fs.writeFileSync(path.join(dir, 'orthanc.json'), JSON.stringify(config, null, 2));
    const logFile = fs.openSync(path.join(dir, 'orthanc.log'), 'a');
    const child = spawn('/usr/sbin/Orthanc', [path.join(dir, 'orthanc.json')], { stdio: ['ignore', logFile, logFile] });
    this.children.push(child);
    const url = `http://127.0.0.1:${httpPort}`;
    const client = new HttpClient(1);
    const deadline = Date.now() + 30_000;
    for (;;) {
      const ok = await client.request('GET', `${url}/system`, {}).then((r) => r.status === 200, () => false);
      if (ok) break;
      if (child.exitCode !== null || Date.now() > deadline) {
        throw new Error(`Orthanc did not start: ${fs.readFileSync(path.join(dir, 'orthanc.log'), 'utf8').slice(-2000)}`);
      }
      await sleep(200);
    }
    const system = await client.json<{ Version: string }>('GET', `${url}/system`, {});
    const plugin = await client.json<{ Version?: string }>('GET', `${url}/plugins/dicom-web`, {}).catch(() => ({ Version: 'unknown' }));
    client.close();
    let stopped = false;
    return {
      url,
      dicomPort,
      pid: child.pid ?? 0,
      version: `Orthanc ${system.Version}, DICOMweb plugin ${plugin.Version ?? 'unknown'}`,
      stop: async () => {
        if (stopped) return;
        stopped = true;
        if (child.exitCode === null) {
          child.kill('SIGTERM');
          await new Promise((r) => child.once('exit', r));
        }
        fs.closeSync(logFile);
        fs.rmSync(dir, { recursive: true, force: true });
      },
    };
  }

  async close(): Promise<void> {
    const running = this.children.filter((c) => c.exitCode === null && c.signalCode === null);
    for (const child of running) child.kill('SIGTERM');
    await Promise.race([Promise.all(running.map((c) => new Promise((r) => c.once('exit', r)))), sleep(10_000)]);
    for (const cleanup of this.cleanups.reverse()) await cleanup();
    await run('chmod', ['-R', 'u+w', this.work]).catch(() => undefined);
    fs.rmSync(this.work, { recursive: true, force: true });
  }
}

export interface Yunying {
  env: Record<string, string>;
  urls: Record<string, string>;
  pool: Pool;
  /** Device API key per bench clinic (index = corpus clinic number). */
  clinicKeys: string[];
  aeTitle: string;
  dimsePort: number;
  radiologist: { username: string; password: string } | null;
  dataDir: string;
  /** Launcher process ids, one per role. */
  pids: number[];
  /** What starting this Yunying again on its kept schema needs (startYunying's `kept`), or null. */
  kept: KeptYunyingState | null;
  stop: () => Promise<void>;
}

/**
 * A kept Yunying's secrets and users, stored with its catalog by the caller. Bench-only values of a
 * generated catalog (no patient data): they are what a kept deployment's volume would hold.
 */
export interface KeptYunyingState {
  secrets: { auditMac: string; auditSigning: string; storage: string };
  tokenSecret: string;
  radiologist: { username: string; password: string } | null;
  clinicKeys: string[];
}

export interface Orthanc {
  url: string;
  dicomPort: number;
  pid: number;
  version: string;
  stop: () => Promise<void>;
}

/** The corpus's clinics, each with a device key; the demo radiologist is granted all of them. */
async function createBenchClinics(pool: Pool, tokenSecret: string): Promise<{ keys: string[]; ids: string[] }> {
  const auth = new AuthService({ pool, tokenSecret, accessTokenTtlSeconds: 900, refreshTokenTtlSeconds: 43_200 });
  const radiologist = await auth.findUserByUsername('radiologist');
  const keys: string[] = [];
  const ids: string[] = [];
  for (let c = 0; c < CLINICS; c += 1) {
    // AE-title-only DIMSE, as the peers it is compared with are configured (the credential check is one query).
    const clinic = await auth.createClinic({ code: clinicCode(c), name: `Bench clinic ${c}`, aeTitles: [`BENCH${String(c).padStart(2, '0')}`], dimseAuth: 'ae_only' });
    const key = await auth.createApiKey({ clinicId: clinic.id, name: 'bench' });
    if (radiologist) await auth.grantClinic(radiologist.id, clinic.id);
    keys.push(key.key);
    ids.push(clinic.id);
  }
  return { keys, ids };
}

function startLauncher(env: Record<string, string>): Promise<{ child: ChildProcess; started: { role: string; url: string }[] }> {
  // BENCH_LAUNCHER_NODE_ARGS, e.g. "--cpu-prof --cpu-prof-dir=/tmp/prof", to profile what a figure spends.
  const nodeArgs = (process.env.BENCH_LAUNCHER_NODE_ARGS ?? '').split(' ').filter((a) => a.length > 0);
  const child = spawn(process.execPath, [...nodeArgs, path.join(REPO_ROOT, 'services/launcher/dist/main.js')], { cwd: REPO_ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  return new Promise((resolve, reject) => {
    const onData = (chunk: Buffer): void => {
      out += chunk.toString();
      if (out.length > 200_000) out = out.slice(-100_000);
      const match = /^YUNYING_READY (.*)$/m.exec(out);
      if (match?.[1]) resolve({ child, started: JSON.parse(match[1]) as { role: string; url: string }[] });
    };
    child.stdout?.on('data', onData);
    // BENCH_LAUNCHER_STDOUT=<file> keeps what the launcher prints (e.g. with BENCH_LAUNCHER_NODE_ARGS="--trace-gc").
    const keep = process.env.BENCH_LAUNCHER_STDOUT;
    if (keep) child.stdout?.pipe(fs.createWriteStream(keep));
    child.stderr?.on('data', (chunk: Buffer) => {
      out += chunk.toString();
      if (process.env.BENCH_DEBUG) process.stderr.write(chunk);
    });
    child.once('exit', (code) => reject(new Error(`launcher exited (${String(code)}) before ready:\n${out.slice(-3000)}`)));
  });
}

function postgresBin(): string {
  const base = '/usr/lib/postgresql';
  const versions = fs.existsSync(base) ? fs.readdirSync(base).sort((a, b) => Number(b) - Number(a)) : [];
  for (const v of versions) if (fs.existsSync(path.join(base, v, 'bin', 'initdb'))) return path.join(base, v, 'bin');
  throw new Error('PostgreSQL server binaries not found under /usr/lib/postgresql');
}

function orthancDicomWebPlugin(): string {
  const candidates = ['/usr/share/orthanc/plugins/libOrthancDicomWeb.so', '/usr/lib/orthanc/libOrthancDicomWeb.so'];
  for (const c of candidates) if (fs.existsSync(c)) return c;
  const listed = execFileSync('dpkg', ['-L', 'orthanc-dicomweb'], { encoding: 'utf8' }).split('\n').find((l) => /libOrthancDicomWeb\.so/.test(l));
  if (!listed) throw new Error('orthanc-dicomweb plugin not found');
  return listed;
}

/** Ports the bench hands out: below the slices the tests pick from (test/support/processes.ts, 20000 and
 * up), so a bench run beside the tests never meets them. */
export const BENCH_PORTS = { start: 12_000, size: 8_000 };

/** A free port for a lab service (free-port.ts: not listen(0), whose ports outgoing connections take). */
export const freePort = portPicker(BENCH_PORTS.start, BENCH_PORTS.size);

async function waitForPort(port: number, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const open = await new Promise<boolean>((resolve) => {
      const socket = net.connect(port, '127.0.0.1', () => {
        socket.end();
        resolve(true);
      });
      socket.once('error', () => resolve(false));
    });
    if (open) return;
    if (Date.now() > deadline) throw new Error(`nothing listening on ${port} after ${timeoutMs} ms`);
    await sleep(100);
  }
}

/** Peak resident set size of a process (VmHWM), MB; null when it cannot be read. */
export function peakRssMB(pid: number): number | null {
  try {
    const match = /^VmHWM:\s+(\d+) kB$/m.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'));
    return match?.[1] ? Number(match[1]) / 1024 : null;
  } catch {
    return null;
  }
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Radiologist Bearer token for the viewer (POST /api/auth/sign-in, client 'api'; with the second factor production requires). */
export async function signIn(viewerUrl: string, user: { username: string; password: string }): Promise<string> {
  const client = new HttpClient(1);
  try {
    const post: SignInPost = async (body) => {
      const res = await client.request('POST', `${viewerUrl}/api/auth/sign-in`, { accept: 'application/json', 'content-type': 'application/json' }, Buffer.from(JSON.stringify(body)));
      return { status: res.status, body: JSON.parse(res.body.toString() || '{}') as unknown };
    };
    const body = (await signInWithSecondFactor(post, user, 'api')) as { accessToken: string };
    return body.accessToken;
  } finally {
    client.close();
  }
}
