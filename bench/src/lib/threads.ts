import fs from 'node:fs';

/**
 * CPU time by thread of a Node process, from /proc (Linux), grouped by what the threads do (#14: "CPU by
 * thread"). Node 20 names none of its threads, so the groups come from when each thread started:
 *
 * - the main thread (its thread id is the process id): JavaScript, and the collector's pauses;
 * - the threads that already exist when a `--require` preload runs (bench/probe.cjs lists them): Node's
 *   platform, that is V8's worker threads (concurrent and parallel garbage collection, background
 *   compilation) and Node's delayed-task and tracing threads. No JavaScript has run yet, so none of the
 *   libuv pool is there;
 * - native library threads that name themselves (libvips, sharp's thumbnails);
 * - the threads started later and not named: the libuv pool (file system calls, crypto and zlib jobs,
 *   DNS) and any worker_threads.
 *
 * CPU of threads that ended inside the window is in the process's total and in none of the groups.
 */
export type ThreadGroup = 'main' | 'platform' | 'named' | 'later';

export interface ThreadSample {
  comm: string;
  /** user + system, seconds */
  seconds: number;
}

/**
 * A /proc stat file (proc(5)): the name between the parentheses and the fields after "pid (comm) ", so that
 * index 0 is proc(5)'s field 3 (state). The name may itself hold spaces and parentheses: the last ')' ends it.
 */
export function readStat(statFile: string): { comm: string; fields: string[] } {
  const stat = fs.readFileSync(statFile, 'utf8');
  const close = stat.lastIndexOf(')');
  return { comm: stat.slice(stat.indexOf('(') + 1, close), fields: stat.slice(close + 2).split(' ') };
}

/** Every live thread of `pid`: its name and CPU time so far. A thread that ends while being read is left out. */
export function sampleThreads(pid: number): Map<number, ThreadSample> {
  const out = new Map<number, ThreadSample>();
  let tids: string[];
  try {
    tids = fs.readdirSync(`/proc/${pid}/task`);
  } catch {
    return out;
  }
  for (const tid of tids) {
    try {
      const { comm, fields } = readStat(`/proc/${pid}/task/${tid}/stat`);
      // utime and stime (proc(5) fields 14 and 15), in clock ticks of 1/100 s.
      out.set(Number(tid), { comm, seconds: (Number(fields[11]) + Number(fields[12])) / 100 });
    } catch {
      // ended between the listing and the read
    }
  }
  return out;
}

/** Which group a thread is in (see ThreadGroup); `processComm` is the main thread's name, which unnamed threads inherit. */
export function threadGroup(pid: number, tid: number, comm: string, processComm: string, startupThreads: ReadonlySet<number>): ThreadGroup {
  if (tid === pid) return 'main';
  if (startupThreads.has(tid)) return 'platform';
  return comm === processComm ? 'later' : 'named';
}

/** CPU seconds each group spent between two samples; a thread that started in between counts from zero. */
export function cpuByGroup(pid: number, before: ReadonlyMap<number, ThreadSample>, after: ReadonlyMap<number, ThreadSample>, startupThreads: ReadonlySet<number>): Record<ThreadGroup, number> {
  const sums: Record<ThreadGroup, number> = { main: 0, platform: 0, named: 0, later: 0 };
  const processComm = after.get(pid)?.comm ?? 'node';
  for (const [tid, now] of after) {
    const then = before.get(tid)?.seconds ?? 0;
    sums[threadGroup(pid, tid, now.comm, processComm, startupThreads)] += Math.max(0, now.seconds - then);
  }
  return sums;
}
