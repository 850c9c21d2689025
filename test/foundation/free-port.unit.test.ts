import net from 'node:net';
import { freePort, portSlice } from '../support/processes';

// Tests pick a port, then start a service that binds it seconds later; nothing holds the port in between.
// Two picks that meet (within one test, or across jest workers) fail a launcher with EADDRINUSE.
describe('freePort', () => {
  const { start: sliceStart, size: sliceSize } = portSlice();

  function listenOn(port: number): Promise<net.Server> {
    const server = net.createServer();
    return new Promise((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, '127.0.0.1', () => resolve(server));
    });
  }

  it('hands out distinct free ports of its worker slice, below the ephemeral range, passing over ports in use', async () => {
    // Something else listens on every 10th port of the slice.
    const held: net.Server[] = [];
    const heldPorts = new Set<number>();
    for (let port = sliceStart; port < sliceStart + sliceSize; port += 10) {
      held.push(await listenOn(port));
      heldPorts.add(port);
    }
    try {
      const ports: number[] = [];
      for (let i = 0; i < 1000; i++) ports.push(await freePort());
      // With one random pick from a 12,000-port range, 1000 picks repeat a port about 40 times.
      expect(new Set(ports).size).toBe(ports.length);
      expect(ports.filter((port) => heldPorts.has(port))).toEqual([]);
      expect(Math.min(...ports)).toBeGreaterThanOrEqual(sliceStart);
      expect(Math.max(...ports)).toBeLessThan(sliceStart + sliceSize);
      expect(sliceStart + sliceSize).toBeLessThanOrEqual(32_768);
    } finally {
      for (const server of held) await new Promise<void>((resolve) => server.close(() => resolve()));
    }
  });
});
