import { JOB_NAMES, QUEUE_NAMES } from './catalogue';
import { missingHandlers } from './workers';

const handler = (): Promise<unknown> => Promise.resolve(undefined);

/** Handlers for every job of the catalogue, so each test takes away only what it is about. */
function allHandlers(): Record<string, Record<string, unknown>> {
  return Object.fromEntries(QUEUE_NAMES.map((queue) => [queue, Object.fromEntries(JOB_NAMES[queue].map((job) => [job, handler]))]));
}

describe('worker start-up check: the whole job catalogue', () => {
  it('passes when every queue and every job has a handler', () => {
    expect(missingHandlers(allHandlers())).toEqual([]);
  });

  it('names a queue left without a worker, job by job', () => {
    const { triage: _left, ...rest } = allHandlers();
    expect(missingHandlers(rest)).toEqual(JOB_NAMES.triage.map((job) => `triage/${job}`));
  });

  it('names a job without a handler, and a handler that is not a function', () => {
    const handlers = allHandlers();
    delete handlers.study?.['study.announced'];
    (handlers.triage as Record<string, unknown>)['triage.run'] = 'not a function';
    expect(missingHandlers(handlers)).toEqual(['study/study.announced', 'triage/triage.run']);
  });
});
