import { Registry } from 'prom-client';
import { AppError, PermanentError, type Logger } from '@yunying/core';
import type { Job, JobPayload } from '@yunying/jobs';
import { triageMetrics } from './triage.metrics';
import type { TriageService } from './triage.service';
import { triageHandlers } from './triage.worker';

type Payload = JobPayload<'triage', 'triage.run'>;

const logger = { warn: () => undefined, info: () => undefined, error: () => undefined } as unknown as Logger;
const payload: Payload = { studyInstanceUid: '2.25.1', modelId: 'm', modelVersion: '1', instanceCount: 2 };

function setup(error: Error, attemptsMade: number) {
  const recorded: string[] = [];
  let discarded = false;
  const service = {
    run: () => Promise.reject(error),
    recordFailure: (_: Payload, reason: string) => {
      recorded.push(reason);
      return Promise.resolve();
    },
  } as unknown as TriageService;
  const job = {
    id: 'triage:2.25.1:1:2',
    data: payload,
    opts: { attempts: 5 },
    attemptsMade,
    discard: () => {
      discarded = true;
      return Promise.resolve();
    },
  } as unknown as Job<Payload>;
  const registry = new Registry();
  const handler = triageHandlers(service, triageMetrics(registry), logger)['triage.run'];
  return { run: () => handler(job), recorded, discarded: () => discarded, registry };
}

async function outcomes(registry: Registry): Promise<Record<string, number>> {
  const metric = await registry.getSingleMetric('yunying_triage_jobs_total')?.get();
  return Object.fromEntries((metric?.values ?? []).map((v) => [String(v.labels.outcome), v.value]));
}

describe('triage job failures', () => {
  it('a permanent error stores the reason, discards the job and still throws', async () => {
    const t = setup(new PermanentError('The frame is not a JPEG codestream'), 0);
    await expect(t.run()).rejects.toThrow('not a JPEG codestream');
    expect(t.recorded).toEqual(['The frame is not a JPEG codestream']);
    expect(t.discarded()).toBe(true);
    expect(await outcomes(t.registry)).toEqual({ failed: 1 });
  });

  it('a transient error is rethrown for a retry, storing nothing', async () => {
    const t = setup(new AppError('unavailable', 'replica down'), 1);
    await expect(t.run()).rejects.toThrow('replica down');
    expect(t.recorded).toEqual([]);
    expect(t.discarded()).toBe(false);
    expect(await outcomes(t.registry)).toEqual({ retry: 1 });
  });

  it('on the last attempt a transient failure is stored (internals named, not shown) and rethrown', async () => {
    const t = setup(new Error('connection terminated: host 10.0.0.5'), 4);
    await expect(t.run()).rejects.toThrow('connection terminated');
    expect(t.recorded).toEqual(['triage gave up after 5 attempts (Error)']);
    expect(t.discarded()).toBe(false);
  });
});
