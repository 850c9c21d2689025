import { describeError, isAppError, type Logger } from '@yunying/core';
import { chooseOutgoingSyntax, convertNativeDataset, releaseStoreDataset, storeRequest } from './outgoing';
import { splitPart10 } from './part10';
import type { FindContext, MoveDestination, RetrieveHandler, RetrieveItem, RetrieveOutcome, RetrieveRequest } from './scp.types';
import { SubOperationError, type StorageChannel } from './store-channel';
import { DestinationCertificateError, type OutboundStorage } from './storage-scu';

/** C-GET-RSP / C-MOVE-RSP statuses (PS3.4 C.4.2.1.5, C.4.3.1.4). */
export const RetrieveStatus = {
  Success: 0x0000,
  Pending: 0xff00,
  Cancel: 0xfe00,
  SubOperationsCompleteWithFailures: 0xb000,
  UnableToCalculateMatches: 0xa701,
  UnableToPerformSubOperations: 0xa702,
  MoveDestinationUnknown: 0xa801,
  IdentifierDoesNotMatchSopClass: 0xa900,
} as const;

export interface RetrieveCounts {
  remaining: number;
  completed: number;
  failed: number;
  warning: number;
}

/** What the SCP sends back for one retrieve, whatever its DIMSE type. */
export interface RetrieveResponder {
  pending(counts: RetrieveCounts): void;
  /** `counts` absent: a refusal before any sub-operation. `failedSopInstanceUids` go in (0008,0058). */
  final(status: number, counts: RetrieveCounts | undefined, failedSopInstanceUids: string[], errorComment?: string): void;
}

export interface RetrieveRun<S> {
  request: RetrieveRequest;
  handler: RetrieveHandler<S>;
  context: FindContext<S>;
  responder: RetrieveResponder;
  /** C-GET: this association. */
  ownChannel?: StorageChannel;
  /** C-MOVE: opens the association to the destination for these SOP classes and syntaxes. */
  openDestination?: (destination: MoveDestination, instances: ReadonlyMap<string, ReadonlySet<string>>) => Promise<OutboundStorage>;
  /** C-MOVE: (0000,1030)/(0000,1031) of each sub-operation. */
  moveOriginator?: { aeTitle: string; messageId: number };
}

/** Warning statuses of C-STORE (PS3.4 B.2.3): stored, with coercion or elements discarded. */
function isStoreWarning(status: number): boolean {
  return status === 0x0001 || (status & 0xf000) === 0xb000;
}

class SubOperationFailed extends Error {}

/** One instance, loaded, taken apart and put in a syntax the peer accepted, then stored. */
async function sendOne(item: RetrieveItem, channel: StorageChannel, originator: RetrieveRun<unknown>['moveOriginator']): Promise<number> {
  let parts;
  try {
    parts = splitPart10(await item.load());
  } catch (error) {
    throw new SubOperationFailed(`cannot read the stored instance: ${describeError(error)}`);
  }
  const choice = chooseOutgoingSyntax(parts.transferSyntaxUid, channel.acceptedSyntaxes(parts.sopClassUid));
  if (!choice.ok) throw new SubOperationFailed(choice.reason);
  let dataset = parts.dataset;
  if (choice.convert) {
    try {
      dataset = convertNativeDataset(dataset, parts.transferSyntaxUid, choice.transferSyntaxUid);
    } catch (error) {
      throw new SubOperationFailed(`cannot convert to ${choice.transferSyntaxUid}: ${describeError(error)}`);
    }
  }
  const request = storeRequest({ sopClassUid: parts.sopClassUid, sopInstanceUid: parts.sopInstanceUid, transferSyntaxUid: choice.transferSyntaxUid, dataset }, originator);
  try {
    return await channel.store(request);
  } finally {
    releaseStoreDataset(request);
  }
}

/**
 * The storage sub-operations of one retrieve, one after the other, with a pending response after each.
 * A sub-operation that cannot be done (unreadable object, syntax the peer refused) or that the peer
 * answers with a failure is counted failed and the next one goes; a channel that breaks (association
 * gone, no response in time) fails the one in flight and every one after it. Cancel stops between two
 * and leaves the rest remaining. Success only when every sub-operation succeeded without warning (0xB000 otherwise).
 */
