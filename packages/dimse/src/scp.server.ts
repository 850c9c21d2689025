import net from 'node:net';
import tls from 'node:tls';
import { Implementation, log as dimseLibraryLog } from 'dcmjs-dimse';
import { describeError, type Logger } from '@yunying/core';
import { AssociationScp, type ScpEnvironment, type ScpSettings } from './association.scp';
import type { ImplementationIdentity } from './part10';
import type { AssociationDecision, AssociationRequest, CommitmentHandler, FindHandler, RetrieveHandler, ScpObserver, StoreHandler } from './scp.types';

export interface ScpServerOptions<S> {
  host: string;
  /** 0 picks an ephemeral port (tests). */
  port: number;
  /** Sent in the A-ASSOCIATE-AC and written into every Part 10 header. */
  implementation: ImplementationIdentity;
  /** This SCP's AE title: the calling AE of the associations it opens to C-MOVE destinations. Default: the called AE title of the C-MOVE's association. */
  aeTitle?: string;
  logger: Logger;
  /**
   * Accept or reject an association (calling AE -> sender). Must bound its own waits (the association
   * timer only covers the wait for the A-ASSOCIATE-RQ); a throw becomes a transient rejection.
   */
  onAssociation(request: AssociationRequest): Promise<AssociationDecision<S>> | AssociationDecision<S>;
  /**
   * Store one instance and say how it went. Called only for a dataset that arrived whole on an accepted
   * context whose abstract syntax is the command's SOP class, within the size limit, while not closing.
   * A throw is answered by `answerForException` (0xC000 for a non-retryable AppError, else 0xA700).
   */
  onStore: StoreHandler<S>;
  /** Query/Retrieve FIND SCP (Patient Root, Study Root). Without it their contexts are refused. */
  onFind?: FindHandler<S>;
  /**
   * Query/Retrieve GET and MOVE SCP (Patient Root, Study Root): plans each retrieve (which instances,
   * which destination); the SCP runs the storage sub-operations. Without it their contexts are refused.
   */
  onRetrieve?: RetrieveHandler<S>;
  /** Storage Commitment Push Model SCP: says which referenced instances are committed. Without it its context is refused. */
  onCommitment?: CommitmentHandler<S>;
  /** The most references one Storage Commitment request may name (then 0x0213). Default 10 000. */
  maxCommitmentReferences?: number;
  /** (0000,0902) of the 0xA700 answered to a C-STORE that arrives while the server shuts down. */
  shuttingDownComment: string;
  observer?: ScpObserver;
  /** The largest P-DATA PDU we accept (A-ASSOCIATE-AC Maximum Length). Default 256 KiB. */
  maxPduLength?: number;
  /** From connecting to the A-ASSOCIATE-RQ. Default 30 s. */
  associationTimeoutMs?: number;
  /** Peer silence on an association while nothing of ours is pending. Default 60 s. */
  pduTimeoutMs?: number;
  /** One `onStore`; past it the C-STORE is answered 0xA700 (the work may still finish). Default: not bounded here. */
  storeTimeoutMs?: number;
  /** Largest dataset accepted; a larger one is drained and answered 0xA700. Default 1 GiB. */
  maxInstanceBytes?: number;
  /** A second listener for DICOM TLS (PS3.15 B.1) on the same host; its associations carry `tls`. */
  tls?: ScpTlsOptions;
  /**
   * Asynchronous operations window (PS3.7 D.3.3.3): how many C-STOREs a requestor that proposes a window
   * may have outstanding on one association (each answered when its own `onStore` is). Default 1 (synchronous).
   */
  maxOperationsInvoked?: number;
}

/**
 * DICOM TLS (PS3.15 B.1, BCP 195): TLS 1.2 or 1.3 only, the server's certificate and key, and the CA that
 * client certificates must chain to. A client certificate is requested; one that is absent or does not
 * verify does not end the handshake: the association then arrives with `tls.authorized` false and the
 * service rejects it with an A-ASSOCIATE-RJ it can audit (a failed handshake would leave no record).
 */
export interface ScpTlsOptions {
  /** 0 picks an ephemeral port (tests). */
  port: number;
  key: string | Buffer;
  cert: string | Buffer;
  ca: string | Buffer;
}

export interface ScpServer {
  port: number;
  /** The DICOM TLS port; null without `tls`. */
  tlsPort: number | null;
  /**
   * Stops accepting, lets C-STOREs in flight finish (bounded when `storeTimeoutMs` is set), aborts the
   * remaining associations, waits (bounded) for tracked background work and for the sockets to close.
   */
  close(): Promise<void>;
}

export const SCP_DEFAULTS = {
  maxPduLength: 256 * 1024,
  associationTimeoutMs: 30_000,
  pduTimeoutMs: 60_000,
  maxInstanceBytes: 1024 * 1024 * 1024,
  artimMs: 5_000,
};

