// bench:explain's probe in the Yunying launcher it measures (#14: the per-instance counts the issue asks
// explain to print). Loaded with --require through NODE_OPTIONS; only the launcher (services/launcher/dist/
// main.js) counts, any other Node process the lab starts (the seed) ignores it. Each SIGUSR2 appends one JSON
// line of running totals to YUNYING_BENCH_PROBE_FILE, so the bench takes the difference over its window:
//   gcMajor / gcMajorMs, gcMinor / gcMinorMs: collections and their pauses (perf_hooks 'gc' entries);
//   sha256Bytes: bytes fed to SHA-256 through crypto.createHash('sha256') (Hash.prototype.update);
//   copiedBytes: bytes copied in user space by JavaScript-visible copies: Buffer.concat's result,
//     Buffer.prototype.copy, and TypedArray.prototype.set of 4 KiB or more (smaller sets are element
//     writes of parsers, not copies of a payload). Copies inside Node's C++ (socket reads, the cipher's
//     output) are not seen; the count is a floor.
//   startupThreads: the ids of the threads that exist when this preload runs, the main thread left out:
//     Node's platform (V8's garbage-collection and compiler workers, Node's delayed-task thread), before
//     any JavaScript could start the libuv pool; bench/src/lib/threads.ts groups CPU time by them (Linux).
// The wrappers add a function call to each counted operation, so the launcher's CPU figures of the same
// run include that (small) cost.
'use strict';
const fs = require('node:fs');

const file = process.env.YUNYING_BENCH_PROBE_FILE;
if (file && process.argv[1] && process.argv[1].endsWith('launcher/dist/main.js')) {
  const { PerformanceObserver, constants } = require('node:perf_hooks');
  const crypto = require('node:crypto');
  let startupThreads = [];
  try {
    startupThreads = fs.readdirSync('/proc/self/task').map(Number).filter((tid) => tid !== process.pid);
  } catch {
    // not Linux: no thread groups
  }
  const totals = { gcMajor: 0, gcMajorMs: 0, gcMinor: 0, gcMinorMs: 0, sha256Bytes: 0, copiedBytes: 0 };

  new PerformanceObserver((list) => {
    for (const entry of list.getEntries()) {
      const kind = entry.detail ? entry.detail.kind : undefined;
      if (kind === constants.NODE_PERFORMANCE_GC_MAJOR) {
        totals.gcMajor += 1;
        totals.gcMajorMs += entry.duration;
      } else if (kind === constants.NODE_PERFORMANCE_GC_MINOR) {
        totals.gcMinor += 1;
        totals.gcMinorMs += entry.duration;
      }
    }
  }).observe({ entryTypes: ['gc'] });

  // Which hashes are SHA-256 is known at creation; the update wrapper counts only those.
  const sha256Hashes = new WeakSet();
  const createHash = crypto.createHash;
  crypto.createHash = function probeCreateHash(algorithm, options) {
    const hash = createHash.call(this, algorithm, options);
    if (String(algorithm).toLowerCase() === 'sha256') sha256Hashes.add(hash);
    return hash;
  };
  const update = crypto.Hash.prototype.update;
  crypto.Hash.prototype.update = function probeUpdate(data, encoding) {
    if (sha256Hashes.has(this)) totals.sha256Bytes += typeof data === 'string' ? Buffer.byteLength(data, encoding) : data.byteLength;
    return update.call(this, data, encoding);
  };

  const concat = Buffer.concat;
  Buffer.concat = function probeConcat(list, totalLength) {
    const joined = concat.call(this, list, totalLength);
    totals.copiedBytes += joined.length;
    return joined;
  };
  const copy = Buffer.prototype.copy;
  Buffer.prototype.copy = function probeCopy(target, targetStart, sourceStart, sourceEnd) {
    const copied = copy.call(this, target, targetStart, sourceStart, sourceEnd);
    totals.copiedBytes += copied;
    return copied;
  };
  const typedArray = Object.getPrototypeOf(Uint8Array.prototype);
  const set = typedArray.set;
  typedArray.set = function probeSet(source, offset) {
    set.call(this, source, offset);
    const bytes = source && typeof source.byteLength === 'number' ? source.byteLength : 0;
    if (bytes >= 4096) totals.copiedBytes += bytes;
  };

  process.on('SIGUSR2', () => {
    fs.appendFileSync(file, JSON.stringify({ pid: process.pid, ...totals, startupThreads }) + '\n');
  });
}
