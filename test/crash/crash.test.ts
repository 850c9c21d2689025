import { startSystem, type RunningSystem } from '../support/system';
import { runCrashRounds } from './crash.harness';

/**
 * #8 crash safety, the `npm test` sample: 300 instances (a quarter of them about 300 KB, which the
 * replicas write with O_DIRECT: #14) over STOW-RS (batches of 10, four at a
 * time) while the ingest process (ROLE=ingest, a real child process) is killed with SIGKILL at three
 * seeded random moments and restarted with the same env. Every acknowledged instance has its catalog
 * rows and three copies that verify; at each kill the catalog holds no half-written instance and no
 * counter out of step; the client's retries complete the rest (re-sends of acknowledged ones come back
 * ALREADY_STORED); copies written before a kill are re-used, not orphaned; the relay publishes the
 * outbox rows a kill left behind. The long run is bench/crash/run.ts (20 rounds, 1,000 instances).
 */
describe('kill -9 of the ingest process during uploads (system)', () => {
  let system: RunningSystem;

  beforeAll(async () => {
    // The shipped default for the leaf directories (made ahead, #14); dimse-crash.test.ts runs them on demand.
    system = await startSystem({ env: { ROLE: 'ingest', STORAGE_FS_LEAF_DIRS: 'ahead' } });
  });
  afterAll(async () => {
    await system?.stop();
  });

  it('loses no acknowledged instance over 3 kill/restart rounds of 300 instances', async () => {
    const report = await runCrashRounds({
      system,
      apiKey: system.credentials.apiKey?.key ?? '',
      instances: 300,
      rounds: 3,
      seed: 8_001,
      // YY_DEBUG=1 prints one line per round.
      log: (line) => {
        if (process.env.YY_DEBUG) process.stderr.write(`${line}\n`);
      },
    });
    expect(report.problems).toEqual([]);
    expect(report.rounds.filter((r) => r.killAfterAcks !== null)).toHaveLength(3);
    expect(report.acknowledged).toBe(300);
    expect(report.verified).toBe(300);
    expect(report.orphansOnDisk).toBe(0);
    expect(report.outboxPublished).toBe(report.outboxRows);
    // Re-sends of acknowledged instances happened and every one was recognised.
    const resent = report.rounds.reduce((n, r) => n + r.resent, 0);
    expect(resent).toBeGreaterThan(0);
    expect(report.rounds.reduce((n, r) => n + r.resentAlreadyStored, 0)).toBe(resent);
  }, 240_000);
});
