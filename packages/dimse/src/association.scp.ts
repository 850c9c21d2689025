import type { Socket } from 'node:net';
import { Writable } from 'node:stream';
import { Dataset, Scp, constants, requests, responses, type association } from 'dcmjs-dimse';
import { describeError, isAppError, type Logger } from '@yunying/core';
import { answerUserIdentity, tlsPeerOf, userIdentityOf } from './credentials';
import { asyncWindow, findModelOf, getModelOf, moveModelOf, negotiateContext, negotiateRole, type ProposedRole } from './negotiation';
import { part10Header, type ImplementationIdentity } from './part10';
import { PduFramer } from './pdu-framer';
import { serveRetrieve, type RetrieveCounts, type RetrieveResponder } from './retrieve.scp';
import { CommitmentStatus, STORAGE_COMMITMENT_SOP_CLASS, STORAGE_COMMITMENT_SOP_INSTANCE, eventReport, parseCommitmentRequest } from './commitment';
import type { AssociationDecision, AssociationRejection, AssociationRequest, CommitmentDelivery, CommitmentHandler, CommitmentPlan, FindFinal, FindHandler, ReceivedInstance, RetrieveHandler, RetrieveRequest, ScpObserver, StoreHandler } from './scp.types';
import { acceptedSyntaxesOf, sendRequest, sendStore, type StorageChannel } from './store-channel';
import { openStorageAssociation } from './storage-scu';
import { TimeoutError, withTimeout } from './timeout';
import { StoreStatus, answerForException, errorComment, statusLabel, type StoreAnswer } from './store-status';
import { WireDataset } from './wire-dataset';
import { CommandField, encodeResponseCommand, pDataTfMessage } from './dimse-message';
import { sendCommitmentReportOnNewAssociation } from './commitment-report';

/**
 * One DICOM association on one TCP connection (PS3.8 upper layer, PS3.7 DIMSE) over dcmjs-dimse's Scp:
 * A-ASSOCIATE (the service decides), C-ECHO, C-STORE (the service stores), A-RELEASE, A-ABORT and a bare
 * close. Every C-STORE-RQ gets a C-STORE-RSP, and every wait is bounded:
 *  - association: A-ASSOCIATE-RQ within `associationTimeoutMs` of connecting;
 *  - idle: no PDU for `pduTimeoutMs` while nothing of ours is pending -> A-ABORT and close;
 *  - store: one instance through the service's handler within `storeTimeoutMs` (when set), else 0xA700;
 *  - closing: after A-RELEASE-RP / A-ASSOCIATE-RJ / A-ABORT the socket is destroyed if the peer has
 *    not closed it within `artimMs` (PS3.8 9.1.5, ARTIM).
 * dcmjs-dimse's own timers stay inert: they only run for sockets its Server marks connected.
 */

const { AbortReason, AbortSource, PresentationContextResult, RejectReason, RejectResult, RejectSource, Status } = constants;

/** C-FIND-RSP statuses (PS3.4 C.4.1.1.4). */
export const FindStatus = {
  Success: 0x0000,
  Pending: 0xff00,
  PendingOptionalKeysUnsupported: 0xff01,
  Cancel: 0xfe00,
  SopClassNotSupported: 0x0122,
  OutOfResources: 0xa700,
  IdentifierDoesNotMatchSopClass: 0xa900,
} as const;

export interface ScpSettings {
  maxPduLength: number;
  associationTimeoutMs: number;
  pduTimeoutMs: number;
  /** Undefined: the store handler bounds its own work. */
  storeTimeoutMs: number | undefined;
  maxInstanceBytes: number;
  artimMs: number;
  implementation: ImplementationIdentity;
  /** Our AE title as the calling AE of C-MOVE destination associations; undefined: the called AE title we were reached by. */
  aeTitle: string | undefined;
  /** (0000,0902) of the 0xA700 answered while the server shuts down. */
  shuttingDownComment: string;
  /**
   * Asynchronous operations window (PS3.7 D.3.3.3): the most C-STOREs a requestor may have outstanding on
   * one association when it proposes a window; 1: synchronous, no sub-item in the A-ASSOCIATE-AC.
   */
  maxOperationsInvoked: number;
}

/** What every connection shares with the server that accepted it. */
export interface ScpEnvironment<S> {
  settings: ScpSettings;
  logger: Logger;
  observer: ScpObserver;
  decide(request: AssociationRequest): Promise<AssociationDecision<S>> | AssociationDecision<S>;
  store: StoreHandler<S>;
  /** Query/Retrieve FIND (PS3.4 C.4.1); undefined: FIND contexts are refused. */
  find: FindHandler<S> | undefined;
  /** Query/Retrieve GET and MOVE (PS3.4 C.4.2, C.4.3); undefined: their contexts are refused. */
  retrieve: RetrieveHandler<S> | undefined;
  /** Storage Commitment Push Model (PS3.4 J); undefined: its context is refused. */
  commitment: CommitmentHandler<S> | undefined;
  /** The most references one Storage Commitment request may name. */
  maxCommitmentReferences: number;
  /** True once the server is closing: no new association, no new store. */
  isClosing(): boolean;
  /** Background work (audit writes, a store that outlived its answer) the server waits for on close. */
  track(work: Promise<unknown>): void;
}

/**
 * A C-GET-RSP / C-MOVE-RSP naming the request's Affected SOP Class UID (PS3.7 9.1.3.1, 9.1.4.1: "equal to
 * the value in the request"). dcmjs-dimse creates every one with the Study Root SOP class, which a Patient
 * Root SCU (getscu/movescu -P, PACS that check) would read as an answer to another request.
 */
function answering<R extends responses.CGetResponse | responses.CMoveResponse>(request: requests.CGetRequest | requests.CMoveRequest, response: R): R {
  response.setAffectedSopClassUid(request.getAffectedSopClassUid());
  return response;
}

/**
 * Pending C-FIND responses written between two turns of the event loop: one corked write of ~10 KiB for
 * STUDY-level matches, and a C-CANCEL waits for at most this many responses to be encoded (~1 ms).
 */
const FIND_RESPONSES_PER_TURN = 32;

class PeerNotReadingError extends Error {}

type Phase = 'awaiting_request' | 'negotiating' | 'associated' | 'releasing' | 'closed';

