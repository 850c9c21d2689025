import type { Socket } from 'node:net';
import { Writable } from 'node:stream';
import { Dataset, Scp, constants, responses, type association, type requests } from 'dcmjs-dimse';
import { describeError, type Logger } from '@yunying/core';
import type { GatewayMetrics } from './gateway.metrics';
import { negotiate } from './negotiation';
import { part10Header } from './part10';
import type { Spool } from './spool';

/**
 * One association from a clinic modality (PS3.8 upper layer, PS3.7 DIMSE, PS3.4 Annex A Verification and
 * Annex B Storage, SCP role) over dcmjs-dimse's Scp. The patterns are those of the archive's SCP
 * (services/ingest/src/dimse/dimse.scp.ts): the dataset's raw bytes are collected instead of parsed,
 * every C-STORE gets a response, every wait is bounded, A-RELEASE / A-ABORT / a bare close are handled.
 *
 * What is particular to the gateway: C-STORE success (0x0000) is sent only after the instance is durable
 * in the spool (Spool.put: fsync + rename + fsync of the folder). When the spool is over its limit, or the
 * write fails, the answer is 0xA700 (Refused: Out of Resources), which modalities treat as "retry later".
 * The dataset is not validated here: the archive does that, and a refusal lands in failed/ with its reason.
 * Not implemented: C-FIND/C-MOVE/C-GET/N-* (answered "unrecognized operation"), TLS, storage commitment.
 */

const { AbortReason, AbortSource, PresentationContextResult, RejectReason, RejectResult, RejectSource, Status } = constants;

export const StoreStatus = { Success: 0x0000, OutOfResources: 0xa700, SopClassNotSupported: 0x0122, CannotUnderstand: 0xc000 } as const;

export interface ScpSettings {
  aeTitle: string;
  /** Calling AE titles accepted; empty accepts any. */
  allowedCallingAe: readonly string[];
  maxPduLength: number;
  associationTimeoutMs: number;
  idleTimeoutMs: number;
  maxInstanceBytes: number;
  artimMs: number;
}

export interface ScpEnvironment {
  settings: ScpSettings;
  spool: Spool;
  metrics: GatewayMetrics;
  logger: Logger;
  /** Called when a C-STORE is refused because the spool is full (raises the alarm). */
  onSpoolFull(): void;
  isClosing(): boolean;
}

interface ReceivingContext {
  abstractSyntaxUid: string;
  transferSyntaxUid: string;
}

/** Collects the dataset bytes as received; past the limit it only counts, so the SCU still gets its answer. */
class DatasetSink extends Writable {
  readonly chunks: Buffer[] = [];
  size = 0;
  overLimit = false;

  constructor(
    private readonly limit: number,
    readonly context: ReceivingContext | null,
  ) {
    // write() must always return true: dcmjs-dimse otherwise awaits 'drain' and reorders PDUs.
    super({ highWaterMark: 2 ** 40 });
  }

  override _write(chunk: Buffer, _encoding: BufferEncoding, callback: (error?: Error | null) => void): void {
    this.size += chunk.length;
    if (!this.overLimit && this.size > this.limit) {
      this.overLimit = true;
      this.chunks.length = 0;
    }
    if (!this.overLimit) this.chunks.push(chunk);
    callback();
  }
}

type Phase = 'awaiting_request' | 'associated' | 'releasing' | 'closed';

export class SpoolScp extends Scp {
  private phase: Phase = 'awaiting_request';
  private callingAe = '';
  private readonly sinks = new WeakMap<requests.Request, DatasetSink>();
  private storesInFlight = 0;
  private releaseRequested = false;
  private lastActivity = Date.now();
  private idleTimer: NodeJS.Timeout | undefined;
  private associationTimer: NodeJS.Timeout | undefined;
  private destroyTimer: NodeJS.Timeout | undefined;
  private log: Logger;
  private readonly drained: Array<() => void> = [];

  constructor(
    private readonly sock: Socket,
    private readonly env: ScpEnvironment,
  ) {
    super(sock, { connectTimeout: env.settings.idleTimeoutMs });
    sock.setTimeout(0);
    sock.setNoDelay(true);
    this.log = env.logger.child({ dimse: { remote: `${sock.remoteAddress ?? '?'}:${sock.remotePort ?? '?'}` } });
    sock.on('data', () => {
      this.lastActivity = Date.now();
    });
    this.on('networkError', (error: unknown) => {
      if (this.phase === 'closed') return;
      this.log.warn({ err: describeError(error) }, 'DIMSE network error: aborting the association');
      this.abortAndClose();
    });
    sock.once('close', () => {
      this.phase = 'closed';
      this.clearTimers();
      this.notifyDrained();
    });
    this.associationTimer = setTimeout(() => {
      if (this.phase !== 'awaiting_request') return;
      this.log.warn('no A-ASSOCIATE-RQ in time: closing');
      this.phase = 'closed';
      sock.destroy();
    }, env.settings.associationTimeoutMs);
  }