const NO_OBSERVER: ScpObserver = {
  associationDecided: () => undefined,
  associationEnded: () => undefined,
  storeAnswered: () => undefined,
};

/**
 * The DICOM upper layer listener (PS3.8) on `host:port`. dcmjs-dimse's Server binds every interface and
 * has no host parameter, so the TCP server is ours and each socket gets an AssociationScp as its Server would.
 */
export async function startScpServer<S>(options: ScpServerOptions<S>): Promise<ScpServer> {
  const pduTimeoutMs = options.pduTimeoutMs ?? SCP_DEFAULTS.pduTimeoutMs;
  const settings: ScpSettings = {
    maxPduLength: options.maxPduLength ?? SCP_DEFAULTS.maxPduLength,
    associationTimeoutMs: options.associationTimeoutMs ?? SCP_DEFAULTS.associationTimeoutMs,
    pduTimeoutMs,
    storeTimeoutMs: options.storeTimeoutMs,
    maxInstanceBytes: options.maxInstanceBytes ?? SCP_DEFAULTS.maxInstanceBytes,
    artimMs: Math.min(SCP_DEFAULTS.artimMs, pduTimeoutMs),
    implementation: options.implementation,
    aeTitle: options.aeTitle,
    shuttingDownComment: options.shuttingDownComment,
    maxOperationsInvoked: Math.max(1, Math.floor(options.maxOperationsInvoked ?? 1)),
  };
  const { logger } = options;
  // dcmjs-dimse logs every PDU to the console at trace level by default; our logger says what matters.
  dimseLibraryLog.setLevel('silent');
  // Process-wide in dcmjs-dimse: one implementation identity per process (each service runs one SCP).
  Implementation.setImplementationClassUid(settings.implementation.classUid);
  Implementation.setImplementationVersion(settings.implementation.versionName);

  const connections = new Set<AssociationScp<S>>();
  const background = new Set<Promise<unknown>>();
  let closing = false;
  const env: ScpEnvironment<S> = {
    settings,
    logger,
    observer: options.observer ?? NO_OBSERVER,
    decide: (request) => options.onAssociation(request),
    store: (instance, context) => options.onStore(instance, context),
    find: options.onFind,
    retrieve: options.onRetrieve,
    commitment: options.onCommitment,
    maxCommitmentReferences: options.maxCommitmentReferences ?? 10_000,
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

  const onSocket = (socket: net.Socket): void => {
    if (closing) {
      socket.destroy();
      return;
    }
    socket.setNoDelay(true);
    const scp = new AssociationScp(socket, env);
    connections.add(scp);
    socket.once('close', () => connections.delete(scp));
  };
  const server = net.createServer({ noDelay: true }, onSocket);
  server.on('error', (error) => logger.error({ err: describeError(error) }, 'DIMSE listener error'));
  const port = await listenOn(server, options.port, options.host);

  let tlsServer: tls.Server | null = null;
  let tlsPort: number | null = null;
  if (options.tls) {
    tlsServer = tls.createServer(
      {
        key: options.tls.key,
        cert: options.tls.cert,
        ca: options.tls.ca,
        minVersion: 'TLSv1.2',
        requestCert: true,
        rejectUnauthorized: false,
        // The AssociationScp's own timers bound the wait for the A-ASSOCIATE-RQ; this bounds the handshake.
        handshakeTimeout: settings.associationTimeoutMs,
      },
      onSocket,
    );
    tlsServer.on('error', (error) => logger.error({ err: describeError(error) }, 'DICOM TLS listener error'));
    // No certificate details of the peer: only that the handshake failed and why (e.g. no shared protocol).
    tlsServer.on('tlsClientError', (error, socket) => logger.warn({ err: describeError(error), remote: socket.remoteAddress }, 'DICOM TLS handshake failed'));
    tlsPort = await listenOn(tlsServer, options.tls.port, options.host);
  }

  let closed: Promise<void> | undefined;
  const close = async (): Promise<void> => {
    closing = true;
    const stopped = Promise.all([server, ...(tlsServer ? [tlsServer] : [])].map((s) => new Promise<void>((resolve) => s.close(() => resolve()))));
    const scps = [...connections];
    await Promise.all(scps.map((scp) => scp.shutdown()));
    // Audit writes, and stores that outlived their answer, finish before the caller closes what they use.
    await boundedAll([...background], settings.storeTimeoutMs ?? settings.artimMs);
    await boundedAll(
      scps.map((scp) => scp.closed()),
      settings.artimMs + 1_000,
    );
    await stopped;
  };
  return {
    port,
    tlsPort,
    close: () => (closed ??= close()),
  };
}

async function listenOn(server: net.Server, port: number, host: string): Promise<number> {
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

async function boundedAll(work: Promise<unknown>[], ms: number): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  await Promise.race([Promise.allSettled(work), new Promise<void>((resolve) => (timer = setTimeout(resolve, ms)))]);
  clearTimeout(timer);
}