const REJECTIONS: Record<AssociationRejection, { result: number; source: number; reason: number }> = {
  calling_ae_not_recognized: { result: RejectResult.Permanent, source: RejectSource.ServiceUser, reason: RejectReason.CallingAeNotRecognized },
  called_ae_not_recognized: { result: RejectResult.Permanent, source: RejectSource.ServiceUser, reason: RejectReason.CalledAeNotRecognized },
  not_authenticated: { result: RejectResult.Permanent, source: RejectSource.ServiceUser, reason: RejectReason.NoReasonGiven },
  temporary_congestion: { result: RejectResult.Transient, source: RejectSource.ServiceProviderPresentation, reason: RejectReason.TemporaryCongestion },
};

interface ReceivingContext {
  id: number;
  abstractSyntaxUid: string;
  transferSyntaxUid: string;
}

/**
 * Collects a C-STORE dataset's raw bytes, exactly as received, instead of letting dcmjs-dimse build a
 * dcmjs Dataset (a parse failure there leaves the C-STORE unanswered: the Orthanc trap). Over the size
 * limit it keeps counting but drops the bytes, so the SCU still gets its 0xA700.
 */
class DatasetSink extends Writable {
  readonly chunks: Buffer[] = [];
  size = 0;
  overLimit = false;

  constructor(
    private readonly limit: number,
    readonly context: ReceivingContext | null,
    /** The dataset's fragments as the framer took them out of the PDUs (pdu-framer.ts), in order. */
    private readonly fragments: Buffer[][],
  ) {
    // write() must always return true: dcmjs-dimse awaits 'drain' otherwise and then processes the
    // next PDU concurrently with the one that waits.
    super({ highWaterMark: 2 ** 40 });
  }

  override _write(chunk: Buffer, _encoding: BufferEncoding, callback: (error?: Error | null) => void): void {
    // Every PDV of a C-STORE dataset reaches dcmjs-dimse emptied by the framer: its value is the next
    // fragment, views of the socket's chunks (no copy until the instance is joined for the store).
    if (chunk.length > 0) this.take(chunk);
    else for (const value of this.fragments.shift() ?? []) this.take(value);
    callback();
  }

  private take(chunk: Buffer): void {
    this.size += chunk.length;
    if (!this.overLimit && this.size > this.limit) {
      this.overLimit = true;
      this.chunks.length = 0;
    }
    if (!this.overLimit) this.chunks.push(chunk);
  }
}

function acceptedContext(context: association.PresentationContext | undefined): ReceivingContext | null {
  // dcmjs-dimse looks the context up by the PDV's id; an id that was never proposed gives undefined.
  if (context === undefined || context === null) return null;
  const transferSyntaxUid = context.getAcceptedTransferSyntaxUid();
  if (context.getResult() !== PresentationContextResult.Accept || transferSyntaxUid === undefined) return null;
  return { id: context.getPresentationContextId(), abstractSyntaxUid: context.getAbstractSyntaxUid(), transferSyntaxUid };
}

export class AssociationScp<S> extends Scp {
  private phase: Phase = 'awaiting_request';
  private session: { value: S } | null = null;
  private callingAe = '';
  private calledAe = '';
  private assoc: association.Association | undefined;
  /** Storage SOP classes for which the requestor took the SCP role: where C-GET sub-operations may go. */
  private readonly retrieveTargets = new Set<string>();
  /** Aborted when the socket closes: ends any sub-operation waiting for its C-STORE-RSP. */
  private readonly ended = new AbortController();
  private readonly sinks = new WeakMap<requests.Request, DatasetSink>();
  /** C-STORE dataset fragments taken out of the PDUs by the framer, each claimed by the empty value dcmjs-dimse writes in its place. */
  private readonly storeData: Buffer[][] = [];
  private storesInFlight = 0;
  /** C-STOREs received and not yet answered, and how many the negotiated window allows (PS3.7 D.3.3.3). */
  private storesOutstanding = 0;
  private storeWindow = 1;
  private releaseRequested = false;
  private lastActivity = Date.now();
  private idleTimer: NodeJS.Timeout | undefined;
  private associationTimer: NodeJS.Timeout | undefined;
  private destroyTimer: NodeJS.Timeout | undefined;
  private log: Logger;
  private readonly remoteAddress: string | null;
  private readonly drained: Array<() => void> = [];
  /** A corked batch of writes is open until the next tick (writeBatched). */
  private corked = false;
  /** Operations a C-CANCEL can stop, by Message ID. */
  private readonly cancellable = new Map<number, AbortController>();

  constructor(
    private readonly sock: Socket,
    private readonly env: ScpEnvironment<S>,
  ) {
    super(sock, { connectTimeout: env.settings.pduTimeoutMs });
    // dcmjs-dimse arms an inactivity timeout on the socket; our own timers below decide instead, since
    // a socket is legitimately silent while a C-STORE is with the service.
    sock.setTimeout(0);
    sock.setNoDelay(true);
    this.remoteAddress = sock.remoteAddress ?? null;
    this.log = env.logger.child({ dimse: { remote: `${sock.remoteAddress ?? '?'}:${sock.remotePort ?? '?'}` } });

    const maxPdu = Math.max(4 * env.settings.maxPduLength, 1024 * 1024);
    const framer = new PduFramer(maxPdu, {
      onTooLarge: (type, length) => {
        this.log.warn({ pduType: type, length, limit: maxPdu }, 'PDU over the size limit: aborting');
        this.abortAndClose('pdu_too_large');
      },
      onMalformed: (reason) => {
        this.log.warn({ reason }, 'malformed P-DATA-TF PDU: aborting');
        this.abortAndClose('malformed_pdu', AbortReason.InvalidPduParameter);
      },
      onStoreData: (values) => this.storeData.push(values),
    });
    // dcmjs-dimse's reader (its one 'data' listener, added by super()) gets whole PDUs from the framer
    // instead of raw chunks, which it would join by copying (pdu-framer.ts).
    const readers = sock.listeners('data');
    sock.removeAllListeners('data');
    sock.on('data', (chunk: Buffer) => {
      this.lastActivity = Date.now();
      for (const whole of framer.accept(chunk)) {
        for (const reader of readers) reader.call(sock, whole);
      }
    });
    this.on('networkError', (error: unknown) => {
      if (this.phase === 'closed') return;
      this.log.warn({ err: describeError(error) }, 'DIMSE network error: aborting the association');
      this.abortAndClose('network_error');
    });
    sock.once('close', () => {
      this.ended.abort();
      for (const cancel of this.cancellable.values()) cancel.abort();
      if (this.phase === 'associated' || this.phase === 'negotiating') this.env.observer.associationEnded('closed_by_peer');
      this.phase = 'closed';
      this.clearTimers();
      this.notifyDrained();
    });
    this.associationTimer = setTimeout(() => {
      if (this.phase !== 'awaiting_request') return;
      this.log.warn({ timeoutMs: env.settings.associationTimeoutMs }, 'no A-ASSOCIATE-RQ in time: closing');
      this.env.observer.associationEnded('timeout');
      this.phase = 'closed';
      sock.destroy();
    }, env.settings.associationTimeoutMs);
  }

