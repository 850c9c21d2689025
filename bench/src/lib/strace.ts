/**
 * The file system calls `bench:explain` counts in the launcher (strace -f -c -e trace=...): what one
 * instance's three copies cost in operations (#14 counted ~60 per instance, 13 of them fsyncs). Sockets
 * are not among them (reads and writes are left out), though `close` also counts the few sockets closed.
 */
export const FILE_SYSCALLS = [
  'openat',
  'close',
  'mkdir',
  'mkdirat',
  'link',
  'linkat',
  'unlink',
  'unlinkat',
  'rename',
  'renameat',
  'renameat2',
  'access',
  'faccessat',
  'faccessat2',
  'statx',
  'newfstatat',
  'fstat',
  'ftruncate',
  'pwrite64',
  'pwritev',
  'fsync',
  'fdatasync',
] as const;

/**
 * Calls per system call from the summary `strace -c` prints when it detaches ("% time seconds usecs/call
 * calls errors syscall" rows; the errors column is empty for a call that never failed). The "total" row
 * is left out.
 */
export function straceCallCounts(summary: string): Map<string, number> {
  const counts = new Map<string, number>();
  for (const m of summary.matchAll(/^\s*[\d.]+\s+[\d.]+\s+\d+\s+(\d+)\s+(?:\d+\s+)?([a-z_0-9]+)\s*$/gm)) {
    const [, calls, name] = m;
    if (name === undefined || name === 'total') continue;
    counts.set(name, (counts.get(name) ?? 0) + Number(calls));
  }
  return counts;
}
