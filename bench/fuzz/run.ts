/**
 * The long fuzz run of #8 (not part of npm test):
 *
 *   node -r ./bench/fuzz/register.cjs bench/fuzz/run.ts --cases 10000 --seed 1 [--stow-cases N] [--target parser|stow|both]
 *
 * Parser target: mutants of the generated seeds and every real file of the shared data folder up to
 * 2 MiB (skipped when absent), in a worker with a watchdog. STOW target: mutants POSTed to a system
 * started for the run (ROLE=ingest, Postgres/Redis from TEST_DATABASE_URL/TEST_REDIS_URL). Prints a
 * summary table, writes bench/results/fuzz-<seed>-<time>.json, saves failing inputs to
 * .data/fuzz-failures/ and exits 1 on any failure. `--from K --cases 1` replays case K.
 */
import fs from 'node:fs';
import path from 'node:path';
import { REPO_ROOT } from '../../test/support/processes';
import { startSystem } from '../../test/support/system';
import { generatedSeeds, realSeeds } from '../../test/fuzz/seeds';
import { DEFAULT_BUDGET, prepare, runParserFuzz, type FuzzSummary } from '../../test/fuzz/parser.harness';
import { runStowFuzz } from '../../test/fuzz/stow.harness';

function arg(name: string, fallback: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? (process.argv[i + 1] ?? fallback) : fallback;
}

function table(title: string, summary: FuzzSummary): void {
  console.log(`\n${title}: ${summary.cases} cases in ${summary.seconds.toFixed(1)} s, slowest ${summary.slowestMs} ms (${summary.slowestMsPerKiB} ms/KiB at most; budget ${DEFAULT_BUDGET.floorMs} ms + ${DEFAULT_BUDGET.msPerKiB} ms/KiB), ${summary.failures.length} failures`);
  console.log(`  outcomes: ${Object.entries(summary.byKind).map(([k, n]) => `${k}=${n}`).join('  ')}`);
  console.log('  mutation                   cases  accepted  rejected  failed');
  for (const [name, m] of Object.entries(summary.byMutation).sort((a, b) => b[1].cases - a[1].cases)) {
    console.log(`  ${name.padEnd(25)} ${String(m.cases).padStart(6)} ${String(m.accepted).padStart(9)} ${String(m.rejected).padStart(9)} ${String(m.failed).padStart(7)}`);
  }
  console.log(`  rejection reasons: ${Object.entries(summary.byReason).sort((a, b) => b[1] - a[1]).map(([k, n]) => `${k}=${n}`).join('  ')}`);
  for (const f of summary.failures.slice(0, 20)) console.log(`  FAIL case ${f.index} [${f.seed}] ${f.mutation}: ${f.kind} ${f.detail.split('\n')[0] ?? ''}`);
}

async function main(): Promise<void> {
  const cases = Number(arg('cases', '10000'));
  const seed = Number(arg('seed', '1'));
  const from = Number(arg('from', '0'));
  const target = arg('target', 'both');
  const stowCases = Number(arg('stow-cases', String(cases)));
  const real = realSeeds(Number.MAX_SAFE_INTEGER, 2 * 1024 * 1024);
  if (real.length === 0) console.log('shared data folder absent: generated seeds only');
  const seeds = prepare([...generatedSeeds(`fuzz-bench-${seed}`), ...real]);
  console.log(`seeds: ${seeds.length} (${real.length} real files); run seed ${seed}`);
  const results: Record<string, FuzzSummary> = {};

  if (target === 'parser' || target === 'both') {
    results.parser = await runParserFuzz({ seeds, cases, seed, from, onProgress: (n, s) => console.log(`  parser ${n}/${cases}: ${s.failures.length} failures`) });
    table('parser (parseInstance + decodeFrame)', results.parser);
  }
  if (target === 'stow' || target === 'both') {
    const system = await startSystem({ env: { ROLE: 'ingest' } });
    try {
      // Real files can be large: STOW mutants come from the generated seeds and the smaller real files.
      const stowSeeds = seeds.filter((s) => s.bytes.length <= 512 * 1024);
      results.stow = await runStowFuzz({
        system,
        apiKey: system.credentials.apiKey?.key ?? '',
        seeds: stowSeeds,
        cases: stowCases,
        seed,
        from,
        onProgress: (n, s) => {
          if (n % 500 === 0) console.log(`  stow ${n}/${stowCases}: ${s.failures.length} failures`);
        },
      });
    } finally {
      await system.stop();
    }
    table('STOW-RS (ingest process)', results.stow);
  }

  const dir = path.join(REPO_ROOT, 'bench', 'results');
  fs.mkdirSync(dir, { recursive: true });
  const file = path.join(dir, `fuzz-${seed}-${new Date().toISOString().replace(/[:.]/g, '-')}.json`);
  fs.writeFileSync(file, JSON.stringify({ seed, from, cases, stowCases, seeds: seeds.map((s) => s.name), results }, null, 2));
  console.log(`\nresults: ${path.relative(REPO_ROOT, file)}`);
  const failed = Object.values(results).reduce((n, s) => n + s.failures.length, 0);
  if (failed > 0) {
    console.log(`${failed} failures; inputs in .data/fuzz-failures/`);
    process.exitCode = 1;
  }
}

main().catch((error: unknown) => {
  console.error(error);
  process.exitCode = 1;
});
