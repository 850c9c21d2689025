import { appendAuditEvent, type AuditAction, type AuditDetails, type AuditEventInput, type AuditEventType, type AuditSink } from '@yunying/audit';
import { auditActor, type Principal } from '@yunying/auth';
import type { PoolClient } from '@yunying/catalog';

/** Who is acting, as the route saw them: the principal and where the request came from. */
export interface Caller {
  principal: Principal;
  sourceIp: string | null;
}

/** What a reading route records: lists are 'Query', reads and writes of a study's data 'DICOM Instances Accessed'. */
export interface ReadingAuditEvent {
  type: AuditEventType;
  action?: AuditAction;
  studyInstanceUid?: string;
  clinicId?: string | null;
  details: AuditDetails;
}

function readingEvent(caller: Caller, event: ReadingAuditEvent): AuditEventInput {
  return {
    type: event.type,
    ...(event.action ? { action: event.action } : {}),
    actor: auditActor(caller.principal),
    sourceIp: caller.sourceIp,
    studyInstanceUid: event.studyInstanceUid ?? null,
    clinicId: event.clinicId ?? null,
    details: event.details,
  };
}

/**
 * Every change of patient data in the reading API is recorded in the same transaction as the change, so the
 * response is never sent without its audit record. Details carry UIDs, counts and versions only
 * (appendAuditEvent refuses patient identifiers). A read that changes nothing uses auditRead instead.
 */
export async function auditReading(client: PoolClient, caller: Caller, event: ReadingAuditEvent): Promise<void> {
  await appendAuditEvent(client, readingEvent(caller, event));
}

/**
 * Records a read of patient data that changes nothing, through the process's group-committing audit log, after
 * the read and before the response: the data is never sent without its committed record, and the reads a
 * viewer sends at once (series, banner, report, AI result, key images) share one commit instead of queueing on
 * the audit chain's lock one commit at a time.
 */
export async function auditRead(log: AuditSink, caller: Caller, event: ReadingAuditEvent): Promise<void> {
  await log.append(readingEvent(caller, event));
}

/** The user id of a caller who must be a signed-in person (the reading routes refuse devices). */
export function userIdOf(caller: Caller): string {
  const id = caller.principal.userId;
  if (!id) throw new Error('reading: a user principal was expected');
  return id;
}
