import fs from 'node:fs';

/**
 * The counters of the block device under a directory, from /sys/dev/block/MAJOR:MINOR/stat (the kernel's
 * Documentation/block/stat.rst: eleven fields, then discards, then flushes). `bench:explain` reads them
 * around its window to say whether the disk was what the copies waited for: how many writes and cache
 * flushes (one per fsync'd journal commit, roughly) each instance cost, and how much of the wall time the
 * device had requests in flight.
 */
export interface BlockDeviceCounters {
  /** Write requests completed. */
  writes: number;
  /** Milliseconds the device had at least one request in flight (io_ticks). */
  busyMs: number;
  /** Flush requests completed; null on kernels before 5.5, which do not count them. */
  flushes: number | null;
  /** Milliseconds spent on flush requests; null where flushes are not counted. */
  flushMs: number | null;
}

/** Parses a block device's stat file. */
export function parseBlockDeviceStat(text: string): BlockDeviceCounters {
  const fields = text.trim().split(/\s+/).map(Number);
  if (fields.length < 11 || fields.some((f) => !Number.isFinite(f))) throw new Error('not a block device stat line');
  const at = (i: number): number => fields[i] as number;
  const withFlushes = fields.length >= 17;
  return { writes: at(4), busyMs: at(9), flushes: withFlushes ? at(15) : null, flushMs: withFlushes ? at(16) : null };
}

/** Linux's 64-bit device number split into its major and minor parts (glibc's gnu_dev_major / gnu_dev_minor). */
export function majorMinor(dev: number): [number, number] {
  const high = Math.floor(dev / 2 ** 32);
  const low = dev % 2 ** 32;
  const major = (((low >>> 8) & 0xfff) | (high & 0xfffff000)) >>> 0;
  const minor = ((low & 0xff) | ((low >>> 12) & 0xfff00) | ((high & 0xfff) << 20)) >>> 0;
  return [major, minor];
}

/** The stat file of the block device holding `dir`; null for a file system without one (tmpfs) or off Linux. */
export function blockDeviceStatFile(dir: string): string | null {
  try {
    const [major, minor] = majorMinor(fs.statSync(dir).dev);
    const file = `/sys/dev/block/${major}:${minor}/stat`;
    return fs.existsSync(file) ? file : null;
  } catch {
    return null;
  }
}

export function sampleBlockDevice(statFile: string | null): BlockDeviceCounters | null {
  if (statFile === null) return null;
  try {
    return parseBlockDeviceStat(fs.readFileSync(statFile, 'utf8'));
  } catch {
    return null;
  }
}

/** What the device did between two samples. */
export function blockDeviceDelta(from: BlockDeviceCounters, to: BlockDeviceCounters): BlockDeviceCounters {
  const nullable = (a: number | null, b: number | null): number | null => (a === null || b === null ? null : b - a);
  return { writes: to.writes - from.writes, busyMs: to.busyMs - from.busyMs, flushes: nullable(from.flushes, to.flushes), flushMs: nullable(from.flushMs, to.flushMs) };
}