async function runSubOperations(items: RetrieveItem[], channel: StorageChannel, run: RetrieveRun<unknown>, log: Logger): Promise<RetrieveOutcome> {
  const counts: RetrieveCounts = { remaining: items.length, completed: 0, failed: 0, warning: 0 };
  const sent: string[] = [];
  const failedUids: string[] = [];
  /** Why the first failed sub-operation failed: the final response's Error Comment and the audit's reason. */
  let firstFailure: string | undefined;
  let broken = false;
  for (const item of items) {
    if (run.context.signal.aborted || broken) break;
    counts.remaining -= 1;
    try {
      const status = await sendOne(item, channel, run.moveOriginator);
      if (status === 0x0000) counts.completed += 1;
      else if (isStoreWarning(status)) counts.warning += 1;
      else {
        counts.failed += 1;
        failedUids.push(item.sopInstanceUid);
        log.warn({ sopInstanceUid: item.sopInstanceUid, status: `0x${status.toString(16)}` }, 'storage sub-operation refused by the peer');
        firstFailure ??= `C-STORE refused by the peer: 0x${status.toString(16).toUpperCase().padStart(4, '0')}`;
      }
      if (status === 0x0000 || isStoreWarning(status)) sent.push(item.sopInstanceUid);
    } catch (error) {
      counts.failed += 1;
      failedUids.push(item.sopInstanceUid);
      if (error instanceof SubOperationError) broken = true;
      log.warn({ sopInstanceUid: item.sopInstanceUid, reason: describeError(error) }, 'storage sub-operation failed');
      firstFailure ??= error instanceof Error ? error.message : 'storage sub-operation failed';
    }
    if (!broken && !run.context.signal.aborted && counts.remaining > 0) run.responder.pending({ ...counts });
  }
  let status: number;
  if (run.context.signal.aborted && counts.remaining > 0) status = RetrieveStatus.Cancel;
  else if (counts.failed === 0 && counts.warning === 0 && counts.remaining === 0) status = RetrieveStatus.Success;
  else if (counts.completed + counts.warning === 0) status = RetrieveStatus.UnableToPerformSubOperations;
  else status = RetrieveStatus.SubOperationsCompleteWithFailures;
  if (status !== RetrieveStatus.Cancel && counts.remaining > 0) {
    // The channel broke: what was not attempted failed too (PS3.4 C.4.2.3.1: every sub-operation is accounted for).
    for (const item of items.slice(items.length - counts.remaining)) failedUids.push(item.sopInstanceUid);
    counts.failed += counts.remaining;
    counts.remaining = 0;
  }
  return { status, ...counts, sent, failedSopInstanceUids: failedUids, ...(firstFailure !== undefined && counts.failed > 0 ? { reason: firstFailure } : {}) };
}

function sopClassesAndSyntaxes(items: readonly RetrieveItem[]): Map<string, Set<string>> {
  const out = new Map<string, Set<string>>();
  for (const item of items) {
    const set = out.get(item.sopClassUid) ?? new Set<string>();
    set.add(item.transferSyntaxUid);
    out.set(item.sopClassUid, set);
  }
  return out;
}

/**
 * One C-GET or C-MOVE from request to final response: the service plans (tenancy, destination), the
 * sub-operations run, the service records the outcome, then the final response with the counts and the
 * Failed SOP Instance UID List. Always ends in exactly one final response.
 */
export async function serveRetrieve<S>(run: RetrieveRun<S>): Promise<void> {
  const { context, responder } = run;
  const log = context.log.child({ retrieve: run.request.operation });
  let plan;
  try {
    plan = await run.handler(run.request, context);
  } catch (error) {
    if (isAppError(error) && !error.retryable) {
      responder.final(RetrieveStatus.IdentifierDoesNotMatchSopClass, undefined, [], error.message);
      return;
    }
    log.error({ err: describeError(error) }, 'retrieve could not be planned');
    responder.final(RetrieveStatus.UnableToCalculateMatches, undefined, [], 'The archive is temporarily unable to retrieve; retry later');
    return;
  }
  if (!plan.accept) {
    responder.final(plan.status, undefined, [], plan.errorComment);
    return;
  }
  const { items } = plan;
  let outcome: RetrieveOutcome;
  let comment: string | undefined;
  let destination: OutboundStorage | undefined;
  try {
    let channel = run.ownChannel;
    if (items.length > 0 && plan.destination !== undefined && run.openDestination !== undefined) {
      try {
        destination = await run.openDestination(plan.destination, sopClassesAndSyntaxes(items));
        channel = destination;
      } catch (error) {
        log.warn({ destination: plan.destination.aeTitle, reason: describeError(error) }, 'cannot open the association to the move destination');
        // Error Comment is LO: at most 64 characters.
        comment = error instanceof DestinationCertificateError ? 'Move destination TLS certificate not verified' : 'Cannot open an association to the move destination';
        channel = undefined;
      }
    }
    if (items.length === 0) {
      // Nothing matched (or nothing of this clinic): success with zero sub-operations, no association opened.
      outcome = { status: RetrieveStatus.Success, remaining: 0, completed: 0, failed: 0, warning: 0, sent: [], failedSopInstanceUids: [] };
    } else if (channel === undefined) {
      outcome = { status: RetrieveStatus.UnableToPerformSubOperations, remaining: 0, completed: 0, failed: items.length, warning: 0, sent: [], failedSopInstanceUids: items.map((i) => i.sopInstanceUid), ...(comment !== undefined ? { reason: comment } : {}) };
    } else {
      responder.pending({ remaining: items.length, completed: 0, failed: 0, warning: 0 });
      outcome = await runSubOperations(items, channel, run as RetrieveRun<unknown>, log);
    }
  } finally {
    await destination?.release();
  }
  await plan.finished(outcome).catch((error: unknown) => log.error({ err: describeError(error) }, 'could not record the retrieve'));
  log.info({ status: `0x${outcome.status.toString(16)}`, completed: outcome.completed, failed: outcome.failed, warning: outcome.warning, remaining: outcome.remaining }, 'retrieve finished');
  // A failed sub-operation says why (e.g. a stored syntax the peer did not accept: no transcoding).
  responder.final(outcome.status, outcome, outcome.status === RetrieveStatus.Success ? [] : outcome.failedSopInstanceUids, comment ?? outcome.reason);
}