  // --- association (PS3.8 7.1, 9.3.2-9.3.4) ---------------------------------------------------------

  override associationRequested(assoc: association.Association): void {
    if (this.phase !== 'awaiting_request') {
      // A second A-ASSOCIATE-RQ on an established association is an unexpected PDU (PS3.8 9.2, state table).
      this.abortAndClose('unexpected_pdu', AbortReason.UnexpectedPdu);
      return;
    }
    this.phase = 'negotiating';
    this.env.track(this.decide(assoc));
  }

  private async decide(assoc: association.Association): Promise<void> {
    const callingAe = assoc.getCallingAeTitle().trim();
    const calledAe = assoc.getCalledAeTitle().trim();
    this.callingAe = callingAe;
    this.calledAe = calledAe;
    this.log = this.log.child({ callingAe, calledAe });

    if (this.env.isClosing()) return this.reject('shutting_down', 'temporary_congestion');
    const userIdentity = userIdentityOf(assoc);
    let decision: AssociationDecision<S>;
    try {
      decision = await this.env.decide({
        callingAe,
        calledAe,
        remoteAddress: this.remoteAddress,
        tls: tlsPeerOf(this.sock),
        userIdentity,
        log: this.log,
        track: (work) => this.env.track(work),
      });
    } catch (error) {
      // The service could not decide (its registry is down or slow): a transient rejection says "try later".
      this.log.error({ err: describeError(error) }, 'association decision failed: rejecting the association (transient)');
      return this.reject('unavailable', 'temporary_congestion');
    }
    if (this.phase !== 'negotiating') return; // the peer went away meanwhile
    if (this.env.isClosing()) return this.reject('shutting_down', 'temporary_congestion');
    if (!decision.accept) return this.reject(decision.outcome, decision.reason);
    this.session = { value: decision.session };
    this.assoc = assoc;

    const offered = { find: this.env.find !== undefined, get: this.env.retrieve !== undefined, move: this.env.retrieve !== undefined, commitment: this.env.commitment !== undefined };
    // dcmjs-dimse puts a Role Selection item (one per abstract syntax) on the first context of that syntax.
    const proposedRoles = new Map<string, ProposedRole>();
    for (const { context } of assoc.getPresentationContexts()) {
      if (context.getUserRole() === undefined && context.getProviderRole() === undefined) continue;
      proposedRoles.set(context.getAbstractSyntaxUid(), { scu: context.getUserRole() === true, scp: context.getProviderRole() === true });
    }
    let accepted = 0;
    for (const { id, context } of assoc.getPresentationContexts()) {
      const abstractSyntaxUid = context.getAbstractSyntaxUid();
      const proposedRole = proposedRoles.get(abstractSyntaxUid);
      const role = proposedRole === undefined ? undefined : negotiateRole(abstractSyntaxUid, proposedRole, offered);
      const negotiated = negotiateContext(
        { id, abstractSyntaxUid, transferSyntaxUids: context.getTransferSyntaxUids(), receiveOnly: role !== undefined && role.scp && !role.scu },
        offered,
      );
      switch (negotiated.result) {
        case 'accept':
          context.setResult(PresentationContextResult.Accept, negotiated.transferSyntaxUid);
          accepted += 1;
          break;
        case 'abstract_syntax_not_supported':
          context.setResult(PresentationContextResult.RejectAbstractSyntaxNotSupported);
          break;
        case 'transfer_syntaxes_not_supported':
          context.setResult(PresentationContextResult.RejectTransferSyntaxesNotSupported);
          break;
      }
      // SCP/SCU role selection (PS3.7 D.3.3.4): the requestor keeps its SCU role, and gets the SCP role for
      // a storage class only when C-GET is offered (this SCP then sends it C-STOREs on that class).
      if (negotiated.result === 'accept' && role !== undefined && (context.getUserRole() !== undefined || context.getProviderRole() !== undefined)) {
        context.setUserRole(role.scu);
        context.setProviderRole(role.scp);
        if (role.scp) this.retrieveTargets.add(abstractSyntaxUid);
      }
    }
    answerUserIdentity(assoc, userIdentity);
    // PS3.7 D.3.3.3: the window the requestor proposed (0: unlimited), capped by ours; we perform its
    // C-STOREs side by side, and invoke our own operations (C-GET sub-operations) one at a time.
    const window = asyncWindow(assoc, this.env.settings.maxOperationsInvoked);
    this.storeWindow = window.invoked;
    assoc.setMaxAsyncOpsInvoked(window.invoked);
    assoc.setMaxAsyncOpsPerformed(window.performed);
    assoc.setNegotiateAsyncOps(window.invoked !== 1 || window.performed !== 1);
    // The Maximum Length we can receive (PS3.8 D.1); dcmjs-dimse sends min(this, its own 256 KiB).
    // dcmjs-dimse keeps one Maximum Length per association and also splits what it sends by it: once
    // the A-ASSOCIATE-AC is out, it must be the peer's (C-GET sub-operations, large C-FIND responses).
    const peerMaxPduLength = assoc.getMaxPduLength();
    assoc.setMaxPduLength(this.env.settings.maxPduLength);
    this.clearAssociationTimer();
    this.phase = 'associated';
    this.sendAssociationAccept();
    assoc.setMaxPduLength(peerMaxPduLength);
    this.env.observer.associationDecided('accepted');
    this.log.info({ contexts: assoc.getPresentationContexts().length, accepted }, 'association accepted');
    this.armIdleTimer();
  }

