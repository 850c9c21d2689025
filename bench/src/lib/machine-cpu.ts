import fs from 'node:fs';

/**
 * The whole machine's CPU time by state, from the first line of /proc/stat (proc(5): user, nice, system,
 * idle, iowait, irq, softirq, steal, in clock ticks of 1/100 s summed over every core). `bench:explain`
 * reads it before and after its window to say whether a run was bound by the cores (little idle left) or
 * waited (idle or iowait left over), and how much of the busy time was neither the launcher nor
 * PostgreSQL (the benchmark's own client, the kernel's writeback and journal threads, loopback TCP).
 */
export interface MachineCpu {
  /** Seconds spent running anything: user, nice, system, irq, softirq and steal. */
  busy: number;
  idle: number;
  /** Idle with a disk request outstanding. */
  iowait: number;
}

/** Parses the aggregate `cpu` line of a /proc/stat text. */
export function parseMachineCpu(stat: string): MachineCpu {
  const line = stat.split('\n').find((l) => l.startsWith('cpu '));
  if (line === undefined) throw new Error('/proc/stat has no aggregate cpu line');
  const ticks = line.trim().split(/\s+/).slice(1).map(Number);
  const at = (i: number): number => (Number.isFinite(ticks[i]) ? (ticks[i] as number) : 0);
  // guest and guest_nice (fields 9 and 10) are already counted in user and nice.
  const busy = at(0) + at(1) + at(2) + at(5) + at(6) + at(7);
  return { busy: busy / 100, idle: at(3) / 100, iowait: at(4) / 100 };
}

export function sampleMachineCpu(): MachineCpu | null {
  try {
    return parseMachineCpu(fs.readFileSync('/proc/stat', 'utf8'));
  } catch {
    return null;
  }
}

/** What the machine did between two samples. */
export function machineCpuDelta(from: MachineCpu, to: MachineCpu): MachineCpu {
  return { busy: to.busy - from.busy, idle: to.idle - from.idle, iowait: to.iowait - from.iowait };
}
