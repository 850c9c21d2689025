// Counts the garbage collections of a Yunying launcher, for bench runs (docs/benchmarks.md, #14):
//   BENCH_NODE_OPTIONS="--require $PWD/bench/gc-count.cjs" npm run bench:explain -w bench -- ...
// BENCH_NODE_OPTIONS reaches every Node process the lab starts; only the launcher (services/launcher/dist/main.js)
// counts. At SIGTERM (the lab's stop) it writes one JSON line per process to GC_COUNT_FILE (default
// /tmp/yunying-gc-counts.jsonl; the lab passes no other variable through, so set it in the file or leave it):
// full (major) and young (minor) collections, their pause time, the full ones after YUNYING_READY (the run,
// not the start), and the perf_hooks flags of each full one (64: started at the allocation limit, 32/40:
// external memory pressure).
const { PerformanceObserver, constants } = require('node:perf_hooks');
const fs = require('node:fs');
const v8 = require('node:v8');

if (process.argv[1] && process.argv[1].endsWith('launcher/dist/main.js')) {
  const counts = { major: 0, minor: 0, majorMs: 0, minorMs: 0, majorFlags: {} };
  let atReady = null;
  new PerformanceObserver((list) => {
    for (const e of list.getEntries()) {
      const { kind, flags } = e.detail;
      if (kind === constants.NODE_PERFORMANCE_GC_MAJOR) {
        counts.major += 1;
        counts.majorMs += e.duration;
        counts.majorFlags[flags] = (counts.majorFlags[flags] ?? 0) + 1;
      } else if (kind === constants.NODE_PERFORMANCE_GC_MINOR) {
        counts.minor += 1;
        counts.minorMs += e.duration;
      }
    }
  }).observe({ entryTypes: ['gc'] });
  const write = process.stdout.write.bind(process.stdout);
  process.stdout.write = (chunk, ...rest) => {
    if (atReady === null && String(chunk).startsWith('YUNYING_READY')) atReady = { major: counts.major, majorMs: counts.majorMs };
    return write(chunk, ...rest);
  };
  process.on('SIGTERM', () => {
    const heap = v8.getHeapStatistics();
    const line = {
      pid: process.pid,
      role: process.env.ROLE,
      major: counts.major,
      majorAfterReady: atReady === null ? null : counts.major - atReady.major,
      majorMsAfterReady: atReady === null ? null : Math.round(counts.majorMs - atReady.majorMs),
      minor: counts.minor,
      minorMs: Math.round(counts.minorMs),
      majorFlags: counts.majorFlags,
      heapUsedMB: +(heap.used_heap_size / 1e6).toFixed(1),
    };
    fs.appendFileSync(process.env.GC_COUNT_FILE || '/tmp/yunying-gc-counts.jsonl', JSON.stringify(line) + '\n');
  });
}