  private reject(outcome: string, rejection: AssociationRejection): void {
    if (this.phase !== 'negotiating') return;
    const { result, source, reason } = REJECTIONS[rejection];
    this.clearAssociationTimer();
    this.sendAssociationReject(result, source, reason);
    // Not 'closed_by_peer' when the peer then closes: a rejected association never began.
    this.phase = 'releasing';
    this.env.observer.associationDecided(`rejected_${outcome}`);
    this.log.warn({ outcome }, 'association rejected');
    this.closeGracefully();
  }

  override associationReleaseRequested(): void {
    if (this.phase !== 'associated') return;
    this.releaseRequested = true;
    // PS3.8 7.2: an SCU should not release with operations outstanding; if it does, answer them first.
    if (this.storesInFlight === 0) this.release();
  }

  private release(): void {
    this.phase = 'releasing';
    this.sendAssociationReleaseResponse();
    this.env.observer.associationEnded('released');
    this.log.debug('association released');
    this.closeGracefully();
  }

  override abort(source: number, reason: number): void {
    this.log.info({ source, reason }, 'A-ABORT received');
    if (this.phase !== 'closed') this.env.observer.associationEnded('aborted_by_peer');
    this.phase = 'closed';
    this.clearTimers();
    this.sock.destroy();
  }

  // --- DIMSE services ------------------------------------------------------------------------------

  /** PS3.4 A.4 Verification. */
  override cEchoRequest(request: requests.CEchoRequest, callback: (response: responses.CEchoResponse) => void): void {
    const response = responses.CEchoResponse.fromRequest(request);
    response.setStatus(Status.Success);
    callback(response);
  }

  override createStoreWritableStream(context: association.PresentationContext, request: requests.CStoreRequest): Writable {
    const sink = new DatasetSink(this.env.settings.maxInstanceBytes, acceptedContext(context), this.storeData);
    this.sinks.set(request, sink);
    return sink;
  }

  override createDatasetFromStoreWritableStream(_writable: Writable, _context: association.PresentationContext, callback: (dataset: Dataset) => void): void {
    // A placeholder: the raw bytes stay in the DatasetSink, looked up by request in cStoreRequest.
    callback(new Dataset({}));
  }

  /** PS3.4 B.2 Storage SOP Class, SCP role. */
  override cStoreRequest(request: requests.CStoreRequest, callback: (response: responses.CStoreResponse) => void): void {
    const sink = this.sinks.get(request);
    this.sinks.delete(request);
    if (sink !== undefined && sink.context === null) {
      // P-DATA on a presentation context that was not accepted: a protocol error (PS3.8 9.3.5).
      this.log.warn({ messageId: request.getMessageId() }, 'C-STORE on a presentation context that was not accepted: aborting');
      this.abortAndClose('unaccepted_context', AbortReason.UnexpectedPduParameter);
      return;
    }
    if (this.storesOutstanding >= this.storeWindow) {
      // PS3.7 D.3.3.3: the requestor shall not exceed the negotiated window (1 when none was negotiated).
      // Held datasets would be memory without bound; a protocol error ends the association instead.
      this.log.warn({ messageId: request.getMessageId(), outstanding: this.storesOutstanding, window: this.storeWindow }, 'C-STORE beyond the asynchronous operations window: aborting');
      this.abortAndClose('window_exceeded', AbortReason.UnexpectedPdu);
      return;
    }
    this.storesOutstanding += 1;
    this.storesInFlight += 1;
    const started = process.hrtime.bigint();
    this.env.track(
      this.store(request, sink)
        .catch((error: unknown): StoreAnswer => {
          this.log.error({ err: describeError(error) }, 'C-STORE failed unexpectedly');
          return answerForException(error);
        })
        .then((answer) => {
          // Each C-STORE-RSP goes out when its own instance is done, so with a window they may leave in
          // another order than the requests came (PS3.7 8.3.3.2: matched by Message ID Being Responded To).
          this.storesOutstanding -= 1;
          this.respond(request, sink?.context?.id, answer, callback, Number(process.hrtime.bigint() - started) / 1e9);
        })
        .finally(() => {
          if (sink !== undefined) sink.chunks.length = 0;
          this.operationEnded();
        }),
    );
  }

  private async store(request: requests.CStoreRequest, sink: DatasetSink | undefined): Promise<StoreAnswer> {
    const { settings } = this.env;
    const sopClassUid = request.getAffectedSopClassUid();
    const sopInstanceUid = request.getAffectedSopInstanceUid();
    const context = sink?.context;
    if (sink === undefined || context === undefined || context === null || sink.size === 0) {
      return { status: StoreStatus.CannotUnderstand, errorComment: 'C-STORE without a dataset' };
    }
    if (sink.overLimit) {
      return { status: StoreStatus.OutOfResources, errorComment: errorComment(`Instance over the ${settings.maxInstanceBytes} byte limit`) };
    }
    if (sopClassUid !== context.abstractSyntaxUid) {
      // PS3.7 9.1.1: the Affected SOP Class must be the context's abstract syntax.
      return { status: StoreStatus.SopClassNotSupported, errorComment: 'Affected SOP Class differs from the presentation context' };
    }
    if (this.env.isClosing() || this.session === null) {
      return { status: StoreStatus.OutOfResources, errorComment: errorComment(settings.shuttingDownComment) };
    }
    const header = part10Header(
      { mediaStorageSopClassUid: sopClassUid, mediaStorageSopInstanceUid: sopInstanceUid, transferSyntaxUid: context.transferSyntaxUid, sourceApplicationEntityTitle: this.callingAe },
      settings.implementation,
    );
    const chunks = [header, ...sink.chunks];
    sink.chunks.length = 0;
    const instance: ReceivedInstance = {
      sopClassUid,
      sopInstanceUid,
      transferSyntaxUid: context.transferSyntaxUid,
      chunks,
      byteLength: header.length + sink.size,
      toBuffer: () => {
        const bytes = Buffer.concat(chunks);
        chunks.length = 0;
        return bytes;
      },
    };
    const work = this.env.store(instance, { session: this.session.value, callingAe: this.callingAe, remoteAddress: this.remoteAddress, log: this.log });
    if (settings.storeTimeoutMs === undefined) return work;
    // The handler may still finish after we answered; the SCU's retry then finds the instance stored.
    this.env.track(work);
    try {
      return await withTimeout(work, settings.storeTimeoutMs);
    } catch (error) {
      if (!(error instanceof TimeoutError)) throw error;
      this.log.error({ sopInstanceUid, timeoutMs: settings.storeTimeoutMs }, 'C-STORE exceeded the store timeout');
      return { status: StoreStatus.OutOfResources, errorComment: 'Store timed out; retry later' };
    }
  }