  override associationRequested(assoc: association.Association): void {
    if (this.phase !== 'awaiting_request') {
      this.abortAndClose(AbortReason.UnexpectedPdu);
      return;
    }
    clearTimeout(this.associationTimer);
    const callingAe = assoc.getCallingAeTitle().trim();
    this.callingAe = callingAe;
    this.log = this.log.child({ callingAe, calledAe: assoc.getCalledAeTitle().trim() });
    const allowed = this.env.settings.allowedCallingAe;
    if (this.env.isClosing()) return this.reject('shutting_down', RejectResult.Transient, RejectSource.ServiceProviderPresentation, RejectReason.TemporaryCongestion);
    if (callingAe === '' || (allowed.length > 0 && !allowed.includes(callingAe))) {
      return this.reject('calling_ae_not_allowed', RejectResult.Permanent, RejectSource.ServiceUser, RejectReason.CallingAeNotRecognized);
    }
    for (const { context } of assoc.getPresentationContexts()) {
      const decision = negotiate(context.getAbstractSyntaxUid(), context.getTransferSyntaxUids());
      switch (decision.result) {
        case 'accept':
          context.setResult(PresentationContextResult.Accept, decision.transferSyntaxUid);
          // PS3.7 D.3.3.4: the requestor may be SCU only; this SCP never sends C-STOREs.
          if (context.getUserRole() !== undefined) {
            context.setUserRole(true);
            context.setProviderRole(false);
          }
          break;
        case 'abstract_syntax_not_supported':
          context.setResult(PresentationContextResult.RejectAbstractSyntaxNotSupported);
          break;
        case 'transfer_syntaxes_not_supported':
          context.setResult(PresentationContextResult.RejectTransferSyntaxesNotSupported);
          break;
      }
    }
    assoc.setMaxAsyncOpsInvoked(1);
    assoc.setMaxAsyncOpsPerformed(1);
    assoc.setMaxPduLength(this.env.settings.maxPduLength);
    this.phase = 'associated';
    this.sendAssociationAccept();
    this.env.metrics.associations.inc({ result: 'accepted' });
    this.log.debug('association accepted');
    this.armIdleTimer();
  }

  private reject(outcome: string, result: number, source: number, reason: number): void {
    this.sendAssociationReject(result, source, reason);
    this.env.metrics.associations.inc({ result: `rejected_${outcome}` });
    this.log.warn({ outcome }, 'association rejected');
    this.phase = 'releasing';
    this.closeGracefully();
  }

  override associationReleaseRequested(): void {
    if (this.phase !== 'associated') return;
    this.releaseRequested = true;
    if (this.storesInFlight === 0) this.release();
  }

  private release(): void {
    this.phase = 'releasing';
    this.sendAssociationReleaseResponse();
    this.closeGracefully();
  }

  override abort(): void {
    this.phase = 'closed';
    this.clearTimers();
    this.sock.destroy();
  }

  override cEchoRequest(request: requests.CEchoRequest, callback: (response: responses.CEchoResponse) => void): void {
    const response = responses.CEchoResponse.fromRequest(request);
    response.setStatus(Status.Success);
    callback(response);
  }

  override createStoreWritableStream(context: association.PresentationContext, request: requests.CStoreRequest): Writable {
    let receiving: ReceivingContext | null = null;
    const ts = context?.getAcceptedTransferSyntaxUid();
    if (context !== undefined && context !== null && context.getResult() === PresentationContextResult.Accept && ts !== undefined) {
      receiving = { abstractSyntaxUid: context.getAbstractSyntaxUid(), transferSyntaxUid: ts };
    }
    const sink = new DatasetSink(this.env.settings.maxInstanceBytes, receiving);
    this.sinks.set(request, sink);
    return sink;
  }

  override createDatasetFromStoreWritableStream(_writable: Writable, _context: association.PresentationContext, callback: (dataset: Dataset) => void): void {
    callback(new Dataset({}));
  }

  override cStoreRequest(request: requests.CStoreRequest, callback: (response: responses.CStoreResponse) => void): void {
    const sink = this.sinks.get(request);
    this.sinks.delete(request);
    if (sink !== undefined && sink.context === null) {
      this.log.warn('C-STORE on a presentation context that was not accepted: aborting');
      this.abortAndClose(AbortReason.UnexpectedPduParameter);
      return;
    }
    this.storesInFlight += 1;
    void this.store(request, sink)
      .catch((error: unknown) => {
        this.log.error({ err: describeError(error) }, 'could not spool an instance');
        return { status: StoreStatus.OutOfResources, comment: 'Gateway could not write the spool; retry later' };
      })
      .then((answer) => {
        this.env.metrics.received.inc({ outcome: answer.status === 0 ? 'spooled' : answer.status === StoreStatus.OutOfResources ? 'refused_out_of_resources' : 'refused' });
        if (this.sock.destroyed || this.phase === 'closed') return;
        const response = responses.CStoreResponse.fromRequest(request);
        response.setStatus(answer.status);
        if (answer.comment !== undefined) response.setErrorComment(answer.comment);
        callback(response);
      })
      .finally(() => {
        this.storesInFlight -= 1;
        this.lastActivity = Date.now();
        if (this.storesInFlight === 0) {
          this.notifyDrained();
          if (this.releaseRequested && this.phase === 'associated') this.release();
        }
      });
  }

