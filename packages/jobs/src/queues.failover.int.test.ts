import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import type { Job } from 'bull';
import { TypedQueue } from './queues';

const redisUrl = process.env.TEST_REDIS_URL ?? 'redis://127.0.0.1:6379';
const built = path.resolve(__dirname, '../dist/index.js');

/** Polls `probe` every 200 ms until it is true; fails after `ms`. */
async function until(what: string, probe: () => boolean | Promise<boolean>, ms: number): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await probe())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
}

/**
 * QUEUE_LOCK_SECONDS (#18, failover): a worker process killed -9 while it runs a job leaves the job's lock
 * to lapse; another process's stalled-job check then takes the job up. With bull's default 30 s lock that
 * takes 30–60 s; with a 5 s lock it must happen well within 25 s. The dying worker is a real process
 * (the built package, as the services run it), killed with SIGKILL: nothing of it releases the job.
 */
describe('a job of a killed worker is taken up by another (real Redis, bull, QUEUE_LOCK_SECONDS)', () => {
  let child: ChildProcess | undefined;

  afterEach(() => {
    if (child && child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  });

  it('with a 5 s lock, the survivor runs the job once after its holder is killed -9', async () => {
    expect(fs.existsSync(built)).toBe(true); // npm test builds the packages first
    const tag = `f${randomBytes(5).toString('hex')}`;
    const settings = { redisUrl, prefix: `{${tag}}`, lockSeconds: 5 };
    const survivor = new TypedQueue('triage', settings);
    try {
      await survivor.add('triage.run', { studyInstanceUid: '1.2.3', modelId: 'm', modelVersion: '1', instanceCount: 1 }, { jobId: `j-${tag}` });
      // The holder takes the job and never finishes it.
      const holder = spawn(
        process.execPath,
        [
          '-e',
          `const { TypedQueue } = require(${JSON.stringify(built)});
           const queue = new TypedQueue('triage', ${JSON.stringify(settings)});
           queue.bull.process('triage.run', 1, (job) => { process.stdout.write('took ' + job.id + '\\n'); return new Promise(() => {}); });`,
        ],
        { stdio: ['ignore', 'pipe', 'inherit'] },
      );
      child = holder;
      let out = '';
      holder.stdout?.on('data', (chunk: Buffer) => {
        out += chunk.toString();
      });
      await until('the holder to take the job', () => out.includes(`took j-${tag}`), 20_000);
      holder.kill('SIGKILL');

      const ran: string[] = [];
      const stalled: string[] = [];
      survivor.bull.on('stalled', (job: Job) => stalled.push(String(job.id)));
      void survivor.bull.process('triage.run', 1, (job: Job) => {
        ran.push(String(job.id));
        return Promise.resolve();
      });
      // Bull's default lock (30 s) and stalled check (30 s) could not let this happen within 25 s.
      await until('the survivor to run the job', () => ran.length > 0, 25_000);
      expect(ran).toEqual([`j-${tag}`]);
      // Bull emits 'stalled' after it has fetched the job back, which may come after the survivor started it.
      await until('the stalled event', () => stalled.length > 0, 10_000);
      expect(stalled).toEqual([`j-${tag}`]);
      const job = await survivor.bull.getJob(`j-${tag}`);
      await until('the job to be completed', async () => (await job?.getState()) === 'completed', 10_000);
    } finally {
      await survivor.bull.obliterate({ force: true });
      await survivor.close();
    }
  }, 60_000);
});