  /**
   * The C-STORE-RSP, on the presentation context the request came on. Written by dimse-message.ts (the
   * bytes dcmjs-dimse writes, checked by its unit test) rather than through dcmjs's command-set encoder,
   * and corked with the other responses of this turn: the instances of one group commit are answered
   * together, in one segment. Without a context (a C-STORE without a dataset) dcmjs-dimse answers.
   */
  private respond(request: requests.CStoreRequest, contextId: number | undefined, answer: StoreAnswer, callback: (response: responses.CStoreResponse) => void, seconds: number): void {
    this.env.observer.storeAnswered(answer.status, seconds);
    if (this.sock.destroyed || this.phase === 'closed') {
      this.log.warn({ sopInstanceUid: request.getAffectedSopInstanceUid(), status: statusLabel(answer.status) }, 'C-STORE answered after the association ended');
      return;
    }
    const comment = answer.status === StoreStatus.Success ? undefined : answer.errorComment;
    if (contextId !== undefined && this.assoc !== undefined) {
      const command = encodeResponseCommand({
        commandField: CommandField.CStoreResponse,
        affectedSopClassUid: request.getAffectedSopClassUid(),
        affectedSopInstanceUid: request.getAffectedSopInstanceUid(),
        messageIdBeingRespondedTo: request.getMessageId(),
        status: answer.status,
        hasDataSet: false,
        ...(comment !== undefined ? { errorComment: errorComment(comment) } : {}),
      });
      this.writeBatched(pDataTfMessage(contextId, command, null, this.assoc.getMaxPduLength()));
      return;
    }
    const response = responses.CStoreResponse.fromRequest(request);
    response.setStatus(answer.status);
    if (answer.errorComment !== undefined && answer.status !== StoreStatus.Success) response.setErrorComment(answer.errorComment);
    callback(response);
  }

  // Services this SCP does not provide. Their contexts are never accepted (negotiation.ts); an SCU that
  // sends one anyway on a storage context gets "unrecognized operation" (PS3.7 C.4), never silence.
  /**
   * PS3.4 C.4.1 Query/Retrieve FIND, SCP role: each match goes out as a pending C-FIND-RSP (0xFF00, or
   * 0xFF01 when optional keys were asked that cannot be returned), then the final status. C-CANCEL (or the
   * association ending) aborts the handler's signal; the final answer is then 0xFE00.
   *
   * The responses are written by dimse-message.ts, not dcmjs-dimse (byte for byte the same, checked by its
   * test; the Affected SOP Class is the request's, where dcmjs-dimse always wrote Study Root): one buffer
   * per response, those of one turn of the event loop corked into one write. Every
   * FIND_RESPONSES_PER_TURN responses the event loop turns, so a C-CANCEL (and other associations) is read
   * mid-stream; when the peer reads slower than we write, we wait for the socket to drain (bounded by the
   * PDU timeout) instead of queueing every match in memory.
   */
  override cFindRequest(request: requests.CFindRequest, callback: (responses: Array<responses.CFindResponse>) => void): void {
    const find = this.env.find;
    const sopClassUid = request.getAffectedSopClassUid();
    const model = findModelOf(sopClassUid);
    const context = this.assoc?.getAcceptedPresentationContextFromRequest(request);
    const messageId = request.getMessageId();
    // Matches are written in the context's accepted syntax (encodeFlatDataset; dcmjs for what is not flat).
    const transferSyntax = context?.getAcceptedTransferSyntaxUid();
    const send = (status: number, identifier?: Record<string, unknown>, comment?: string): boolean => {
      if (this.sock.destroyed || this.phase === 'closed' || context === undefined || this.assoc === undefined) return true;
      const dataSet = identifier === undefined ? null : new WireDataset(identifier, transferSyntax).getDenaturalizedDataset();
      const command = encodeResponseCommand({
        commandField: CommandField.CFindResponse,
        affectedSopClassUid: sopClassUid,
        messageIdBeingRespondedTo: messageId,
        status,
        hasDataSet: dataSet !== null,
        ...(comment !== undefined ? { errorComment: errorComment(comment) } : {}),
      });
      return this.writeBatched(pDataTfMessage(context.getPresentationContextId(), command, dataSet, this.assoc.getMaxPduLength()));
    };
    if (find === undefined || model === undefined || this.session === null || context === undefined) {
      // Answered on the context the request came on (no FIND context may have been accepted at all).
      const response = responses.CFindResponse.fromRequest(request);
      response.setStatus(find === undefined ? Status.UnrecognizedOperation : FindStatus.SopClassNotSupported);
      callback([response]);
      return;
    }
    const cancel = new AbortController();
    this.cancellable.set(messageId, cancel);
    this.storesInFlight += 1;
    const identifier = request.getDataset()?.getElements() ?? {};
    const generator = find({ model, identifier }, { session: this.session.value, callingAe: this.callingAe, remoteAddress: this.remoteAddress, log: this.log, signal: cancel.signal });
    const run = async (): Promise<FindFinal> => {
      let matches = 0;
      let batch = 0;
      try {
        for (;;) {
          if (cancel.signal.aborted) {
            this.log.info({ matches }, 'C-FIND cancelled');
            return { status: FindStatus.Cancel };
          }
          const next = await generator.next();
          if (next.done === true) return next.value ?? { status: FindStatus.Success };
          if (cancel.signal.aborted) continue;
          matches += 1;
          batch += 1;
          this.lastActivity = Date.now();
          const room = send(next.value.optionalKeysUnsupported === true ? FindStatus.PendingOptionalKeysUnsupported : FindStatus.Pending, next.value.identifier);
          if (!room) {
            batch = 0;
            await this.socketDrained(cancel);
          } else if (batch >= FIND_RESPONSES_PER_TURN) {
            // Matches come from memory as fast as they encode: without a turn of the event loop the socket
            // is never read, and a C-CANCEL could only arrive after the last one.
            batch = 0;
            await new Promise<void>((resolve) => setImmediate(resolve));
          }
        }
      } finally {
        // A handler stopped early (cancel, a peer that stopped reading) still runs its own finally (the audit).
        await generator.return(undefined);
      }
    };
    this.env.track(
      run()
        .catch((error: unknown): FindFinal => {
          if (error instanceof PeerNotReadingError) return { status: FindStatus.OutOfResources };
          if (isAppError(error) && !error.retryable) return { status: FindStatus.IdentifierDoesNotMatchSopClass, errorComment: error.message };
          this.log.error({ err: describeError(error) }, 'C-FIND failed unexpectedly');
          return { status: FindStatus.OutOfResources, errorComment: 'The archive is temporarily unable to query; retry later' };
        })
        .then((final) => {
          send(final.status, undefined, final.errorComment);
        })
        .finally(() => {
          this.cancellable.delete(messageId);
          this.operationEnded();
        }),
    );
  }

