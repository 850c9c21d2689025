import net from 'node:net';
import tls from 'node:tls';
import { Scp, association as dimseAssociation, type requests } from 'dcmjs-dimse';
import { TransferSyntax, isNativeTransferSyntax } from '@yunying/dicom';
import type { OutboundTls } from './scp.types';
import { acceptedSyntaxesOf, sendStore, SubOperationError, type StorageChannel } from './store-channel';

export interface OutboundStorageOptions {
  host: string;
  port: number;
  callingAe: string;
  calledAe: string;
  /** SOP class -> the transfer syntaxes of the instances to send in it. */
  instances: ReadonlyMap<string, ReadonlySet<string>>;
  /** Connect + A-ASSOCIATE-AC, each C-STORE-RSP, and the A-RELEASE-RP. */
  timeoutMs: number;
  maxPduLength: number;
  /** DICOM TLS (PS3.15 B.1) with the peer's certificate verified; absent: plain TCP. */
  tls?: OutboundTls;
}

/** The destination's TLS certificate did not verify (untrusted issuer, wrong name, expired): no association, nothing sent. */
export class DestinationCertificateError extends SubOperationError {}

/**
 * OpenSSL verification failures as Node reports them (`error.code`), and the hostname mismatch of
 * `tls.checkServerIdentity`: told apart from a refused connection so the failure says which it was.
 */
function isCertificateFailure(error: NodeJS.ErrnoException): boolean {
  const code = error.code ?? '';
  return code === 'ERR_TLS_CERT_ALTNAME_INVALID' || /CERT|SELF_SIGNED|UNABLE_TO_(GET|VERIFY)|ISSUER/.test(code);
}

/** TCP, or TLS 1.2+ with the certificate verified against the given CA (or the system's) and name. */
function connect(options: OutboundAssociationOptions): { socket: net.Socket; connectEvent: 'connect' | 'secureConnect' } {
  if (options.tls === undefined) return { socket: net.connect({ host: options.host, port: options.port }), connectEvent: 'connect' };
  const servername = options.tls.serverName ?? options.host;
  const socket = tls.connect({
    host: options.host,
    port: options.port,
    // Never false: a destination that cannot prove who it is gets no patient data.
    rejectUnauthorized: true,
    minVersion: 'TLSv1.2',
    ...(options.tls.caPem !== undefined ? { ca: options.tls.caPem } : {}),
    // SNI is for DNS names only (RFC 6066 3); the identity check below uses `servername` either way.
    ...(net.isIP(servername) === 0 ? { servername } : {}),
    checkServerIdentity: (_host, cert) => tls.checkServerIdentity(servername, cert),
  });
  return { socket, connectEvent: 'secureConnect' };
}

/** An association the archive opened as Storage SCU (a C-MOVE destination). */
export interface OutboundStorage extends StorageChannel {
  /** A-RELEASE (bounded); the socket is closed either way. */
  release(): Promise<void>;
  /** A-ABORT and close. */
  abort(): void;
}

/** PS3.8 9.3.2.2: at most 128 presentation contexts (odd ids 1..255). */
const MAX_CONTEXTS = 128;

/**
 * The presentation contexts proposed for a set of instances: per SOP class, one context per stored
 * compressed syntax (a destination may accept one and refuse another), and one with Explicit and
 * Implicit VR LE for the native ones (either can be sent: see chooseOutgoingSyntax).
 */
export function proposedContexts(instances: ReadonlyMap<string, ReadonlySet<string>>): Array<{ sopClassUid: string; transferSyntaxUids: string[] }> {
  const out: Array<{ sopClassUid: string; transferSyntaxUids: string[] }> = [];
  for (const [sopClassUid, syntaxes] of instances) {
    const native = [...syntaxes].some((uid) => isNativeTransferSyntax(uid));
    if (native) out.push({ sopClassUid, transferSyntaxUids: [TransferSyntax.ExplicitVRLittleEndian, TransferSyntax.ImplicitVRLittleEndian] });
    for (const uid of syntaxes) if (!isNativeTransferSyntax(uid)) out.push({ sopClassUid, transferSyntaxUids: [uid] });
  }
  return out.slice(0, MAX_CONTEXTS);
}

/** One presentation context proposed by the archive as requestor, with an SCP/SCU Role Selection item when `role` is set (PS3.7 D.3.3.4). */
export interface OutboundContext {
  sopClassUid: string;
  transferSyntaxUids: string[];
  role?: { scu: boolean; scp: boolean };
}

