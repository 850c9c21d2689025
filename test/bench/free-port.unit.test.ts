import { BENCH_PORTS, freePort } from '../../bench/src/lib/lab';
import { EPHEMERAL_START, portPicker } from '../../bench/src/lib/free-port';
import { portSlice } from '../support/processes';

// A bench run's launcher once failed to start with EADDRINUSE on its DIMSE port: listen(0) had handed out an
// ephemeral port, which one of the launcher's own outgoing connections took before the listener bound it.
describe('the bench’s free ports', () => {
  it('come from below the ephemeral range and below the tests’ slices, never twice', async () => {
    const ports: number[] = [];
    for (let i = 0; i < 200; i++) ports.push(await freePort());
    expect(new Set(ports).size).toBe(ports.length);
    expect(Math.min(...ports)).toBeGreaterThanOrEqual(BENCH_PORTS.start);
    expect(Math.max(...ports)).toBeLessThan(BENCH_PORTS.start + BENCH_PORTS.size);
    // The first jest worker's slice starts where every other's is above it.
    expect(BENCH_PORTS.start + BENCH_PORTS.size).toBeLessThanOrEqual(portSlice().start - (portSlice().worker - 1) * portSlice().size);
  });

  it('refuses a range that reaches into the ephemeral range or the privileged ports', () => {
    expect(() => portPicker(EPHEMERAL_START - 10, 20)).toThrow(/not below the ephemeral range/);
    expect(() => portPicker(80, 10)).toThrow(/not below the ephemeral range/);
    expect(() => portPicker(20_000, 100)).not.toThrow();
  });
});