  /**
   * One socket write, corked until the microtasks of this turn are done: what is produced without waiting
   * on I/O (pending responses from memory) leaves in one segment, and nothing stays held while the
   * producer waits (the uncork runs first).
   */
  private writeBatched(bytes: Buffer): boolean {
    if (!this.corked) {
      this.corked = true;
      this.sock.cork();
      process.nextTick(() => {
        this.corked = false;
        this.sock.uncork();
      });
    }
    return this.sock.write(bytes);
  }

  /**
   * Resolves once the socket's write buffer has drained (or the socket closed, or the operation was
   * cancelled). A peer that reads nothing for the PDU timeout (every wait is bounded): the operation is
   * cancelled (its handler ends, audited as cancelled) and the association aborted.
   */
  private socketDrained(operation: AbortController): Promise<void> {
    if (!this.sock.writableNeedDrain) return Promise.resolve();
    const { signal } = operation;
    return new Promise<void>((resolve, reject) => {
      const stopWaiting = (): void => {
        clearTimeout(timer);
        this.sock.off('drain', done);
        this.sock.off('close', done);
        signal.removeEventListener('abort', done);
      };
      const done = (): void => {
        stopWaiting();
        resolve();
      };
      const timer = setTimeout(() => {
        stopWaiting();
        this.log.warn({ timeoutMs: this.env.settings.pduTimeoutMs, buffered: this.sock.writableLength }, 'the peer read none of our responses within the PDU timeout: aborting');
        operation.abort();
        this.abortAndClose('peer_not_reading');
        reject(new PeerNotReadingError());
      }, this.env.settings.pduTimeoutMs);
      this.sock.once('drain', done);
      this.sock.once('close', done);
      signal.addEventListener('abort', done, { once: true });
    });
  }

  /**
   * PS3.4 C.4.2 Query/Retrieve MOVE, SCP role: the storage sub-operations go to the Move Destination the
   * service resolves, over a new association this SCP opens as Storage SCU (retrieve.scp.ts).
   */
  override cMoveRequest(request: requests.CMoveRequest, callback: (responses: Array<responses.CMoveResponse>) => void): void {
    const model = moveModelOf(request.getAffectedSopClassUid());
    const retrieve = this.env.retrieve;
    if (retrieve === undefined || model === undefined || this.session === null) {
      const response = answering(request, responses.CMoveResponse.fromRequest(request));
      response.setStatus(retrieve === undefined ? Status.UnrecognizedOperation : FindStatus.SopClassNotSupported);
      callback([response]);
      return;
    }
    const moveDestination = (request.getCommandDataset().getElement('MoveDestination') ?? '').trim();
    const { settings } = this.env;
    this.runRetrieve(request, { operation: 'move', model, identifier: request.getDataset()?.getElements() ?? {}, moveDestination }, this.responder(request, () => answering(request, responses.CMoveResponse.fromRequest(request)), callback), retrieve, {
      openDestination: (destination, instances) =>
        openStorageAssociation({ host: destination.host, port: destination.port, callingAe: settings.aeTitle ?? this.calledAe, calledAe: destination.aeTitle, instances, timeoutMs: settings.pduTimeoutMs, maxPduLength: settings.maxPduLength, ...(destination.tls !== undefined ? { tls: destination.tls } : {}) }),
      moveOriginator: { aeTitle: this.callingAe, messageId: request.getMessageId() },
    });
  }

  /**
   * PS3.4 C.4.3 Query/Retrieve GET, SCP role: the storage sub-operations go back on this association, on
   * the storage contexts for which the requestor took the SCP role.
   */
  override cGetRequest(request: requests.CGetRequest, callback: (responses: Array<responses.CGetResponse>) => void): void {
    const model = getModelOf(request.getAffectedSopClassUid());
    const retrieve = this.env.retrieve;
    const assoc = this.assoc;
    if (retrieve === undefined || model === undefined || this.session === null || assoc === undefined) {
      const response = answering(request, responses.CGetResponse.fromRequest(request));
      response.setStatus(retrieve === undefined ? Status.UnrecognizedOperation : FindStatus.SopClassNotSupported);
      callback([response]);
      return;
    }
    const ownChannel: StorageChannel = {
      acceptedSyntaxes: (sopClassUid) => acceptedSyntaxesOf(assoc, sopClassUid, (context) => this.retrieveTargets.has(context.getAbstractSyntaxUid())),
      store: (store) => sendStore(this, store, this.env.settings.pduTimeoutMs, this.ended.signal),
    };
    this.runRetrieve(request, { operation: 'get', model, identifier: request.getDataset()?.getElements() ?? {} }, this.responder(request, () => answering(request, responses.CGetResponse.fromRequest(request)), callback), retrieve, { ownChannel });
  }