/** An association the archive opened, accepted by the peer. */
export interface OutboundAssociation {
  assoc: dimseAssociation.Association;
  /** Sends requests on it (dcmjs-dimse raises 'response' on each request). */
  network: Scp;
  /** Aborted when the connection closes. */
  ended: AbortSignal;
  /** A-RELEASE (bounded); the socket is closed either way. */
  release(): Promise<void>;
  /** A-ABORT and close. */
  abort(): void;
}

export type OutboundAssociationOptions = Omit<OutboundStorageOptions, 'instances'>;

/**
 * Opens an association to `host:port` with the given contexts over dcmjs-dimse's Network (the library's
 * Scp class, used here as the requestor: its Client would want every request, with its dataset, before
 * connecting). Resolves once accepted; rejects on refusal, abort, connection error or timeout, leaving
 * nothing open.
 */
export function openAssociation(options: OutboundAssociationOptions, contexts: readonly OutboundContext[]): Promise<OutboundAssociation> {
  const assoc = new dimseAssociation.Association(options.callingAe, options.calledAe);
  for (const context of contexts) {
    const id = assoc.addPresentationContext(context.sopClassUid);
    for (const uid of context.transferSyntaxUids) assoc.addTransferSyntaxToPresentationContext(id, uid);
    if (context.role !== undefined) {
      const proposed = assoc.getPresentationContext(id);
      proposed.setUserRole(context.role.scu);
      proposed.setProviderRole(context.role.scp);
    }
  }
  assoc.setMaxPduLength(options.maxPduLength);

  const { socket, connectEvent } = connect(options);
  socket.setNoDelay(true);
  const network = new Scp(socket, { connectTimeout: options.timeoutMs, associationTimeout: options.timeoutMs, pduTimeout: options.timeoutMs });
  const ended = new AbortController();
  socket.once('close', () => ended.abort());

  return new Promise<OutboundAssociation>((resolve, reject) => {
    const fail = (why: string | SubOperationError): void => {
      clearTimeout(timer);
      socket.destroy();
      reject(typeof why === 'string' ? new SubOperationError(why) : why);
    };
    const timer = setTimeout(() => fail('no A-ASSOCIATE-AC in time'), options.timeoutMs);
    socket.once(connectEvent, () => network.sendAssociationRequest(assoc));
    // Ahead of dcmjs-dimse's own listener (its 'networkError' says only "network error"): the reason comes from here.
    socket.prependOnceListener('error', (error: NodeJS.ErrnoException) =>
      fail(options.tls !== undefined && isCertificateFailure(error) ? new DestinationCertificateError(`TLS certificate of the destination not verified: ${error.code ?? error.message}`) : `cannot connect: ${error.message}`),
    );
    network.on('associationRejected', () => fail('association rejected by the destination'));
    network.on('abort', () => fail('association aborted by the destination'));
    network.on('networkError', () => fail('network error'));
    network.on('associationAccepted', () => {
      clearTimeout(timer);
      resolve({
        assoc,
        network,
        ended: ended.signal,
        release: () => release(network, socket, ended.signal, options.timeoutMs),
        abort: () => {
          if (!socket.destroyed) network.sendAbort();
          socket.destroy();
        },
      });
    });
  });
}

/** A Storage SCU association for a C-MOVE's sub-operations, proposing what `instances` need. */
export async function openStorageAssociation(options: OutboundStorageOptions): Promise<OutboundStorage> {
  const outbound = await openAssociation(options, proposedContexts(options.instances));
  return {
    acceptedSyntaxes: (sopClassUid) => acceptedSyntaxesOf(outbound.assoc, sopClassUid),
    store: (request: requests.CStoreRequest) => sendStore(outbound.network, request, options.timeoutMs, outbound.ended),
    release: () => outbound.release(),
    abort: () => outbound.abort(),
  };
}

function release(network: Scp, socket: net.Socket, ended: AbortSignal, timeoutMs: number): Promise<void> {
  if (ended.aborted) return Promise.resolve();
  return new Promise<void>((resolve) => {
    const done = (): void => {
      clearTimeout(timer);
      socket.end();
      setTimeout(() => socket.destroy(), 1_000).unref();
      resolve();
    };
    const timer = setTimeout(done, timeoutMs);
    network.on('associationReleaseResponse', done);
    ended.addEventListener('abort', done, { once: true });
    network.sendAssociationReleaseRequest();
  });
}
