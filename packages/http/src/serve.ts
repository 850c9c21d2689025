import http from 'node:http';
import type { Express } from 'express';
import type { Logger } from '@yunying/core';
import { applyServerLimits, DEFAULT_SERVER_LIMITS, type ServerLimits } from './server-guards';

export interface RunningServer {
  server: http.Server;
  port: number;
  url: string;
  /** Stops accepting, lets in-flight requests finish (bounded by graceMs), then closes idle sockets. */
  close: (graceMs: number) => Promise<void>;
}

export async function listen(app: Express, host: string, port: number, logger: Logger, limits: Partial<ServerLimits> = {}): Promise<RunningServer> {
  // connectionsCheckingInterval: how often Node enforces headersTimeout / requestTimeout (default 30 s).
  const server = http.createServer({ connectionsCheckingInterval: 1000 }, app);
  // Long STOW-RS uploads over slow clinic links are allowed (requestMs: 2 h), but not stalled ones.
  applyServerLimits(server, { ...DEFAULT_SERVER_LIMITS, ...limits });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const address = server.address();
  const boundPort = typeof address === 'object' && address !== null ? address.port : port;
  const url = `http://${host.includes(':') ? `[${host}]` : host}:${boundPort}`;
  logger.info({ url }, 'listening');
  return {
    server,
    port: boundPort,
    url,
    close: (graceMs) =>
      new Promise<void>((resolve) => {
        const timer = setTimeout(() => {
          logger.warn('grace period over: closing remaining connections');
          server.closeAllConnections();
        }, graceMs);
        timer.unref();
        server.close(() => {
          clearTimeout(timer);
          resolve();
        });
        server.closeIdleConnections();
      }),
  };
}