  /** Pending and final C-GET-RSP / C-MOVE-RSP (they carry the same counts). */
  private responder<R extends responses.CGetResponse | responses.CMoveResponse>(request: requests.CGetRequest | requests.CMoveRequest, create: () => R, callback: (responses: R[]) => void): RetrieveResponder {
    const withCounts = (status: number, counts: RetrieveCounts | undefined, includeRemaining: boolean): R => {
      const response = create();
      response.setStatus(status);
      if (counts !== undefined) {
        if (includeRemaining) response.setRemaining(counts.remaining);
        response.setCompleted(counts.completed);
        response.setFailures(counts.failed);
        response.setWarnings(counts.warning);
      }
      return response;
    };
    const open = (): boolean => !this.sock.destroyed && this.phase !== 'closed';
    return {
      pending: (counts) => {
        this.lastActivity = Date.now();
        if (open()) this.sendResponse(request, withCounts(0xff00, counts, true));
      },
      final: (status, counts, failedSopInstanceUids, comment) => {
        if (!open()) return;
        // PS3.4 C.4.3.1.3.2: Remaining only in a pending or a Cancel response.
        const response = withCounts(status, counts, status === 0xfe00);
        if (failedSopInstanceUids.length > 0) {
          const transferSyntax = this.assoc?.getAcceptedPresentationContextFromRequest(request)?.getAcceptedTransferSyntaxUid();
          response.setDataset(new WireDataset({ FailedSOPInstanceUIDList: failedSopInstanceUids }, transferSyntax));
        }
        if (comment !== undefined) response.setErrorComment(errorComment(comment));
        callback([response]);
      },
    };
  }

  private runRetrieve(request: requests.CGetRequest | requests.CMoveRequest, retrieveRequest: RetrieveRequest, responder: RetrieveResponder, handler: RetrieveHandler<S>, extra: { ownChannel?: StorageChannel; openDestination?: Parameters<typeof serveRetrieve>[0]['openDestination']; moveOriginator?: { aeTitle: string; messageId: number } }): void {
    if (this.session === null) return;
    const cancel = new AbortController();
    const messageId = request.getMessageId();
    this.cancellable.set(messageId, cancel);
    this.storesInFlight += 1;
    const context = { session: this.session.value, callingAe: this.callingAe, remoteAddress: this.remoteAddress, log: this.log, signal: cancel.signal };
    this.env.track(
      serveRetrieve({ request: retrieveRequest, handler, context, responder, ...extra })
        .catch((error: unknown) => {
          this.log.error({ err: describeError(error) }, 'retrieve failed unexpectedly');
          responder.final(0xa702, undefined, [], 'The archive could not perform the retrieve');
        })
        .finally(() => {
          this.cancellable.delete(messageId);
          this.operationEnded();
        }),
    );
  }

  override nCreateRequest(request: requests.NCreateRequest, callback: (response: responses.NCreateResponse) => void): void {
    const response = responses.NCreateResponse.fromRequest(request);
    response.setStatus(Status.UnrecognizedOperation);
    callback(response);
  }

  /**
   * PS3.4 J.3 Storage Commitment Push Model, SCP role: the N-ACTION-RQ is checked by the service (is each
   * instance durable?), answered, and the result goes back at once as an N-EVENT-REPORT-RQ (J.3.3). The
   * service's verdict comes first, so the report follows the N-ACTION-RSP immediately and an SCU that
   * releases right after the response still receives it before the RP. It goes on this association,
   * unless the service's route says the SCU wants it on a new one; when this association is gone before
   * the report is acknowledged (aborted, dropped) and the service knows the SCU's address, it goes there
   * on a new association. The request counts as in flight (delays our A-RELEASE-RP) only for the part on
   * this association.
   */
  override nActionRequest(request: requests.NActionRequest, callback: (response: responses.NActionResponse) => void): void {
    const commitment = this.env.commitment;
    const answer = (status: number, comment?: string): void => {
      if (this.sock.destroyed || this.phase === 'closed') return;
      const response = responses.NActionResponse.fromRequest(request);
      response.setStatus(status);
      if (comment !== undefined) response.setErrorComment(errorComment(comment));
      callback(response);
    };
    if (commitment === undefined || this.session === null || request.getRequestedSopClassUid() !== STORAGE_COMMITMENT_SOP_CLASS) {
      answer(Status.UnrecognizedOperation);
      return;
    }
    const parsed = parseCommitmentRequest(request.getActionTypeId(), request.getRequestedSopInstanceUid() ?? '', request.getDataset()?.getElements() ?? {}, this.env.maxCommitmentReferences);
    if (!parsed.ok) {
      answer(parsed.status, parsed.comment);
      return;
    }
    const { transactionUid } = parsed.request;
    const context = { session: this.session.value, callingAe: this.callingAe, remoteAddress: this.remoteAddress, log: this.log };
    this.storesInFlight += 1;
    /** The plan, and the report's delivery on this association (undefined: not tried or failed, reason given). */
    const onThisAssociation = async (): Promise<{ plan: CommitmentPlan; delivery: CommitmentDelivery | undefined; reason: string } | undefined> => {
      let plan: CommitmentPlan;
      try {
        plan = await commitment(parsed.request, context);
      } catch (error) {
        this.log.error({ err: describeError(error) }, 'storage commitment check failed');
        answer(0x0110, 'The archive cannot check the commitment now; retry later');
        return undefined;
      }
      answer(CommitmentStatus.Success);
      if (plan.route?.always === true) return { plan, delivery: undefined, reason: 'the SCU asks for reports on a new association' };
      const { eventTypeId, elements } = eventReport(transactionUid, plan.result);
      const report = new requests.NEventReportRequest(STORAGE_COMMITMENT_SOP_CLASS, STORAGE_COMMITMENT_SOP_INSTANCE, eventTypeId);
      const transferSyntax = this.assoc?.getAcceptedPresentationContextFromRequest(request)?.getAcceptedTransferSyntaxUid();
      report.setDataset(new WireDataset(elements, transferSyntax));
      try {
        const status = await sendRequest(this, report, this.env.settings.pduTimeoutMs, this.ended.signal);
        return { plan, delivery: { via: 'same_association', status }, reason: '' };
      } catch (error) {
        return { plan, delivery: undefined, reason: `not acknowledged on the requesting association: ${messageOf(error)}` };
      }
    };
    /** The report on a new association when it did not (or must not) go on this one, then the service is told. */
    const elsewhere = async (first: { plan: CommitmentPlan; delivery: CommitmentDelivery | undefined; reason: string }): Promise<void> => {
      const { plan, reason } = first;
      let delivery = first.delivery;
      if (delivery === undefined && plan.route === undefined) delivery = { via: 'none', reason: `${reason}; no registered address for ${this.callingAe}` };
      if (delivery === undefined && plan.route !== undefined) {
        const settings = this.env.settings;
        try {
          const status = await sendCommitmentReportOnNewAssociation(
            { destination: plan.route.destination, callingAe: settings.aeTitle ?? this.calledAe, timeoutMs: settings.pduTimeoutMs, maxPduLength: settings.maxPduLength },
            transactionUid,
            plan.result,
          );
          delivery = { via: 'new_association', status };
        } catch (error) {
          delivery = { via: 'none', reason: `${reason}; new association to ${plan.route.destination.aeTitle}: ${messageOf(error)}` };
        }
      }
      if (delivery === undefined) return;
      const level = delivery.via === 'none' ? 'warn' : 'info';
      this.log[level]({ transactionUid, committed: plan.result.committed.length, failed: plan.result.failed.length, delivery }, 'storage commitment reported');
      await plan.reported?.(delivery).catch((error: unknown) => this.log.error({ err: describeError(error) }, 'storage commitment: the service could not record the delivery'));
    };
    this.env.track(
      onThisAssociation()
        .finally(() => this.operationEnded())
        .then((first) => (first === undefined ? undefined : elsewhere(first)))
        .catch((error: unknown) => this.log.error({ err: describeError(error) }, 'storage commitment failed unexpectedly')),
    );
  }

