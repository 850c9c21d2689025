import fs from 'node:fs';
import http from 'node:http';
import type net from 'node:net';
import { describeError, type Logger } from '@yunying/core';
import { StowClient } from '../archive/stow.client';
import type { GatewayConfig } from '../config';
import { Forwarder } from './forwarder';
import { gatewayMetrics } from './gateway.metrics';
import { Spool, readSpoolStatus, type GatewayState } from './spool';
import { startSpoolScp } from './spool.scp';

/**
 * `yunying gateway`: the spool, its SCP (DICOM in), its forwarder (STOW-RS out) and a small local HTTP
 * server with GET /status (JSON, the same shape as `yunying status --json`) and GET /metrics.
 */
export interface RunningGateway {
  dimsePort: number;
  httpPort: number;
  close(): Promise<void>;
}

async function listen(server: net.Server, port: number, host: string): Promise<number> {
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const address = server.address();
  return typeof address === 'object' && address !== null ? address.port : port;
}

export async function startGateway(config: GatewayConfig, logger: Logger, userAgent: string): Promise<RunningGateway> {
  const limitBytes = Math.round(config.spoolLimitMb * 1024 * 1024);
  const spool = await Spool.open(config.spool, limitBytes, config.sentLogKeep);
  const alarms = new Set<string>();
  let forwarder: Forwarder | undefined = undefined;
  const metrics = gatewayMetrics(spool, () => forwarder?.state.reachable ?? null);
  const startedAt = new Date().toISOString();

  const writeState = (): void => {
    const state: GatewayState = {
      pid: process.pid,
      startedAt,
      limitBytes,
      alarms: [...alarms],
      archive: {
        reachable: forwarder?.state.reachable ?? null,
        lastError: forwarder?.state.lastError ?? null,
        lastErrorAt: forwarder?.state.lastErrorAt ?? null,
        lastSuccessAt: forwarder?.state.lastSuccessAt ?? null,
        nextAttemptAt: forwarder?.state.nextAttemptAt ?? null,
      },
    };
    if (forwarder?.state.authRefused) state.alarms.push('api_key_refused');
    // Informational only (`status` reads it); a torn write is impossible with rename, a lost one harmless.
    const temp = `${spool.dirs.state}.tmp`;
    try {
      fs.writeFileSync(temp, JSON.stringify(state, null, 2));
      fs.renameSync(temp, spool.dirs.state);
    } catch (error) {
      logger.warn({ err: describeError(error) }, 'could not write gateway.json');
    }
  };

  const checkSpoolAlarm = (): void => {
    // Cleared once there is room again for a tenth of the limit, so the alarm does not flap.
    if (alarms.has('spool_full') && spool.bytes() < limitBytes * 0.9) {
      alarms.delete('spool_full');
      metrics.spoolFull.set(0);
      logger.warn('spool below its limit again: accepting C-STOREs');
      writeState();
    }
  };

  const client = new StowClient({ ingestUrl: config.archive, apiKey: config.apiKey, timeoutMs: config.timeout * 1000, userAgent });
  forwarder = new Forwarder(
    spool,
    client,
    {
      batchFiles: config.batchFiles,
      batchBytes: config.batchMb * 1024 * 1024,
      concurrency: config.concurrency,
      baseBackoffMs: 1000,
      maxBackoffMs: config.maxBackoff * 1000,
      idlePollMs: 5000,
    },
    metrics,
    logger.child({ component: 'forwarder' }),
    () => {
      checkSpoolAlarm();
      writeState();
    },
  );

  // --- status and metrics ---
  const statusServer = http.createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://localhost');
    const send = (status: number, type: string, body: string): void => {
      res.writeHead(status, { 'content-type': type, 'cache-control': 'no-store' });
      res.end(body);
    };
    if (req.method !== 'GET') return send(405, 'text/plain', 'GET only\n');
    if (url.pathname === '/metrics') {
      metrics.refresh();
      metrics.registry.metrics().then(
        (text) => send(200, metrics.registry.contentType, text),
        (error: unknown) => send(500, 'text/plain', `${describeError(error)}\n`),
      );
      return;
    }
    if (url.pathname === '/status') {
      readSpoolStatus(config.spool).then(
        (status) => send(200, 'application/json', JSON.stringify({ ...status, alarms: [...alarms, ...(forwarder?.state.authRefused ? ['api_key_refused'] : [])], archive: forwarder?.state }, null, 2)),
        (error: unknown) => send(500, 'text/plain', `${describeError(error)}\n`),
      );
      return;
    }
    if (url.pathname === '/healthz') return send(200, 'text/plain', 'ok\n');
    send(404, 'text/plain', 'not found: try /status or /metrics\n');
  });

  // --- DICOM in ---
  const dimse = await startSpoolScp({
    host: config.dimseHost,
    port: config.dimsePort,
    allowedCallingAe: config.allowedAe,
    maxOperationsInvoked: config.maxOperations,
    spool,
    metrics,
    logger: logger.child({ component: 'scp' }),
    onSpoolFull: () => {
      metrics.spoolFull.set(1);
      if (!alarms.has('spool_full')) {
        alarms.add('spool_full');
        logger.error({ alarm: 'spool_full', bytes: spool.bytes(), limitBytes }, 'ALARM: spool full: refusing C-STOREs with 0xA700 until the archive takes the queue');
        writeState();
      }
    },
  });
  const dimsePort = dimse.port;
  const httpPort = await listen(statusServer, config.httpPort, config.httpHost);
  metrics.refresh();
  writeState();
  forwarder.start();
  logger.info({ dimsePort, httpPort, aeTitle: config.aeTitle, pending: spool.pendingFiles().length, limitBytes }, 'gateway started');

  return {
    dimsePort,
    httpPort,
    close: async () => {
      await dimse.close();
      await forwarder?.stop();
      client.close();
      await new Promise<void>((resolve) => statusServer.close(() => resolve()));
      spool.close();
      logger.info('gateway stopped');
    },
  };
}
