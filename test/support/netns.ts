import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { findExecutable } from './skip';

/**
 * A program run in a private network namespace (`unshare --net`, loopback only), reachable only through
 * Unix sockets this test owns: for peers such as Orthanc that listen on every interface without
 * authentication (see bench/run-in-netns.sh for the same reasoning). Needs root (or user namespaces)
 * and `ip`; `netnsUnavailable()` says why not, for describeUnless.
 */
export function netnsUnavailable(): string | null {
  if (findExecutable('unshare') === null) return 'unshare (util-linux) not installed';
  if (findExecutable('ip') === null && !fs.existsSync('/usr/sbin/ip')) return 'ip (iproute2) not installed';
  if (process.getuid?.() !== 0) return 'not root: cannot create a network namespace (unshare --net)';
  return null;
}

export interface NetnsProgram {
  /** Host-side TCP address (127.0.0.1:port) for each inbound port of the program. */
  hostPort: (insidePort: number) => number;
  output: () => string;
  stop: () => Promise<void>;
}

export interface NetnsOptions {
  /** Ports the program listens on inside the namespace, reachable from the host. */
  inbound: number[];
  /** Ports inside the namespace that lead to host TCP ports: `{ insidePort: hostPort }`. */
  outbound: Record<number, number>;
  command: string[];
}

function relay(listen: (server: net.Server) => void, connect: () => net.Socket): net.Server {
  const server = net.createServer((c) => {
    const upstream = connect();
    c.pipe(upstream);
    upstream.pipe(c);
    c.on('error', () => upstream.destroy());
    upstream.on('error', () => c.destroy());
  });
  listen(server);
  return server;
}

export async function startInNetns(options: NetnsOptions): Promise<NetnsProgram> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'yy-ns-'));
  const servers: net.Server[] = [];
  const inbound = options.inbound.map((port) => ({ socket: path.join(dir, `in-${port}.sock`), port }));
  const outbound = Object.entries(options.outbound).map(([inside, hostPort]) => {
    const socket = path.join(dir, `out-${inside}.sock`);
    servers.push(relay((s) => s.listen(socket), () => net.connect(hostPort, '127.0.0.1')));
    return { port: Number(inside), socket };
  });
  const ip = findExecutable('ip') ?? '/usr/sbin/ip';
  const script = path.join(__dirname, 'netns-bridge.js');
  const spec = JSON.stringify({ inbound, outbound, command: options.command });
  const child: ChildProcess = spawn('unshare', ['--net', '--', 'sh', '-c', `"${ip}" link set lo up && exec "$0" "$@"`, process.execPath, script, spec], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  child.stderr?.on('data', (c: Buffer) => (out += c.toString()));
  await new Promise<void>((resolve, reject) => {
    child.stdout?.on('data', (c: Buffer) => {
      out += c.toString();
      if (out.includes('NETNS_BRIDGE_READY')) resolve();
    });
    child.once('exit', (code) => reject(new Error(`netns program exited (${String(code)}):\n${out.slice(-2000)}`)));
  });
  const hostPorts = new Map<number, number>();
  for (const { socket, port } of inbound) {
    const server = relay((s) => s.listen(0, '127.0.0.1'), () => net.connect(socket));
    await new Promise((r) => server.once('listening', r));
    const address = server.address();
    hostPorts.set(port, typeof address === 'object' && address !== null ? address.port : 0);
    servers.push(server);
  }
  return {
    hostPort: (inside) => hostPorts.get(inside) ?? 0,
    output: () => out,
    stop: async () => {
      if (child.exitCode === null) {
        const exited = new Promise((r) => child.once('exit', r));
        child.kill('SIGTERM');
        await exited;
      }
      for (const s of servers) s.close();
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}
