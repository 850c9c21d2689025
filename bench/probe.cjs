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
//   fileOps / fileOpMs: calls of node:fs/promises functions and of FileHandle methods, and their summed time
//     from call to resolution: the libuv pool's queue and the wait for a turn of the event loop included,
//     which is what a chain of file operations (a copy's ~17) waits per step; fsyncs / fsyncMs: of them
//     FileHandle.sync and datasync. Synchronous and callback calls are not counted.
//   fileOpP50Ms / fileOpP99Ms / fileOpMaxMs, fsyncP50Ms / fsyncP99Ms / fsyncMaxMs: the same times' median,
//     99th percentile and longest since the previous line (a histogram reset at each line): a stall of the
//     file system shows in the tail, where the mean hides it.
//   loopDelayMeanMs / loopDelayP99Ms: the event loop's delay since the previous line (perf_hooks'
//     monitorEventLoopDelay, sampled every 2 ms): how long a ready callback waits for the main thread.
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
  const totals = { gcMajor: 0, gcMajorMs: 0, gcMinor: 0, gcMinorMs: 0, sha256Bytes: 0, copiedBytes: 0, fileOps: 0, fileOpMs: 0, fsyncs: 0, fsyncMs: 0 };

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

  // Microseconds (a histogram records integers), at least 1.
  const { createHistogram } = require('node:perf_hooks');
  const fileOpTimes = createHistogram();
  const fsyncTimes = createHistogram();
  const tails = (histogram, prefix) => {
    const ms = (us) => (histogram.count > 0 ? us / 1000 : 0);
    const out = { [`${prefix}P50Ms`]: ms(histogram.percentile(50)), [`${prefix}P99Ms`]: ms(histogram.percentile(99)), [`${prefix}MaxMs`]: ms(histogram.max) };
    histogram.reset();
    return out;
  };

  // Every call timed from its start to its settling; only calls that return a promise are wrapped further.
  const timed = (owner, name, isFsync) => {
    const original = owner[name];
    if (typeof original !== 'function') return;
    owner[name] = function probeTimed(...args) {
      const started = process.hrtime.bigint();
      const result = original.apply(this, args);
      if (!result || typeof result.finally !== 'function') return result;
      return result.finally(() => {
        const ms = Number(process.hrtime.bigint() - started) / 1e6;
        totals.fileOps += 1;
        totals.fileOpMs += ms;
        const us = Math.max(1, Math.round(ms * 1000));
        fileOpTimes.record(us);
        if (isFsync) {
          totals.fsyncs += 1;
          totals.fsyncMs += ms;
          fsyncTimes.record(us);
        }
      });
    };
  };
  const fsp = require('node:fs/promises');
  // FileHandle's prototype is reachable only through a handle: its methods are wrapped when the first open
  // resolves, before that handle reaches its caller (every handle shares the prototype).
  let fileHandleTimed = false;
  const open = fsp.open;
  fsp.open = function probeOpen(...args) {
    return open.apply(this, args).then((handle) => {
      // close is each handle's own property in Node 20 (a class field), the prototype's elsewhere.
      const ownClose = Object.prototype.hasOwnProperty.call(handle, 'close');
      if (!fileHandleTimed) {
        fileHandleTimed = true;
        const fileHandle = Object.getPrototypeOf(handle);
        for (const name of ['read', 'readv', 'write', 'writev', 'truncate', 'stat', 'chmod', 'readFile', 'writeFile', ...(ownClose ? [] : ['close'])]) timed(fileHandle, name, false);
        for (const name of ['sync', 'datasync']) timed(fileHandle, name, true);
      }
      if (ownClose) timed(handle, 'close', false);
      return handle;
    });
  };
  for (const name of ['open', 'mkdir', 'rename', 'stat', 'lstat', 'access', 'readFile', 'writeFile', 'appendFile', 'unlink', 'link', 'rm', 'rmdir', 'readdir', 'chmod', 'utimes', 'copyFile', 'realpath', 'mkdtemp', 'opendir']) timed(fsp, name, false);

  const { monitorEventLoopDelay } = require('node:perf_hooks');
  const loopDelay = monitorEventLoopDelay({ resolution: 2 });
  loopDelay.enable();

  process.on('SIGUSR2', () => {
    const delay = { loopDelayMeanMs: loopDelay.mean / 1e6, loopDelayP99Ms: loopDelay.percentile(99) / 1e6, ...tails(fileOpTimes, 'fileOp'), ...tails(fsyncTimes, 'fsync') };
    loopDelay.reset();
    fs.appendFileSync(file, JSON.stringify({ pid: process.pid, ...totals, ...delay, startupThreads }) + '\n');
  });
}
