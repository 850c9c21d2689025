import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { s3SystemEnv, s3TestSettings, systemStorageKeyFile, uniqueBucketName } from '@yunying/storage/testing';
import { findExecutable } from '../support/skip';
import { freePort, startLauncher, type LauncherProcess } from '../support/processes';
import { redisServerBinary, startRedis, stopRedis, type PrivateRedis } from '../support/redis';
import { startSystem, type RunningSystem } from '../support/system';
import { extraRgwUnavailable, startExtraRgw, type ExtraRgw } from '../support/rgw';
import { waitFor } from '../support/wait';
import { drillCluster, postgresBin, type DrillCluster } from '../recover/pitr.support';

/**
 * The scale-out system of #18, shared by the short system test (test/scale/scale-out.test.ts) and the long
 * run (bench/scale-out/run.ts): two ingest and two viewer processes, each with its own DATA_DIR, a keeper
 * and inference processes of their own, behind Debian's haproxy with /readyz health checks, on Ceph RGW
 * (one endpoint per copy when CEPH_CONF reaches the cluster), and, when the PostgreSQL server binaries are
 * there, a private primary with a streaming hot standby that every role gets as CATALOG_READ_URL; the
 * queues on a private Redis with an append-only file when redis-server is installed.
 */

export const haproxyBinary = (): string | null => findExecutable('haproxy') ?? (fs.existsSync('/usr/sbin/haproxy') ? '/usr/sbin/haproxy' : null);

/** Why the scale-out system cannot start here, or null when it can. */
export function scaleOutUnavailable(): string | null {
  if (haproxyBinary() === null) return 'haproxy not installed (apt-get install haproxy)';
  if (s3TestSettings() === null) return 'no S3 endpoint (S3_ENDPOINT unset; infra/ceph/up.sh)';
  return null;
}

/** Why the streaming replica is left out, or null when it is part of the system. */
export const replicaUnavailable = (): string | null => (postgresBin() === null ? 'PostgreSQL server binaries not installed (apt-get install postgresql)' : null);

/** One role process behind the proxy; `restart` starts it again with the same env (same ports, same DATA_DIR). */
export interface ScaleNode {
  role: string;
  env: Record<string, string>;
  process: LauncherProcess;
  url: string;
  restart: () => Promise<void>;
}

/** The catalog primary and its streaming standby (private servers: the test may crash and restart them). */
export interface CatalogReplica {
  cluster: DrillCluster;
  primaryPort: number;
  replicaPort: number;
  /** psql -Atc on the standby. */
  onReplica: (query: string) => string;
  /** The standby stopped without a clean shutdown (pg_ctl -m immediate). */
  crash: () => void;
  /** The standby started again on its port; it resumes streaming from the primary. */
  restart: () => void;
}

export interface ScaleOut {
  system: RunningSystem;
  /** The proxy's base URL: STOW-RS to the ingest backend, everything else to the viewer backend. */
  base: string;
  nodes: ScaleNode[];
  nodesOf: (role: string) => ScaleNode[];
  buckets: string[];
  derivedBucket: string;
  /** The second and third copies' RGW endpoints (empty when CEPH_CONF is not set: one endpoint for all). */
  rgws: ExtraRgw[];
  replica: CatalogReplica | null;
  /** The queues' Redis: a private one with an append-only file (fsync every second), as production runs it. */
  redis: PrivateRedis | null;
  work: string;
  stop: () => Promise<void>;
}

export interface ScaleOutOptions {
  inferenceProcesses?: number;
  /** Extra env for every role (after the defaults). */
  env?: Record<string, string>;
}

