import { spawn, type ChildProcess } from 'node:child_process';
import { findExecutable } from './skip';

/** Debian's redis-server, or null when it is not installed. */
export const redisServerBinary = (): string | null => findExecutable('redis-server');

export interface PrivateRedis {
  url: string;
  port: number;
  child: ChildProcess;
}

/**
 * A redis-server of a test's own on loopback: no persistence, or (`aofDir`) an append-only file there with
 * fsync every second, as production runs it (infra/deploy).
 */
export async function startRedis(port: number, aofDir?: string): Promise<PrivateRedis> {
  const persistence = aofDir === undefined ? ['--appendonly', 'no'] : ['--appendonly', 'yes', '--appendfsync', 'everysec', '--dir', aofDir];
  const child = spawn(redisServerBinary() ?? 'redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', ...persistence], { stdio: ['ignore', 'pipe', 'pipe'] });
  await new Promise<void>((resolve, reject) => {
    let out = '';
    child.stdout?.on('data', (chunk: Buffer) => {
      out += chunk.toString();
      if (out.includes('Ready to accept connections')) resolve();
    });
    child.once('exit', (code) => reject(new Error(`redis-server exited (${String(code)}): ${out}`)));
  });
  return { url: `redis://127.0.0.1:${port}`, port, child };
}

/** kill -9: no shutdown save, as a crash would end it. */
export async function stopRedis(redis: PrivateRedis): Promise<void> {
  if (redis.child.exitCode !== null || redis.child.signalCode !== null) return;
  const exited = new Promise((resolve) => redis.child.once('exit', resolve));
  redis.child.kill('SIGKILL');
  await exited;
}
