import type { Logger } from '@yunying/core';
import type { TlsPeer, UserIdentity } from './credentials';
import type { StoreAnswer } from './store-status';

/** What the SCP knows of an A-ASSOCIATE-RQ when it asks the service whether to accept it. */
export interface AssociationRequest {
  /** Trimmed; may be empty. */
  callingAe: string;
  /** Trimmed. */
  calledAe: string;
  remoteAddress: string | null;
  /** The TLS peer when the association came on the DICOM TLS port (PS3.15 B.1); null on the plain port. */
  tls: TlsPeer | null;
  /** The A-ASSOCIATE-RQ's User Identity (PS3.7 D.3.3.7); null when none was proposed. */
  userIdentity: UserIdentity | null;
  /** Carries the remote address and both AE titles. */
  log: Logger;
  /** Background work (an audit write that outlives its bound) that `close()` waits for. */
  track(work: Promise<unknown>): void;
}

/**
 * The A-ASSOCIATE-RJ variants (PS3.8 9.3.4) a service may answer with:
 *  - calling / called AE not recognized: rejected-permanent, service-user;
 *  - not authenticated (missing, wrong or unsupported credentials: user identity, TLS certificate):
 *    rejected-permanent, service-user, no-reason-given (PS3.7 D.3.3.7 leaves the reason to the acceptor;
 *    giving none tells a prober nothing about which part failed);
 *  - temporary congestion: rejected-transient, service-provider (presentation): "try again later".
 */
export type AssociationRejection = 'calling_ae_not_recognized' | 'called_ae_not_recognized' | 'not_authenticated' | 'temporary_congestion';

/**
 * The service's answer. `session` is whatever the service needs for the C-STOREs of this association
 * (the archive: the sending clinic). `outcome` labels the rejection in metrics and logs (`rejected_<outcome>`).
 */
export type AssociationDecision<S> = { accept: true; session: S } | { accept: false; reason: AssociationRejection; outcome: string };

/** An accepted association, as a C-STORE handler sees it. */
export interface StoreContext<S> {
  session: S;
  callingAe: string;
  remoteAddress: string | null;
  log: Logger;
}

/**
 * One C-STORE dataset as a Part 10 file (PS3.10 7.1): our file meta group, then the dataset bytes exactly
 * as received. Handed over as chunks so a large instance is never copied unless the service asks.
 */
export interface ReceivedInstance {
  /** (0000,0002) Affected SOP Class UID; equal to the presentation context's abstract syntax. */
  sopClassUid: string;
  /** (0000,1000) Affected SOP Instance UID. */
  sopInstanceUid: string;
  /** The transfer syntax accepted for the presentation context the dataset came on. */
  transferSyntaxUid: string;
  /** The Part 10 file: header first, then the received chunks. */
  readonly chunks: readonly Buffer[];
  byteLength: number;
  /** The Part 10 file in one Buffer. Releases the chunks (so the instance is held once, not twice). */
  toBuffer(): Buffer;
}

export type AssociationEnd = 'released' | 'aborted_by_peer' | 'aborted_by_server' | 'closed_by_peer' | 'timeout';

/** Hooks for the service's metrics. Labels passed here are closed sets, never AE titles or UIDs. */
export interface ScpObserver {
  /** `accepted`, or `rejected_<outcome>` (`rejected_shutting_down`, `rejected_unavailable` from the SCP itself). */
  associationDecided(outcome: string): void;
  associationEnded(how: AssociationEnd): void;
  /** Every C-STORE answer, including one computed after the association ended (then not sent). */
  storeAnswered(status: number, seconds: number): void;
}

export type StoreHandler<S> = (instance: ReceivedInstance, context: StoreContext<S>) => Promise<StoreAnswer>;

/** A C-FIND-RQ on an accepted Query/Retrieve FIND context (PS3.4 C.4.1). */
export interface FindRequest {
  /** The information model of the context's abstract syntax. */
  model: 'patient_root' | 'study_root';
  /** The Identifier as dcmjs naturalized elements (keywords -> values); the service validates it. */
  identifier: Record<string, unknown>;
}

/** An accepted association, as a C-FIND handler sees it. `signal` aborts on C-CANCEL or when the association ends. */
export interface FindContext<S> extends StoreContext<S> {
  signal: AbortSignal;
}

/** One match: its Identifier (naturalized) and whether optional keys were asked that it cannot return (0xFF01). */
export interface FindMatch {
  identifier: Record<string, unknown>;
  optionalKeysUnsupported?: boolean;
}

/** The final C-FIND-RSP when it is not plain success (e.g. a result cap: 0xA700 with a comment). */
export interface FindFinal {
  status: number;
  errorComment?: string;
}

/**
 * Yields the matches (each sent at once as a pending C-FIND-RSP) and returns the final status, or
 * nothing for success. Throwing gives 0xA900 for a non-retryable AppError (identifier does not match
 * the SOP class) and 0xA700 otherwise. Stops when `signal` aborts: the SCP then answers 0xFE00.
 */
