import net from 'node:net';
import type { Registry } from 'prom-client';
import { Implementation, log as dimseLibraryLog } from 'dcmjs-dimse';
import { describeError, type Logger } from '@yunying/core';
import type { Pool } from '@yunying/catalog';
import type { IngestPipeline } from '../ingest.pipeline';
import { dimseMetrics } from './dimse.metrics';
import { YunyingScp, type ScpEnvironment, type ScpSettings } from './dimse.scp';
import { IMPLEMENTATION_CLASS_UID, IMPLEMENTATION_VERSION_NAME } from './part10';

export interface DimseServerOptions {
  host: string;
  /** 0 picks an ephemeral port (tests). */
  port: number;
  /** This SCP's AE title; checked against the called AE title only when `checkCalledAe`. */
  aeTitle: string;
  /**
   * Refuse associations whose called AE title is not `aeTitle`. Off by default: senders are identified by
   * their calling AE title, and modalities are often configured with whatever called AE the installer typed.
   */
  checkCalledAe: boolean;
  pool: Pool;
  pipeline: Pick<IngestPipeline, 'ingest'>;
  logger: Logger;
  metrics: Registry;
  /** The largest P-DATA PDU we accept (A-ASSOCIATE-AC Maximum Length). Default 256 KiB. */
  maxPduLength?: number;
  /** From connecting to our answer to the A-ASSOCIATE-RQ. Default 30 s. */
  associationTimeoutMs?: number;
  /** Peer silence on an association while nothing of ours is pending. Default 60 s. */
  pduTimeoutMs?: number;
  /** One instance through the pipeline; past it the C-STORE is answered 0xA700. Default 60 s. */
  storeTimeoutMs?: number;
  /** Largest dataset accepted; a larger one is drained and answered 0xA700. Default 1 GiB. */
  maxInstanceBytes?: number;
}

export interface DimseServer {
  port: number;
  /** Stops accepting, lets C-STOREs in flight finish (bounded), aborts the remaining associations. */
  close(): Promise<void>;
}

const DEFAULTS = {
  maxPduLength: 256 * 1024,
  associationTimeoutMs: 30_000,
  pduTimeoutMs: 60_000,
  storeTimeoutMs: 60_000,
  maxInstanceBytes: 1024 * 1024 * 1024,
  artimMs: 5_000,
};

/**
 * The DICOM upper layer listener (PS3.8) on `host:port`. dcmjs-dimse's Server binds every interface and
 * has no host parameter, so the TCP server is ours and each socket gets a YunyingScp as its Server would.
 */
export async function startDimseServer(options: DimseServerOptions): Promise<DimseServer> {
  const settings: ScpSettings = {
    aeTitle: options.aeTitle,
    checkCalledAe: options.checkCalledAe,
    maxPduLength: options.maxPduLength ?? DEFAULTS.maxPduLength,
    associationTimeoutMs: options.associationTimeoutMs ?? DEFAULTS.associationTimeoutMs,
    pduTimeoutMs: options.pduTimeoutMs ?? DEFAULTS.pduTimeoutMs,
    storeTimeoutMs: options.storeTimeoutMs ?? DEFAULTS.storeTimeoutMs,
    maxInstanceBytes: options.maxInstanceBytes ?? DEFAULTS.maxInstanceBytes,
    artimMs: Math.min(DEFAULTS.artimMs, options.pduTimeoutMs ?? DEFAULTS.artimMs),
  };
  const logger = options.logger.child({ component: 'dimse' });
  // dcmjs-dimse logs every PDU to the console at trace level by default; our logger says what matters.
  dimseLibraryLog.setLevel('silent');
  Implementation.setImplementationClassUid(IMPLEMENTATION_CLASS_UID);
  Implementation.setImplementationVersion(IMPLEMENTATION_VERSION_NAME);

  const connections = new Set<YunyingScp>();
  const background = new Set<Promise<unknown>>();
  let closing = false;
  const env: ScpEnvironment = {
    settings,
    pool: options.pool,
    pipeline: options.pipeline,
    logger,
    metrics: dimseMetrics(options.metrics),
    isClosing: () => closing,
    track: (work) => {
      const settled = work.then(
        () => undefined,
        () => undefined,
      );
      background.add(settled);
      void settled.then(() => background.delete(settled));
    },
  };

  const server = net.createServer({ noDelay: true }, (socket) => {
    if (closing) {
      socket.destroy();
      return;
    }
    socket.setNoDelay(true);
    const scp = new YunyingScp(socket, env);
    connections.add(scp);
    socket.once('close', () => connections.delete(scp));
  });
  server.on('error', (error) => logger.error({ err: describeError(error) }, 'DIMSE listener error'));

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port, options.host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const address = server.address();
  const port = typeof address === 'object' && address !== null ? address.port : options.port;
  logger.info({ host: options.host, port, aeTitle: settings.aeTitle, checkCalledAe: settings.checkCalledAe }, 'DIMSE SCP listening');

  let closed: Promise<void> | undefined;
  const close = async (): Promise<void> => {
    closing = true;
    const stopped = new Promise<void>((resolve) => server.close(() => resolve()));
    const scps = [...connections];
    await Promise.all(scps.map((scp) => scp.shutdown()));
    // Audit writes, and ingests that outlived their answer, finish before the caller closes the pool.
    await boundedAll([...background], settings.storeTimeoutMs);
    await boundedAll(scps.map((scp) => scp.closed()), settings.artimMs + 1_000);
    await stopped;
    logger.info('DIMSE SCP closed');
  };
  return {
    port,
    close: () => (closed ??= close()),
  };
}

async function boundedAll(work: Promise<unknown>[], ms: number): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  await Promise.race([Promise.allSettled(work), new Promise<void>((resolve) => (timer = setTimeout(resolve, ms)))]);
  clearTimeout(timer);
}