async function startCatalogReplica(bin: string): Promise<CatalogReplica> {
  const cluster = drillCluster(bin);
  const primaryPort = await freePort();
  const replicaPort = await freePort();
  cluster.startPrimary(primaryPort, { tcp: true });
  const standby = cluster.startStandby(primaryPort, replicaPort, { tcp: true });
  return {
    cluster,
    primaryPort,
    replicaPort,
    onReplica: (query) => cluster.sql(replicaPort, query),
    crash: () => cluster.crash(standby),
    restart: () => cluster.restart(standby, replicaPort, { tcp: true }),
  };
}

export async function startScaleOut(options: ScaleOutOptions = {}): Promise<ScaleOut> {
  const settings = s3TestSettings();
  const haproxy = haproxyBinary();
  if (settings === null || haproxy === null) throw new Error(scaleOutUnavailable() ?? 'unreachable');
  const work = fs.mkdtempSync(path.join(os.tmpdir(), 'yy-scale-'));
  const buckets = ['a', 'b', 'c'].map((r) => uniqueBucketName(`yy-scale-${r}`));
  const derivedBucket = uniqueBucketName('yy-scale-derived');
  const rgws: ExtraRgw[] = [];
  let replica: CatalogReplica | null = null;
  let redis: PrivateRedis | null = null;
  let system: RunningSystem | undefined;
  const nodes: ScaleNode[] = [];
  let proxy: ChildProcess | undefined;

  const stop = async (): Promise<void> => {
    if (proxy !== undefined && proxy.exitCode === null) {
      const exited = new Promise((resolve) => proxy?.once('exit', resolve));
      proxy.kill('SIGTERM');
      await exited;
    }
    for (const node of nodes) await node.process.stop();
    await system?.stop();
    for (const r of rgws) await r.remove();
    if (redis !== null) await stopRedis(redis);
    replica?.cluster.cleanup();
    fs.rmSync(work, { recursive: true, force: true });
  };

  try {
    // One RGW endpoint per copy when the Ceph cluster can be reached (CEPH_CONF), else the one S3_ENDPOINT.
    if (extraRgwUnavailable() === null) for (const label of ['b', 'c']) rgws.push(await startExtraRgw(label));
    const bin = postgresBin();
    if (bin !== null) replica = await startCatalogReplica(bin);
    if (redisServerBinary() !== null) {
      const aofDir = path.join(work, 'redis');
      fs.mkdirSync(aofDir);
      redis = await startRedis(await freePort(), aofDir);
    }
    const endpoints = [settings.endpoint, ...rgws.map((r) => r.endpoint)].join(',');
    const database: Record<string, string> =
      replica === null
        ? {}
        : {
            DATABASE_URL: `postgres://postgres@127.0.0.1:${replica.primaryPort}/postgres`,
            // Every role is configured alike (one config for the deployment); only read-only lookups use it.
            CATALOG_READ_URL: `postgres://postgres@127.0.0.1:${replica.replicaPort}/postgres`,
          };
    system = await startSystem({
      env: {
        ...s3SystemEnv(settings, buckets),
        ...database,
        S3_ENDPOINTS: endpoints,
        S3_DERIVED_BUCKET: derivedBucket,
        ROLE: 'ingest',
        SCRUB_INTERVAL_SECONDS: '1',
        // Two copies acknowledge (the quorum rule); the keeper's repair writes the third.
        WRITE_QUORUM: '2',
        REPAIR_RETRY_SECONDS: '1',
        ...(redis === null ? {} : { REDIS_URL: redis.url }),
        ...options.env,
      },
    });
    const running = system;
    const roleEnv = async (role: string): Promise<Record<string, string>> => ({
      ...running.env,
      ROLE: role,
      DATA_DIR: fs.mkdtempSync(path.join(work, `${role}-`)),
      // One key-encryption key file for all processes (#17 at rest): a viewer opens what any ingest sealed.
      STORAGE_KEY_FILE: systemStorageKeyFile(running.dataDir),
      INGEST_PORT: String(await freePort()),
      INFERENCE_PORT: String(await freePort()),
      VIEWER_PORT: String(await freePort()),
      KEEPER_PORT: String(await freePort()),
      DIMSE_PORT: String(await freePort()),
    });
    const node = (role: string, env: Record<string, string>, process: LauncherProcess): ScaleNode => {
      const entry: ScaleNode = {
        role,
        env,
        process,
        url: '',
        restart: async () => {
          entry.process = startLauncher(env);
          await entry.process.ready;
        },
      };
      return entry;
    };
    nodes.push(node('ingest', running.env, running.launcher));
    for (const role of ['ingest', 'viewer', 'viewer', 'keeper']) {
      const env = await roleEnv(role);
      nodes.push(node(role, env, startLauncher(env)));
    }
    // Inference: a short quiet period, one job at a time per process.
    for (let i = 0; i < (options.inferenceProcesses ?? 2); i++) {
      const env = { ...(await roleEnv('inference')), TRIAGE_QUIET_SECONDS: '1', TRIAGE_CONCURRENCY: '1' };
      nodes.push(node('inference', env, startLauncher(env)));
    }
    for (const n of nodes) n.url = (await n.process.ready).find((s) => s.role === n.role)?.url ?? '';
    const nodesOf = (role: string): ScaleNode[] => nodes.filter((n) => n.role === role);

    const proxyPort = await freePort();
    const servers = (role: string): string => nodesOf(role).map((n, i) => `  server ${role}${i + 1} ${new URL(n.url).host} check inter 300 fall 1 rise 2`).join('\n');
    const cfg = path.join(work, 'haproxy.cfg');
    fs.writeFileSync(
      cfg,
      [
        // A health check may take up to 5 s on a loaded machine (without `timeout check` it is `inter`, 300 ms, and
        // one slow /readyz took the only ingest left out of the backend); a killed process still fails at once.
        'defaults\n  mode http\n  timeout connect 2s\n  timeout check 5s\n  timeout client 120s\n  timeout server 120s\n  balance roundrobin',
        `frontend dicomweb\n  bind 127.0.0.1:${proxyPort}\n  acl is_stow method POST\n  acl stow_path path_reg ^/dicomweb/studies(/[0-9.]+)?/?$\n  use_backend ingest if is_stow stow_path\n  default_backend viewer`,
        `backend ingest\n  option httpchk GET /readyz\n${servers('ingest')}`,
        `backend viewer\n  option httpchk GET /readyz\n${servers('viewer')}`,
        '',
      ].join('\n'),
    );
    proxy = spawn(haproxy, ['-db', '-f', cfg], { stdio: 'ignore' });
    const base = `http://127.0.0.1:${proxyPort}`;
    await waitFor('haproxy to see both viewers ready', async () => (await fetch(`${base}/healthz`).catch(() => null))?.status === 200);
    return { system: running, base, nodes, nodesOf, buckets, derivedBucket, rgws, replica, redis, work, stop };
  } catch (error) {
    await stop().catch(() => undefined);
    throw error;
  }
}

/** A counter or gauge of a process's /metrics (0 when absent). */
export async function metricValue(url: string, name: string, labels = ''): Promise<number> {
  const text = await (await fetch(`${url}/metrics`)).text();
  const line = text.split('\n').find((l) => l.startsWith(`${name}${labels} `));
  return line ? Number(line.split(' ').pop()) : 0;
}

/** Catalog reads answered by the replica and by the primary, summed over `urls` (yunying_catalog_reads_total). */
export async function catalogReads(urls: string[]): Promise<{ replica: number; primary: number }> {
  const counts = await Promise.all(
    urls.map(async (url) => ({
      replica: await metricValue(url, 'yunying_catalog_reads_total', '{server="replica"}'),
      primary: await metricValue(url, 'yunying_catalog_reads_total', '{server="primary"}'),
    })),
  );
  return counts.reduce((a, b) => ({ replica: a.replica + b.replica, primary: a.primary + b.primary }), { replica: 0, primary: 0 });
}
