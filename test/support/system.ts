import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { createPool, quoteIdent, type Pool } from '@yunying/catalog';
import { copyMigratedCatalog, testDatabaseUrl } from '@yunying/catalog/testing';
import { REPO_ROOT, freePort, startLauncher, type LauncherProcess } from './processes';
import { removeTreeInBackground } from './remove-tree';

const run = promisify(execFile);

export interface DemoCredentials {
  clinics: { code: string; id: string; aeTitle: string }[];
  users: { username: string; role: string; password: string }[];
  apiKey: { name: string; clinicCode: string; key: string } | null;
}

export interface RunningSystem {
  env: Record<string, string>;
  urls: Record<string, string>;
  credentials: DemoCredentials;
  pool: Pool;
  dataDir: string;
  launcher: LauncherProcess;
  stop: () => Promise<void>;
}

export interface SystemOptions {
  env?: Record<string, string>;
  /** Runs on the seeded database before the launcher starts (state the services must find at boot). */
  beforeLaunch?: (pool: Pool) => Promise<void>;
}

/**
 * The whole system as a real process (services/launcher, ROLE=all) against the real Postgres (a schema
 * of its own) and Redis (a queue prefix of its own), with fs replica roots in a temp dir unless `env`
 * says otherwise. Seeds the demo clinics/users/key and returns their credentials.
 */
export async function startSystem(options: SystemOptions = {}): Promise<RunningSystem> {
  const id = randomBytes(5).toString('hex');
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), `yy-sys-${id}-`));
  // A catalog copied from the migrated template (the seed then finds nothing to migrate), unless the test
  // names its own database or schema.
  const copied = options.env?.DATABASE_URL === undefined && options.env?.DATABASE_SCHEMA === undefined;
  const copy = copied ? await copyMigratedCatalog(testDatabaseUrl(), 'sys') : null;
  const env: Record<string, string> = {
    AUTH_TOKEN_SECRET: `system-test-secret-${id}`.padEnd(48, 'x'),
    DATABASE_URL: copy?.url ?? testDatabaseUrl(),
    DATABASE_SCHEMA: copy?.schema ?? `sys_${id}`,
    REDIS_URL: process.env.TEST_REDIS_URL ?? 'redis://127.0.0.1:6379',
    QUEUE_PREFIX: `sys${id}`,
    DATA_DIR: dataDir,
    INGEST_PORT: String(await freePort()),
    VIEWER_PORT: String(await freePort()),
    INFERENCE_PORT: String(await freePort()),
    DIMSE_PORT: String(await freePort()),
    // Triage would change studies' status and priority under tests that set them by hand, and costs CPU:
    // it is off (an hour's quiet period) unless a test asks for it (test/triage and test/e2e do).
    TRIAGE_QUIET_SECONDS: '3600',
    SHUTDOWN_GRACE_SECONDS: '5',
    ...options.env,
  };
  const childEnv = { PATH: process.env.PATH ?? '', ...env };
  const seeded = await run(process.execPath, [path.join(REPO_ROOT, 'services/launcher/dist/seed.cli.js'), '--json'], { cwd: REPO_ROOT, env: childEnv });
  const credentials = JSON.parse(seeded.stdout.trim()) as DemoCredentials;
  const pool = createPool({ url: env.DATABASE_URL ?? '', schema: env.DATABASE_SCHEMA ?? '', poolSize: 3 });
  await options.beforeLaunch?.(pool);
  const launcher = startLauncher(env);
  const started = await launcher.ready;
  const urls = Object.fromEntries(started.map((s) => [s.role, s.url]));
  return {
    env,
    urls,
    credentials,
    pool,
    dataDir,
    launcher,
    stop: async () => {
      await launcher.stop('SIGTERM');
      if (copy) {
        await pool.end();
        await copy.dropDatabase();
      } else {
        await pool.query(`DROP SCHEMA IF EXISTS ${quoteIdent(env.DATABASE_SCHEMA ?? '')} CASCADE`);
        await pool.end();
      }
      removeTreeInBackground(dataDir);
    },
  };
}

/** A multipart/related STOW-RS body of application/dicom parts. */
export function stowBody(files: Buffer[], boundary = `yy-${randomBytes(8).toString('hex')}`): { body: Buffer; contentType: string } {
  const pieces: Buffer[] = [];
  for (const file of files) {
    pieces.push(Buffer.from(`--${boundary}\r\nContent-Type: application/dicom\r\n\r\n`), file, Buffer.from('\r\n'));
  }
  pieces.push(Buffer.from(`--${boundary}--\r\n`));
  return { body: Buffer.concat(pieces), contentType: `multipart/related; type="application/dicom"; boundary=${boundary}` };
}

export interface StowResult {
  status: number;
  headers: Headers;
  body: Record<string, { vr: string; Value?: Record<string, { vr: string; Value?: unknown[] }>[] | unknown[] }>;
}

export async function stow(ingestUrl: string, apiKey: string, files: Buffer[], studyUid?: string): Promise<StowResult> {
  const { body, contentType } = stowBody(files);
  const res = await fetch(`${ingestUrl}/dicomweb/studies${studyUid ? `/${studyUid}` : ''}`, {
    method: 'POST',
    headers: { 'content-type': contentType, authorization: `ApiKey ${apiKey}`, accept: 'application/dicom+json' },
    body,
  });
  const text = await res.text();
  return { status: res.status, headers: res.headers, body: text ? (JSON.parse(text) as StowResult['body']) : {} };
}

type SequenceItem = Record<string, { vr: string; Value?: unknown[] }>;

/** The items of ReferencedSOPSequence (00081199) or FailedSOPSequence (00081198) of a STOW response. */
export function stowItems(result: StowResult, tag: '00081199' | '00081198'): SequenceItem[] {
  return (result.body[tag]?.Value ?? []) as SequenceItem[];
}

export function firstValue(item: SequenceItem, tag: string): unknown {
  return item[tag]?.Value?.[0];
}
