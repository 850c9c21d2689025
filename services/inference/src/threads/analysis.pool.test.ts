/** @jest-environment ./packages/nodule-model/ort.jest-environment.js */
import path from 'node:path';
import { AppError, PermanentError, createLogger } from '@yunying/core';
import { makeInstance } from '@yunying/dicom/testing';
import { TriageModel, defaultModelDir } from '@yunying/nodule-model';
import { analyseInstance, type ImageAnalysis } from '../triage/analyse';
import { AnalysisPool } from './analysis.pool';

// The threads run the built file, as in the service (the test command builds before jest).
const threadFile = path.join(__dirname, '../../dist/threads/analysis.thread.js');
const logger = createLogger({ level: 'silent', service: 'analysis-pool-test' });
const frame = (seed: string): Uint8Array => makeInstance({ rows: 315, columns: 500, seed });
const withoutTime = (a: ImageAnalysis): ImageAnalysis => ({ ...a, inferenceMs: 0 });

describe('AnalysisPool', () => {
  let pool: AnalysisPool;
  beforeAll(async () => {
    pool = new AnalysisPool({ size: 1, modelDir: defaultModelDir(), logger, threadFile });
    await pool.start();
  });
  afterAll(() => pool.close());

  it('a thread gives exactly the analysis the same code gives in-process (the instance is handed over, not shared)', async () => {
    const model = await TriageModel.load(defaultModelDir(), { intraOpNumThreads: 1 });
    try {
      for (const seed of ['pool-a', 'pool-b']) {
        const expected = await analyseInstance(model, frame(seed), 1);
        const sent = frame(seed);
        const got = await pool.analyse(sent, 1);
        expect(sent.byteLength).toBe(0); // transferred to the thread, as the worker hands it over
        expect(got.status).toBe('analysed');
        expect(withoutTime(got)).toEqual(withoutTime(expected));
      }
    } finally {
      await model.close();
    }
  });

  it('an instance the thread cannot read is a permanent failure, and the thread goes on with the next', async () => {
    const bad = pool.analyse(new Uint8Array(300).fill(7), 1);
    await expect(bad).rejects.toBeInstanceOf(PermanentError);
    await expect(pool.analyse(frame('pool-after'), 1)).resolves.toMatchObject({ status: 'analysed' });
  });

  it('closing rejects what is in flight and queued as unavailable, and refuses new work', async () => {
    const own = new AnalysisPool({ size: 1, modelDir: defaultModelDir(), logger, threadFile });
    await own.start();
    const pending = [own.analyse(frame('close-1'), 1), own.analyse(frame('close-2'), 1)];
    const settled = Promise.allSettled(pending);
    await own.close();
    for (const outcome of await settled) {
      if (outcome.status === 'fulfilled') continue; // the thread may finish the first before it is stopped
      expect(outcome.reason).toBeInstanceOf(AppError);
      expect((outcome.reason as AppError).code).toBe('unavailable');
    }
    expect((await settled).some((o) => o.status === 'rejected')).toBe(true);
    await expect(own.analyse(frame('close-3'), 1)).rejects.toMatchObject({ code: 'unavailable' });
  });
});