  override nDeleteRequest(request: requests.NDeleteRequest, callback: (response: responses.NDeleteResponse) => void): void {
    const response = responses.NDeleteResponse.fromRequest(request);
    response.setStatus(Status.UnrecognizedOperation);
    callback(response);
  }

  override nEventReportRequest(request: requests.NEventReportRequest, callback: (response: responses.NEventReportResponse) => void): void {
    const response = responses.NEventReportResponse.fromRequest(request);
    response.setStatus(Status.UnrecognizedOperation);
    callback(response);
  }

  override nGetRequest(request: requests.NGetRequest, callback: (response: responses.NGetResponse) => void): void {
    const response = responses.NGetResponse.fromRequest(request);
    response.setStatus(Status.UnrecognizedOperation);
    callback(response);
  }

  override nSetRequest(request: requests.NSetRequest, callback: (response: responses.NSetResponse) => void): void {
    const response = responses.NSetResponse.fromRequest(request);
    response.setStatus(Status.UnrecognizedOperation);
    callback(response);
  }

  /** PS3.7 9.3.2.3: cancels the C-FIND, C-GET or C-MOVE with that Message ID; C-STORE is not cancellable, and an unknown id is ignored. */
  override cCancelRequest(request: requests.CCancelRequest): void {
    this.cancellable.get(request.getMessageIdBeingRespondedTo())?.abort();
  }

  // --- shutdown --------------------------------------------------------------------------------------

  /** Server shutdown: let C-STOREs in flight finish (each is bounded by the store timeout), then abort. */
  async shutdown(): Promise<void> {
    // A retrieve stops between two sub-operations (answered 0xFE00) instead of holding the shutdown.
    for (const cancel of this.cancellable.values()) cancel.abort();
    if (this.storesInFlight > 0) await new Promise<void>((resolve) => this.drained.push(resolve));
    if (this.phase === 'closed' || this.phase === 'releasing') return;
    if (this.phase === 'awaiting_request') {
      this.phase = 'closed';
      this.sock.destroy();
      return;
    }
    if (this.phase === 'negotiating') return; // decide() sees isClosing() or its bound and rejects
    this.env.observer.associationEnded('aborted_by_server');
    this.abortAndClose('shutdown');
  }

  /** Resolves when the socket is closed. */
  closed(): Promise<void> {
    if (this.sock.destroyed) return Promise.resolve();
    return new Promise((resolve) => this.sock.once('close', () => resolve()));
  }

  // --- plumbing --------------------------------------------------------------------------------------

  /** A-ABORT (when an association exists to abort) then close. */
  private abortAndClose(why: string, reason: number = AbortReason.NotSpecified): void {
    if (this.phase === 'closed') return;
    const hadAssociation = this.phase !== 'awaiting_request';
    this.log.debug({ why }, 'aborting');
    this.phase = 'closed';
    if (hadAssociation && this.sock.writable) this.sendAbort(AbortSource.ServiceProvider, reason);
    this.closeGracefully();
  }

  /** Half-close after our last PDU; destroy if the peer does not close its side within ARTIM. */
  private closeGracefully(): void {
    this.clearIdleTimer();
    if (this.sock.destroyed) return;
    this.sock.end();
    this.destroyTimer ??= setTimeout(() => this.sock.destroy(), this.env.settings.artimMs);
    this.destroyTimer.unref();
  }

  private armIdleTimer(): void {
    this.clearIdleTimer();
    const timeout = this.env.settings.pduTimeoutMs;
    const check = (): void => {
      if (this.phase !== 'associated') return;
      const idle = Date.now() - this.lastActivity;
      if (this.storesInFlight > 0 || idle < timeout) {
        // Waiting on our own store handler is not the peer's silence; that wait has its own bound.
        this.idleTimer = setTimeout(check, Math.max(timeout - idle, 100));
        return;
      }
      this.log.warn({ timeoutMs: timeout }, 'association idle past the PDU timeout: aborting');
      this.env.observer.associationEnded('timeout');
      this.abortAndClose('idle');
    };
    this.idleTimer = setTimeout(check, timeout);
  }

  /**
   * An operation of ours (a C-STORE with the service, a C-FIND, a retrieve, a commitment report) is over:
   * when none is left, a waiting shutdown goes on and a pending A-RELEASE-RQ is answered.
   */
  private operationEnded(): void {
    this.storesInFlight -= 1;
    this.lastActivity = Date.now();
    if (this.storesInFlight === 0) {
      this.notifyDrained();
      if (this.releaseRequested && this.phase === 'associated') this.release();
    }
  }

  private notifyDrained(): void {
    for (const resolve of this.drained.splice(0)) resolve();
  }

  private clearIdleTimer(): void {
    if (this.idleTimer !== undefined) clearTimeout(this.idleTimer);
    this.idleTimer = undefined;
  }

  private clearAssociationTimer(): void {
    if (this.associationTimer !== undefined) clearTimeout(this.associationTimer);
    this.associationTimer = undefined;
  }

  private clearTimers(): void {
    this.clearIdleTimer();
    this.clearAssociationTimer();
    if (this.destroyTimer !== undefined) clearTimeout(this.destroyTimer);
    this.destroyTimer = undefined;
  }
}

/** An error's message alone, for a reason a person reads (never a stack). */
function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
