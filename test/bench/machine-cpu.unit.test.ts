import { machineCpuDelta, parseMachineCpu, sampleMachineCpu } from '../../bench/src/lib/machine-cpu';

describe('bench:explain’s reading of the whole machine’s CPU (/proc/stat)', () => {
  it('sums the busy states, keeps idle and iowait apart, and leaves guest time out (already in user)', () => {
    const stat = ['cpu  1000 20 300 5000 400 10 30 5 700 0', 'cpu0 500 10 150 2500 200 5 15 2 350 0', 'intr 12345'].join('\n');
    expect(parseMachineCpu(stat)).toEqual({ busy: 13.65, idle: 50, iowait: 4 });
    expect(() => parseMachineCpu('intr 1\n')).toThrow(/no aggregate cpu line/);
  });

  it('reads this machine and counts time forward', () => {
    const a = sampleMachineCpu();
    const until = Date.now() + 200;
    while (Date.now() < until) {
      // spin: this process's own work must show as busy time
    }
    const b = sampleMachineCpu();
    if (a === null || b === null) throw new Error('/proc/stat unreadable on this Linux machine');
    const d = machineCpuDelta(a, b);
    // 200 ms of this process's spinning is at least 100 ms of busy core time (ticks of 10 ms, some other work).
    expect(d.busy).toBeGreaterThanOrEqual(0.1);
    expect(d.idle + d.iowait).toBeGreaterThanOrEqual(0);
  });
});
