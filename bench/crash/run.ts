/**
 * The long crash run of #8 (not part of npm test):
 *
 *   node -r ./bench/fuzz/register.cjs bench/crash/run.ts --rounds 20 --instances 1000 [--seed 1] [--concurrency 4]
 *
 * Starts the ingest role as its own process (Postgres/Redis from TEST_DATABASE_URL/TEST_REDIS_URL),
 * uploads the corpus over STOW-RS (batches of 10, four at a time, or --concurrency; one request alone
 * stores up to six parts at a time, four keep two each) while killing the process with
 * SIGKILL at seeded random moments and restarting it, `--rounds` times; then completes the upload and
 * verifies every acknowledged instance (catalog rows, three replica files that hash right, counters,
 * outbox published). Prints a table per round, writes bench/results/crash-<seed>-<time>.json, exits 1
 * on any problem.
 */
import fs from 'node:fs';
import path from 'node:path';
import { REPO_ROOT } from '../../test/support/processes';
import { startSystem } from '../../test/support/system';
import { runCrashRounds } from '../../test/crash/crash.harness';

function arg(name: string, fallback: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? (process.argv[i + 1] ?? fallback) : fallback;
}

async function main(): Promise<void> {
  const rounds = Number(arg('rounds', '20'));
  const instances = Number(arg('instances', '1000'));
  const seed = Number(arg('seed', '1'));
  const concurrency = Number(arg('concurrency', '4'));
  const started = Date.now();
  const system = await startSystem({ env: { ROLE: 'ingest', STORAGE_FS_LEAF_DIRS: process.env.STORAGE_FS_LEAF_DIRS ?? 'ahead' } });
  let report;
  try {
    report = await runCrashRounds({ system, apiKey: system.credentials.apiKey?.key ?? '', instances, rounds, seed, concurrency, log: (line) => console.log(line) });
  } finally {
    await system.stop();
  }
  const kills = report.rounds.filter((r) => r.killAfterAcks !== null);
  console.log(`\ncrash run, seed ${seed}, ${concurrency} requests at a time: ${instances} instances, ${kills.length} kills in ${((Date.now() - started) / 1000).toFixed(1)} s`);
  console.log('  round  acked  resent  already_stored  interrupted  kill_after_acks  delay_ms  unpublished_at_kill  restart_ms');
  for (const r of report.rounds) {
    console.log(
      `  ${String(r.round).padStart(5)} ${String(r.acknowledged).padStart(6)} ${String(r.resent).padStart(7)} ${String(r.resentAlreadyStored).padStart(15)} ${String(r.interrupted).padStart(12)} ${String(r.killAfterAcks ?? '-').padStart(16)} ${String(r.killDelayMs ?? '-').padStart(9)} ${String(r.unpublishedAtKill).padStart(20)} ${String(r.restartMs).padStart(11)}`,
    );
  }
  console.log(`  acknowledged ${report.acknowledged}, verified (3 copies hash right) ${report.verified}, orphans on disk ${report.orphansOnDisk}, temp files left by kills ${report.tempFilesOnDisk}`);
  console.log(`  outbox rows ${report.outboxRows}, published ${report.outboxPublished}, left unpublished at a kill and published after restart ${report.leftoversRepublished}`);
  for (const p of report.problems) console.log(`  PROBLEM ${p}`);
  const dir = path.join(REPO_ROOT, 'bench', 'results');
  fs.mkdirSync(dir, { recursive: true });
  const file = path.join(dir, `crash-${seed}-${new Date().toISOString().replace(/[:.]/g, '-')}.json`);
  fs.writeFileSync(file, JSON.stringify({ seed, rounds, instances, report }, null, 2));
  console.log(`results: ${path.relative(REPO_ROOT, file)}`);
  if (report.problems.length > 0 || report.verified !== instances) process.exitCode = 1;
}

main().catch((error: unknown) => {
  console.error(error);
  process.exitCode = 1;
});
