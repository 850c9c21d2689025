import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createPool, quoteIdent } from '@yunying/catalog';
import { makeStudy } from '@yunying/dicom/testing';
import { findExecutable, describeUnless } from '../support/skip';
import { freePort, REPO_ROOT, startLauncher } from '../support/processes';
import { startSystem, stow, type RunningSystem } from '../support/system';
import { nodulePattern, results, waitFor } from './triage.support';

const redisServer = findExecutable('redis-server');
const redisCli = findExecutable('redis-cli');

async function startPrivateRedis(): Promise<{ url: string; port: number; child: ChildProcess; stop: () => Promise<void> }> {
  const port = await freePort();
  const child = spawn(redisServer ?? 'redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'], { stdio: 'ignore' });
  await waitFor('private redis', async () => {
    const pong = await run(redisCli ?? 'redis-cli', ['-p', String(port), 'ping']).catch(() => '');
    return pong.trim() === 'PONG' ? true : undefined;
  }, 10_000, 100);
  return {
    url: `redis://127.0.0.1:${port}`,
    port,
    child,
    stop: async () => {
      if (child.exitCode !== null) return;
      const exited = new Promise((resolve) => child.once('exit', resolve));
      child.kill('SIGTERM');
      await exited;
    },
  };
}

function run(file: string, args: string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(file, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (c: Buffer) => (out += c.toString()));
    child.once('error', reject);
    child.once('exit', (code) => (code === 0 ? resolve(out) : reject(new Error(`${file} exited ${String(code)}`))));
  });
}

async function metricValue(url: string, name: string): Promise<number> {
  const text = await (await fetch(`${url}/metrics`)).text();
  const line = text.split('\n').find((l) => l.startsWith(`${name} `) || l.startsWith(`${name}{`));
  return line ? Number(line.split(' ').pop()) : 0;
}

describeUnless(redisServer && redisCli ? null : 'redis-server/redis-cli not installed', 'triage recovery (system)', () => {
  let redis: Awaited<ReturnType<typeof startPrivateRedis>>;
  let system: RunningSystem;

  beforeAll(async () => {
    redis = await startPrivateRedis();
    // A quiet period long enough that the study's announcement is still a delayed job when Redis is flushed.
    system = await startSystem({ env: { REDIS_URL: redis.url, TRIAGE_QUIET_SECONDS: '3', TRIAGE_CONCURRENCY: '1' } });
  }, 120_000);
  afterAll(async () => {
    await system?.stop();
    await redis?.stop();
  });

  it('restores the triage of a study whose queued work Redis lost, storing exactly one result', async () => {
    const apiKey = system.credentials.apiKey?.key ?? '';
    // Named a thyroid study, so the attributes admit it whatever the synthetic pixels look like.
    const study = makeStudy(2, { rows: 100, columns: 120, studyDescription: 'THYROID', pixelPattern: nodulePattern(60, 55, 18, 14) });
    expect((await stow(system.urls.ingest ?? '', apiKey, study.files, study.studyInstanceUid)).status).toBe(200);
    // Wait until the announcements are in Redis (outbox published), then lose everything Redis holds.
    await waitFor('outbox published', async () => {
      const { rows } = await system.pool.query<{ n: number }>('SELECT count(*)::int AS n FROM outbox WHERE published_at IS NULL');
      return rows[0]?.n === 0 ? true : undefined;
    });
    await run(redisCli ?? 'redis-cli', ['-p', String(redis.port), 'FLUSHALL']);
    expect((await run(redisCli ?? 'redis-cli', ['-p', String(redis.port), 'DBSIZE'])).trim()).toBe('0');
    expect(await results(system.pool, study.studyInstanceUid)).toHaveLength(0);

    const inference = system.urls.inference ?? '';
    const result = await waitFor('reconciled result', async () => (await results(system.pool, study.studyInstanceUid))[0]);
    expect(['triaged', 'no_nodule_found']).toContain(result.status);
    expect(result.instance_count).toBe(2);
    expect(await metricValue(inference, 'yunying_triage_reconciled_total')).toBeGreaterThanOrEqual(1);
    // A reconciler pass that starts after the result was stored finds nothing to do; still one row.
    if (result.status === 'triaged') await waitFor('SR stored', async () => ((await results(system.pool, study.studyInstanceUid))[0]?.sr_sop_instance_uid ? true : undefined));
    const nextPass = async (): Promise<void> => {
      const passes = await metricValue(inference, 'yunying_triage_reconcile_passes_total');
      await waitFor('a reconciler pass', async () => ((await metricValue(inference, 'yunying_triage_reconcile_passes_total')) > passes ? true : undefined), 20_000, 300);
    };
    await nextPass(); // passes run one at a time: the next one starts after this one ended
    const before = await metricValue(inference, 'yunying_triage_reconciled_total');
    await nextPass();
    expect(await metricValue(inference, 'yunying_triage_reconciled_total')).toBe(before);
    expect(await results(system.pool, study.studyInstanceUid)).toHaveLength(1);
  }, 120_000);
});

describe('model registry (system)', () => {
  it('refuses to start the inference role when the model file does not match its manifest sha256', async () => {
    const models = fs.mkdtempSync(path.join(os.tmpdir(), 'yy-models-'));
    const dir = path.join(models, 'thyroid-nodule');
    fs.mkdirSync(dir);
    const source = path.join(REPO_ROOT, 'models/thyroid-nodule');
    for (const f of ['frame.onnx']) fs.copyFileSync(path.join(source, f), path.join(dir, f));
    const manifest = JSON.parse(fs.readFileSync(path.join(source, 'manifest.json'), 'utf8')) as { files: { frame: { sha256: string } } };
    manifest.files.frame.sha256 = manifest.files.frame.sha256.replace(/^./, (c) => (c === '0' ? '1' : '0'));
    fs.writeFileSync(path.join(dir, 'manifest.json'), JSON.stringify(manifest));
    const schema = `sys_${randomBytes(5).toString('hex')}`;
    const env = {
      ROLE: 'inference',
      AUTH_TOKEN_SECRET: 'x'.repeat(48),
      DATABASE_URL: process.env.TEST_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test',
      DATABASE_SCHEMA: schema,
      REDIS_URL: process.env.TEST_REDIS_URL ?? 'redis://127.0.0.1:6379',
      QUEUE_PREFIX: schema,
      DATA_DIR: models,
      INFERENCE_PORT: String(await freePort()),
      MODELS_DIR: models,
      ACTIVE_MODEL: 'thyroid-nodule',
    };
    const launcher = startLauncher(env);
    try {
      const code = await launcher.exited;
      expect(code).not.toBe(0);
      expect(launcher.output()).toMatch(/model "thyroid-nodule".*refused: model file frame.onnx has sha256 [0-9a-f]{64}, the manifest says/);
      expect(launcher.output()).not.toContain('YUNYING_READY');
    } finally {
      await launcher.stop();
      const pool = createPool({ url: env.DATABASE_URL, schema, poolSize: 1 });
      await pool.query(`DROP SCHEMA IF EXISTS ${quoteIdent(schema)} CASCADE`);
      await pool.end();
      fs.rmSync(models, { recursive: true, force: true });
    }
    expect(JSON.parse(fs.readFileSync(path.join(source, 'manifest.json'), 'utf8')).files.frame.sha256).not.toBe(manifest.files.frame.sha256);
  }, 60_000);
});
