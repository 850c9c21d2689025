import { randomBytes } from 'node:crypto';
import { createLogger } from '@yunying/core';
import type { JobPayload } from './catalogue';
import { TypedQueue } from './queues';
import { startCatalogueWorkers, type CatalogueWorkers, type Job } from './workers';
import { waitFor } from '../../../test/support/wait';

const redisUrl = process.env.TEST_REDIS_URL ?? 'redis://127.0.0.1:6379';
const logger = createLogger({ level: 'silent', service: 'workers-test' });

describe('catalogue workers (real Redis, bull)', () => {
  const tag = `w${randomBytes(5).toString('hex')}`;
  const settings = { redisUrl, prefix: `{${tag}}` };
  let study: TypedQueue<'study'>;
  let triage: TypedQueue<'triage'>;

  beforeEach(() => {
    study = new TypedQueue('study', settings);
    triage = new TypedQueue('triage', settings);
  });

  afterEach(async () => {
    for (const queue of [study, triage]) {
      await queue.bull.obliterate({ force: true });
      await queue.close();
    }
  });

  it('with a job of the catalogue left without a handler, start-up fails before any worker starts', async () => {
    await study.add('study.announced', { studyInstanceUid: '1.2.3' }, { jobId: `a-${tag}` });
    const workers = {
      study: { queue: study, concurrency: 1, handlers: {} },
      triage: { queue: triage, concurrency: 1, handlers: { 'triage.run': () => Promise.resolve('done') } },
    } as unknown as CatalogueWorkers;
    expect(() => startCatalogueWorkers(workers, logger)).toThrow('job catalogue: no handler for study/study.announced');
    // The check came before any worker: the queued job was not taken.
    expect(await study.bull.getJobCounts()).toMatchObject({ waiting: 1, active: 0, completed: 0 });
  });

  it('with every handler, each queue of the catalogue is worked', async () => {
    const seen: string[] = [];
    startCatalogueWorkers(
      {
        study: { queue: study, concurrency: 1, handlers: { 'study.announced': (job: Job<JobPayload<'study', 'study.announced'>>) => Promise.resolve(void seen.push(`study:${job.data.studyInstanceUid}`)) } },
        triage: { queue: triage, concurrency: 1, handlers: { 'triage.run': (job: Job<JobPayload<'triage', 'triage.run'>>) => Promise.resolve(void seen.push(`triage:${job.data.studyInstanceUid}`)) } },
      },
      logger,
    );
    await study.add('study.announced', { studyInstanceUid: '1.2.4' }, { jobId: `b-${tag}` });
    await triage.add('triage.run', { studyInstanceUid: '1.2.5', modelId: 'm', modelVersion: '1', instanceCount: 1 }, { jobId: `c-${tag}` });
    await waitFor('both jobs to be handled', () => Promise.resolve(seen.length === 2), 30_000);
    expect(seen.sort()).toEqual(['study:1.2.4', 'triage:1.2.5']);
  });
});
