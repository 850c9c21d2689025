import type { Registry } from 'prom-client';
import { describeError, type Logger } from '@yunying/core';
import { appendAuditEvent } from '@yunying/audit';
import { findClinicByAeTitle, inTransaction, type Pool } from '@yunying/catalog';
import {
  answerForException,
  SCP_DEFAULTS,
  startScpServer,
  statusLabel,
  withTimeout,
  type AssociationDecision,
  type AssociationRequest,
  type ReceivedInstance,
  type ScpTlsOptions,
  type StoreAnswer,
  type StoreContext,
} from '@yunying/dimse';
import type { ReplicatedStore } from '@yunying/storage';
import type { BatchLimits, IngestBatch, Sender } from '../ingest.pipeline';
import { dimseMetrics } from './dimse.metrics';
import { answerForOutcome } from './store-status';
import { archiveFindHandler, type ClinicSession } from './find.handler';
import { archiveRetrieveHandler } from './retrieve.handler';
import { archiveCommitmentHandler } from './commitment.handler';
import { CommitmentRetrier, type CommitmentRetrySettings } from './commitment.retry';
import { checkAssociationCredentials, type ApiKeyVerifier, type CredentialVerdict } from './association.credentials';
import { AssociationThrottle, type ThrottleSettings } from './association.throttle';

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
  /** The ingest pipeline (IngestPipeline): each association stores through one group-committing batch. */
  pipeline: DimseIngest;
  /**
   * The archive's object store: C-GET and C-MOVE read instances from it, and Storage Commitment requires a
   * verified copy on each of its targets. Without it those contexts are refused.
   */
  store?: Pick<ReplicatedStore, 'read' | 'targets'>;
  logger: Logger;
  metrics: Registry;
  /** The largest P-DATA PDU we accept (A-ASSOCIATE-AC Maximum Length). Default 256 KiB. */
  maxPduLength?: number;
  /** From connecting to the A-ASSOCIATE-RQ; also bounds the AE lookup and the audit of a rejection. Default 30 s. */
  associationTimeoutMs?: number;
  /** Peer silence on an association while nothing of ours is pending. Default 60 s. */
  pduTimeoutMs?: number;
  /** One instance through the pipeline; past it the C-STORE is answered 0xA700. Default 60 s. */
  storeTimeoutMs?: number;
  /** Largest dataset accepted; a larger one is drained and answered 0xA700. Default 1 GiB. */
  maxInstanceBytes?: number;
  /** The most matches one C-FIND returns (then 0xA700). Default 1000. */
  maxFindResults?: number;
  /** Checks a User Identity passcode as an API key (PS3.7 D.3.3.7). Without it no passcode is accepted. */
  verifyApiKey?: ApiKeyVerifier;
  /** The DICOM TLS listener (PS3.15 B.1); client certificates are mapped to clinic devices. */
  tls?: ScpTlsOptions;
  /** Refused associations tolerated per source address and window. Default 20 a minute. */
  failedAssociations?: ThrottleSettings;
  /** Storage Commitment reports that reached nobody are retried on this schedule (defaults: CommitmentRetrier); false: not kept. */
  commitmentRetry?: CommitmentRetrySettings | false;
  /**
   * Asynchronous operations window (PS3.7 D.3.3.3): the most C-STOREs an SCU that proposes a window may
   * have outstanding on one association. Default 16; 1 answers every proposal with the synchronous default.
   */
  maxOperationsInvoked?: number;
  /** Instances of one association per catalog transaction and bytes held for it (INGEST_BATCH_MAX_*); defaults 64 and 32 MiB. */
  batch?: { maxInstances: number; maxBytes: number };
}

/** What the DICOM port needs of IngestPipeline. */
export interface DimseIngest {
  openBatch(sender: Sender, expectedStudyUid: undefined, limits: BatchLimits): Pick<IngestBatch, 'add'>;
}

export interface DimseServer {
  port: number;
  /** The DICOM TLS port; null when not configured. */
  tlsPort: number | null;
  /** One pass of the Storage Commitment report retrier now (it also runs on its own schedule); resolves with the reports delivered. */
  retryCommitmentReports(): Promise<number>;
  /** Stops accepting, lets C-STOREs in flight finish (bounded), aborts the remaining associations. */
  close(): Promise<void>;
}

/** (0002,0012) / (0002,0013) of the archive's SCP; the gateway has its own. Exported for tests that predict the Part 10 file. */
export const ARCHIVE_IMPLEMENTATION = { classUid: '1.2.826.0.1.3680043.10.1557.1', versionName: 'YUNYING_0_1' };
const DEFAULT_ASSOCIATION_TIMEOUT_MS = 30_000;
const DEFAULT_STORE_TIMEOUT_MS = 60_000;
const DEFAULT_MAX_FIND_RESULTS = 1000;
const DEFAULT_AUDIT_UIDS = 100;
/**
 * C-STOREs one association may have outstanding. Each holds its dataset in memory until committed, so the
 * window bounds an association's memory (16 x the instance size) as STOW-RS's batch bounds a request's.
 */
