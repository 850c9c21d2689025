import { blockDeviceDelta, blockDeviceStatFile, majorMinor, parseBlockDeviceStat } from '../../bench/src/lib/block-device';

describe('bench:explain’s reading of the disk under its work directory (/sys/dev/block/*/stat)', () => {
  it('reads writes, busy time and flushes from a kernel’s stat line, and flushes as unknown from an older kernel’s', () => {
    // A virtio disk's line on the 2-core machine (kernel 6.18): reads ... writes ... discards ... flushes.
    const line = '  668268    36789 11878426    97123   657307  3928347 122726088  2100502        0   465640  2609471  3113857       27 102329216   350356   125247    61489\n';
    expect(parseBlockDeviceStat(line)).toEqual({ writes: 657307, busyMs: 465640, flushes: 125247, flushMs: 61489 });
    expect(parseBlockDeviceStat('1 2 3 4 5 6 7 8 0 10 11')).toEqual({ writes: 5, busyMs: 10, flushes: null, flushMs: null });
    expect(() => parseBlockDeviceStat('1 2 3')).toThrow(/not a block device stat line/);
    expect(() => parseBlockDeviceStat('cpu 1 2 3 4 5 6 7 8 9 10 11')).toThrow(/not a block device stat line/);
  });

  it('takes differences, and keeps a flush count unknown when either reading lacks it', () => {
    const before = { writes: 100, busyMs: 50, flushes: 10, flushMs: 5 };
    expect(blockDeviceDelta(before, { writes: 160, busyMs: 80, flushes: 19, flushMs: 11 })).toEqual({ writes: 60, busyMs: 30, flushes: 9, flushMs: 6 });
    expect(blockDeviceDelta(before, { writes: 160, busyMs: 80, flushes: null, flushMs: null })).toEqual({ writes: 60, busyMs: 30, flushes: null, flushMs: null });
  });

  it('splits device numbers as glibc does, beyond 8 bits of minor and 12 of major', () => {
    expect(majorMinor(65024)).toEqual([254, 0]);
    expect(majorMinor((8 << 8) | 17)).toEqual([8, 17]);
    // makedev(259, 300): minor's low byte, major << 8, minor's upper bits << 12.
    expect(majorMinor(44 + (259 << 8) + (256 << 12))).toEqual([259, 300]);
    // makedev(5000, 0): major's bits above 12 sit above bit 32.
    expect(majorMinor(4096 * 2 ** 32 + (904 << 8))).toEqual([5000, 0]);
  });

  it('finds no device for a directory that is not there', () => {
    expect(blockDeviceStatFile('/nonexistent/yunying-bench')).toBeNull();
  });
});