  private async store(request: requests.CStoreRequest, sink: DatasetSink | undefined): Promise<{ status: number; comment?: string }> {
    const context = sink?.context;
    if (sink === undefined || context === undefined || context === null || sink.size === 0) return { status: StoreStatus.CannotUnderstand, comment: 'C-STORE without a dataset' };
    if (sink.overLimit) return { status: StoreStatus.OutOfResources, comment: `Instance over the ${this.env.settings.maxInstanceBytes} byte limit` };
    const sopClassUid = request.getAffectedSopClassUid();
    if (sopClassUid !== context.abstractSyntaxUid) return { status: StoreStatus.SopClassNotSupported, comment: 'Affected SOP Class differs from the presentation context' };
    if (this.env.isClosing()) return { status: StoreStatus.OutOfResources, comment: 'Gateway shutting down; retry later' };
    const header = part10Header({
      sopClassUid,
      sopInstanceUid: request.getAffectedSopInstanceUid(),
      transferSyntaxUid: context.transferSyntaxUid,
      sourceAeTitle: this.callingAe,
    });
    const size = header.length + sink.size;
    if (!this.env.spool.reserve(size)) {
      this.env.onSpoolFull();
      return { status: StoreStatus.OutOfResources, comment: 'Gateway spool full; retry later' };
    }
    try {
      // Durable before the answer: this await is the guarantee that an acknowledged instance is never lost.
      await this.env.spool.put([header, ...sink.chunks]);
    } finally {
      this.env.spool.release(size);
      sink.chunks.length = 0;
    }
    return { status: StoreStatus.Success };
  }

  // Services this SCP does not provide: "unrecognized operation" (PS3.7 C.4), never silence.
  override cFindRequest(request: requests.CFindRequest, callback: (responses: Array<responses.CFindResponse>) => void): void {
    const response = responses.CFindResponse.fromRequest(request);
    response.setStatus(Status.UnrecognizedOperation);
    callback([response]);
  }

  override cMoveRequest(request: requests.CMoveRequest, callback: (responses: Array<responses.CMoveResponse>) => void): void {
    const response = responses.CMoveResponse.fromRequest(request);
    response.setStatus(Status.UnrecognizedOperation);
    callback([response]);
  }

  override cGetRequest(request: requests.CGetRequest, callback: (responses: Array<responses.CGetResponse>) => void): void {
    const response = responses.CGetResponse.fromRequest(request);
    response.setStatus(Status.UnrecognizedOperation);
    callback([response]);
  }

  /** Server shutdown: let C-STOREs in flight be spooled and answered, then abort. */
  async shutdown(): Promise<void> {
    if (this.storesInFlight > 0) await new Promise<void>((resolve) => this.drained.push(resolve));
    if (this.phase === 'closed' || this.phase === 'releasing') return;
    if (this.phase === 'awaiting_request') {
      this.phase = 'closed';
      this.sock.destroy();
      return;
    }
    this.abortAndClose();
  }

  closed(): Promise<void> {
    if (this.sock.destroyed) return Promise.resolve();
    return new Promise((resolve) => this.sock.once('close', () => resolve()));
  }

  private abortAndClose(reason: number = AbortReason.NotSpecified): void {
    if (this.phase === 'closed') return;
    const hadAssociation = this.phase !== 'awaiting_request';
    this.phase = 'closed';
    if (hadAssociation && this.sock.writable) this.sendAbort(AbortSource.ServiceProvider, reason);
    this.closeGracefully();
  }

  /** Half-close after our last PDU; destroy if the peer has not closed within ARTIM (PS3.8 9.1.5). */
  private closeGracefully(): void {
    clearTimeout(this.idleTimer);
    if (this.sock.destroyed) return;
    this.sock.end();
    this.destroyTimer ??= setTimeout(() => this.sock.destroy(), this.env.settings.artimMs);
    this.destroyTimer.unref();
  }

  private armIdleTimer(): void {
    clearTimeout(this.idleTimer);
    const timeout = this.env.settings.idleTimeoutMs;
    const check = (): void => {
      if (this.phase !== 'associated') return;
      const idle = Date.now() - this.lastActivity;
      if (this.storesInFlight > 0 || idle < timeout) {
        this.idleTimer = setTimeout(check, Math.max(timeout - idle, 100));
        return;
      }
      this.log.warn('association idle past the timeout: aborting');
      this.abortAndClose();
    };
    this.idleTimer = setTimeout(check, timeout);
  }

  private notifyDrained(): void {
    for (const resolve of this.drained.splice(0)) resolve();
  }

  private clearTimers(): void {
    clearTimeout(this.idleTimer);
    clearTimeout(this.associationTimer);
    clearTimeout(this.destroyTimer);
  }
}
