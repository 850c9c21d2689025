import net from 'node:net';

/** Where Linux's ephemeral range starts (ip_local_port_range 32768-60999): what listen(0) hands out. */
export const EPHEMERAL_START = 32_768;

/**
 * Free TCP ports on 127.0.0.1 from [start, start + size), below the ephemeral range. A port from that
 * range can be taken by any outgoing connection's local end between its pick and its service's bind (a
 * launcher's own connections to PostgreSQL and Redis among them: EADDRINUSE at its start). A port is only
 * checked, not held, until the service binds it, so the picker never hands out one port twice (services
 * are restarted on new ports, and several are picked before any binds). Used by the tests' and the
 * bench's pickers, each with its own ports (test/support/processes.ts, bench/src/lib/lab.ts).
 */
export function portPicker(start: number, size: number): () => Promise<number> {
  if (start < 1024 || size < 1 || start + size > EPHEMERAL_START) throw new Error(`port range ${String(start)}+${String(size)} is not below the ephemeral range`);
  const handedOut = new Set<number>();
  return async () => {
    const offset = Math.floor(Math.random() * size);
    for (let i = 0; i < size; i++) {
      const port = start + ((offset + i) % size);
      if (handedOut.has(port)) continue;
      handedOut.add(port);
      if (await bindable(port)) return port;
    }
    throw new Error(`no free port left in ${String(start)}-${String(start + size - 1)}`);
  };
}

function bindable(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = net.createServer();
    server.once('error', () => resolve(false));
    server.listen(port, '127.0.0.1', () => server.close(() => resolve(true)));
  });
}