const DEFAULT_MAX_OPERATIONS_INVOKED = 16;
/** A transaction of one association's C-STOREs: all those staged while the one before it ran (group commit). */
const DEFAULT_ASSOCIATION_BATCH = { maxInstances: 64, maxBytes: 32 * 1024 * 1024 };

/**
 * The archive's DICOM port: the shared SCP (@yunying/dimse) with what is particular to the archive:
 * calling AE title -> clinic (`clinic_ae_titles`), a Security Alert for every rejected association, and
 * every C-STORE through the same IngestPipeline as STOW-RS.
 */
export async function startDimseServer(options: DimseServerOptions): Promise<DimseServer> {
  const logger = options.logger.child({ component: 'dimse' });
  const metrics = dimseMetrics(options.metrics);
  const associationTimeoutMs = options.associationTimeoutMs ?? DEFAULT_ASSOCIATION_TIMEOUT_MS;
  const { aeTitle, checkCalledAe, pool, pipeline } = options;
  const verifyApiKey: ApiKeyVerifier = options.verifyApiKey ?? (() => Promise.resolve(null));
  const throttle = new AssociationThrottle(options.failedAssociations ?? { maxFailures: 20, windowMs: 60_000 });

  /**
   * PS3.15 A.5.3.11 Security Alert: a device presented an AE title this archive does not know. Written
   * before the A-ASSOCIATE-RJ goes out (so the record exists once the peer knows), within the
   * association bound; a failed write is logged and does not keep the peer waiting.
   */
  const auditRejected = async (request: AssociationRequest, reason: string): Promise<void> => {
    const { callingAe, calledAe, log } = request;
    const throttledFromNow = throttle.recordFailure(request.remoteAddress);
    // What was presented, never a passcode: whether TLS and a client certificate, the user identity's type and name.
    const presented = {
      tls: request.tls !== null,
      ...(request.tls?.fingerprint256 ? { certificate: request.tls.fingerprint256 } : {}),
      ...(request.userIdentity ? { userIdentity: request.userIdentity.kind, userIdentityName: request.userIdentity.username.slice(0, 64) } : {}),
    };
    const work = inTransaction(pool, (client) =>
      appendAuditEvent(client, {
        type: 'Security Alert',
        outcome: 4,
        actor: { username: `ae:${callingAe}`, role: 'device', clinicId: null },
        sourceIp: request.remoteAddress,
        details: {
          via: 'DIMSE',
          event: 'association_rejected',
          reason,
          callingAeTitle: callingAe,
          calledAeTitle: calledAe,
          ...presented,
          // Recorded once, on the refusal that starts throttling the address (not one record per throttled try).
          ...(throttledFromNow ? { sourceThrottled: true } : {}),
        },
      }),
    ).catch((error: unknown) => {
      log.error({ err: describeError(error) }, 'could not audit the rejected association');
    });
    request.track(work);
    await withTimeout(work, associationTimeoutMs).catch(() => {
      log.error('auditing the rejected association is slow; rejecting without waiting');
    });
  };

  const onAssociation = async (request: AssociationRequest): Promise<AssociationDecision<ClinicSession>> => {
    const { callingAe, calledAe, log } = request;
    if (throttle.isThrottled(request.remoteAddress)) {
      log.warn('too many refused associations from this address: rejecting (transient) without looking further');
      return { accept: false, reason: 'temporary_congestion', outcome: 'throttled' };
    }
    if (checkCalledAe && calledAe !== aeTitle) {
      await auditRejected(request, 'called AE title not recognized');
      return { accept: false, reason: 'called_ae_not_recognized', outcome: 'called_ae_not_recognized' };
    }
    if (callingAe === '') {
      await auditRejected(request, 'empty calling AE title');
      return { accept: false, reason: 'calling_ae_not_recognized', outcome: 'calling_ae_not_recognized' };
    }
    let clinicId: string | null;
    try {
      const clinic = await withTimeout(findClinicByAeTitle(pool, callingAe), associationTimeoutMs);
      clinicId = clinic?.id ?? null;
    } catch (error) {
      // The catalog is down or slow: a transient rejection tells the SCU to try again later.
      log.error({ err: describeError(error) }, 'calling AE lookup failed: rejecting the association (transient)');
      return { accept: false, reason: 'temporary_congestion', outcome: 'unavailable' };
    }
    if (clinicId === null) {
      await auditRejected(request, 'calling AE title not recognized');
      return { accept: false, reason: 'calling_ae_not_recognized', outcome: 'calling_ae_not_recognized' };
    }
    let verdict: CredentialVerdict;
    try {
      verdict = await withTimeout(checkAssociationCredentials(request, clinicId, { pool, verifyApiKey }), associationTimeoutMs);
    } catch (error) {
      log.error({ err: describeError(error) }, 'credential check failed: rejecting the association (transient)');
      return { accept: false, reason: 'temporary_congestion', outcome: 'unavailable' };
    }
    if (!verdict.ok) {
      await auditRejected(request, verdict.reason);
      return { accept: false, reason: 'not_authenticated', outcome: 'not_authenticated' };
    }
    log.info({ authenticatedBy: verdict.via, credential: verdict.credential }, 'association authenticated');
    return { accept: true, session: { clinicId } };
  };

  /**
   * One batch per association (the session object is the association's): a C-STORE alone is committed at
   * once, as before; those an SCU has in flight together (asynchronous operations window) share catalog
   * transactions. Each C-STORE-RSP still waits for its own instance's commit.
   */
  const associationBatch: BatchLimits = { ...(options.batch ?? DEFAULT_ASSOCIATION_BATCH), commitWhenIdle: true };
  const batches = new WeakMap<ClinicSession, Pick<IngestBatch, 'add'>>();
  const batchOf = (context: StoreContext<ClinicSession>): Pick<IngestBatch, 'add'> => {
    const existing = batches.get(context.session);
    if (existing !== undefined) return existing;
    const { clinicId } = context.session;
    const sender: Sender = {
      clinicId,
      actor: { username: `ae:${context.callingAe}`, role: 'device', clinicId },
      sourceIp: context.remoteAddress,
      via: 'DIMSE',
    };
    const batch = pipeline.openBatch(sender, undefined, associationBatch);
    batches.set(context.session, batch);
    return batch;
  };

  const onStore = async (instance: ReceivedInstance, context: StoreContext<ClinicSession>): Promise<StoreAnswer> => {
    const { sopInstanceUid, sopClassUid } = instance;
    try {
      const { staged, outcome: outcomeOf } = batchOf(context).add(instance.toBuffer());
      // A request-level error (the clinic is gone) rejects `staged`: answered from the exception, as before.
      await staged;
      const outcome = await outcomeOf;
      const answer = answerForOutcome(outcome);
      if (outcome.status === 'rejected') {
        context.log.warn({ sopInstanceUid, sopClassUid, reason: outcome.reason, status: statusLabel(answer.status) }, 'C-STORE refused');
      } else {
        context.log.debug({ sopInstanceUid, outcome: outcome.status }, 'C-STORE stored');
      }
      return answer;
    } catch (error) {
      // The pipeline returns outcomes for everything it expects; an exception still gets an answer.
      context.log.error({ sopInstanceUid, err: describeError(error) }, 'ingest failed unexpectedly');
      return answerForException(error);
    }
  };

  const retrier =
    options.store === undefined || options.commitmentRetry === false
      ? undefined
      : new CommitmentRetrier({
          pool,
          logger,
          aeTitle,
          timeoutMs: options.pduTimeoutMs ?? SCP_DEFAULTS.pduTimeoutMs,
          maxPduLength: options.maxPduLength ?? SCP_DEFAULTS.maxPduLength,
          auditUids: DEFAULT_AUDIT_UIDS,
          ...(options.commitmentRetry ?? {}),
        });

  const server = await startScpServer<ClinicSession>({
    host: options.host,
    port: options.port,
    implementation: ARCHIVE_IMPLEMENTATION,
    aeTitle,
    logger,
    onAssociation,
    onStore,
    onFind: archiveFindHandler({ pool, maxResults: options.maxFindResults ?? DEFAULT_MAX_FIND_RESULTS }),
    onRetrieve:
      options.store === undefined
        ? undefined
        : archiveRetrieveHandler({ pool, store: options.store, onFinished: (operation, outcome) => metrics.retrieveFinished(operation, statusLabel(outcome.status), outcome) }),
    onCommitment:
      options.store === undefined
        ? undefined
        : archiveCommitmentHandler({
            pool,
            targets: options.store.targets.map((t) => t.name),
            onChecked: (result) => metrics.commitmentChecked(result.committed.length, result.failed.length),
            auditUids: DEFAULT_AUDIT_UIDS,
            ...(retrier !== undefined ? { retry: { firstRetryMs: retrier.firstRetryMs, keepForMs: retrier.keepForMs } } : {}),
          }),
    shuttingDownComment: 'The archive is shutting down; retry later',
    observer: {
      associationDecided: (outcome) => metrics.associationDecided(outcome),
      associationEnded: (how) => metrics.associationEnded(how),
      storeAnswered: (status, seconds) => metrics.storeAnswered(statusLabel(status), seconds),
    },
    maxPduLength: options.maxPduLength,
    associationTimeoutMs,
    pduTimeoutMs: options.pduTimeoutMs,
    storeTimeoutMs: options.storeTimeoutMs ?? DEFAULT_STORE_TIMEOUT_MS,
    maxInstanceBytes: options.maxInstanceBytes,
    maxOperationsInvoked: options.maxOperationsInvoked ?? DEFAULT_MAX_OPERATIONS_INVOKED,
    ...(options.tls ? { tls: options.tls } : {}),
  });
  retrier?.start();
  logger.info({ host: options.host, port: server.port, tlsPort: server.tlsPort, aeTitle, checkCalledAe }, 'DIMSE SCP listening');
  let closed: Promise<void> | undefined;
  return {
    port: server.port,
    tlsPort: server.tlsPort,
    retryCommitmentReports: () => retrier?.tick() ?? Promise.resolve(0),
    close: () => (closed ??= Promise.all([server.close(), retrier?.stop()]).then(() => logger.info('DIMSE SCP closed'))),
  };
}