export type FindHandler<S> = (request: FindRequest, context: FindContext<S>) => AsyncGenerator<FindMatch, FindFinal | void, void>;

/** A C-GET-RQ or C-MOVE-RQ on an accepted Query/Retrieve GET or MOVE context (PS3.4 C.4.2, C.4.3). */
export interface RetrieveRequest {
  operation: 'get' | 'move';
  model: 'patient_root' | 'study_root';
  /** The Identifier as dcmjs naturalized elements; the service validates it. */
  identifier: Record<string, unknown>;
  /** C-MOVE: (0000,0600) Move Destination, trimmed. */
  moveDestination?: string;
}

/** One instance to send as a storage sub-operation. */
export interface RetrieveItem {
  sopClassUid: string;
  sopInstanceUid: string;
  /** As catalogued: what C-MOVE proposes to the destination. The file's own meta decides what is sent. */
  transferSyntaxUid: string;
  /** The stored Part 10 file. */
  load(): Promise<Uint8Array>;
}

/** Where a C-MOVE sends: the service resolved the Move Destination AE title. */
export interface MoveDestination {
  aeTitle: string;
  host: string;
  port: number;
  /** DICOM TLS (PS3.15 B.1) with the destination's certificate verified; absent: plain TCP. */
  tls?: OutboundTls;
}

/** How the archive verifies a destination's certificate: always verified, never skipped. */
export interface OutboundTls {
  /** PEM CA certificate(s) the destination's certificate must chain to; absent: Node's default CAs. */
  caPem?: string;
  /** Name the certificate must carry (and the SNI); absent: the destination's host. */
  serverName?: string;
}

/** How a retrieve ended, for the service's audit. UIDs are of instances, never patient data. */
export interface RetrieveOutcome {
  status: number;
  completed: number;
  failed: number;
  warning: number;
  /** Not attempted (cancel, or the association / destination went away). */
  remaining: number;
  sent: string[];
  failedSopInstanceUids: string[];
  /** Why no sub-operation could be attempted (the destination unreachable or its certificate not verified), else why the first failed one failed; never patient data. */
  reason?: string;
}

/**
 * The service's answer to a retrieve: the instances to send (already limited to what the calling AE may
 * see) and, for C-MOVE, the destination; or a refusal with its status (e.g. 0xA801 unknown destination).
 * `finished` is called once, before the final response goes out (the audit record).
 */
export type RetrievePlan =
  | { accept: true; items: RetrieveItem[]; destination?: MoveDestination; finished(outcome: RetrieveOutcome): Promise<void> }
  | { accept: false; status: number; errorComment: string };

/** Throwing gives 0xA900 for a non-retryable AppError (identifier does not match the SOP class), else 0xA701. */
export type RetrieveHandler<S> = (request: RetrieveRequest, context: FindContext<S>) => Promise<RetrievePlan>;

/** One instance named in a Storage Commitment request (PS3.4 J.3.2.1.1). */
export interface CommitmentReference {
  sopClassUid: string;
  sopInstanceUid: string;
}

/** An N-ACTION-RQ of the Storage Commitment Push Model (PS3.4 J.3.2), parsed. */
export interface CommitmentRequest {
  transactionUid: string;
  references: CommitmentReference[];
}

/**
 * The service's verdict: each reference committed, or failed with a Failure Reason (0008,1197)
 * (PS3.4 J.3.2.1.1.2: 0x0110 processing failure, 0x0112 no such object instance, 0x0119 class-instance
 * conflict, 0x0122 SOP class not supported).
 */
export interface CommitmentResult {
  committed: CommitmentReference[];
  failed: Array<CommitmentReference & { failureReason: number }>;
}

/**
 * Where the N-EVENT-REPORT goes besides the requesting association (PS3.4 J.3.3): the SCU's registered
 * address, reached on an association the archive opens.
 */
export interface CommitmentReportRoute {
  destination: MoveDestination;
  /** Every report goes there (the SCU's registration asks for it); otherwise only when the requesting association is gone. */
  always: boolean;
}

/** How the report went out: on the requesting association, on a new one (with the N-EVENT-REPORT-RSP status), or not at all and why. */
export type CommitmentDelivery =
  | { via: 'same_association' | 'new_association'; status: number }
  | { via: 'none'; reason: string };

/** The service's answer to a Storage Commitment request. */
export interface CommitmentPlan {
  result: CommitmentResult;
  /** Absent: the report goes on the requesting association only. */
  route?: CommitmentReportRoute;
  /** Called once, when the report went out or could not (the audit record); a rejection is logged. */
  reported?(delivery: CommitmentDelivery): Promise<void>;
}

export type CommitmentHandler<S> = (request: CommitmentRequest, context: StoreContext<S>) => Promise<CommitmentPlan>;
