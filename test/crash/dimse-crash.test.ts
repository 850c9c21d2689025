import { startSystem, type RunningSystem } from '../support/system';
import { runCrashRounds } from './crash.harness';

/**
 * #14 crash safety of the DIMSE asynchronous operations window: the crash harness of crash.test.ts, but
 * every batch is one association that keeps up to 8 C-STOREs outstanding, so the ingest process is killed
 * with several C-STOREs of one association in flight and their group-committed transactions at any step.
 * A 0x0000 C-STORE-RSP is the acknowledgement: every acknowledged instance must have its catalog rows and
 * three copies that verify (the file the archive writes: its Part 10 header + the dataset as sent), no
 * half-written transaction at any kill, and the retries complete the rest.
 */
describe('kill -9 of the ingest process during windowed DIMSE uploads (system)', () => {
  let system: RunningSystem;

  beforeAll(async () => {
    system = await startSystem({ env: { ROLE: 'ingest' } });
  });
  afterAll(async () => {
    await system?.stop();
  });

  it('loses no acknowledged instance over 3 kill/restart rounds of 150 instances, 8 C-STOREs in flight per association', async () => {
    const report = await runCrashRounds({
      system,
      apiKey: '',
      instances: 150,
      rounds: 3,
      seed: 14_001,
      batchSize: 25,
      concurrency: 2,
      dimse: { port: Number(system.env.DIMSE_PORT), callingAe: 'DEMO_US', window: 8 },
      log: (line) => {
        if (process.env.YY_DEBUG) process.stderr.write(`${line}\n`);
      },
    });
    expect(report.problems).toEqual([]);
    expect(report.rounds.filter((r) => r.killAfterAcks !== null)).toHaveLength(3);
    expect(report.acknowledged).toBe(150);
    expect(report.verified).toBe(150);
    expect(report.orphansOnDisk).toBe(0);
    expect(report.outboxPublished).toBe(report.outboxRows);
  }, 240_000);
});
