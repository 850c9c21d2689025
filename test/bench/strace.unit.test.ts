import { straceCallCounts } from '../../bench/src/lib/strace';

describe('bench:explain’s count of file system calls (strace -c summary)', () => {
  it('reads calls per system call, with and without an errors column, and leaves out the total', () => {
    // As strace 6.1 prints it for `strace -f -c -e trace=openat,close,access node -e ...`.
    const summary = [
      'strace: Process 19090 attached',
      '% time     seconds  usecs/call     calls    errors syscall',
      '------ ----------- ----------- --------- --------- ----------------',
      ' 69.46    0.000116           4        27           close',
      ' 30.54    0.000051           2        18         1 openat',
      '  0.00    0.000000           0         2         2 access',
      '------ ----------- ----------- --------- --------- ----------------',
      '100.00    0.000167           3        47         3 total',
    ].join('\n');
    expect(Object.fromEntries(straceCallCounts(summary))).toEqual({ close: 27, openat: 18, access: 2 });
    expect(straceCallCounts('strace: Process 1 attached\n').size).toBe(0);
  });
});
