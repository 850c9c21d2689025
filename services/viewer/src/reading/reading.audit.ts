import { appendAuditEvent, type AuditAction, type AuditDetails, type AuditEventType } from '@yunying/audit';
import { auditActor, type Principal } from '@yunying/auth';
import type { PoolClient } from '@yunying/catalog';

/** Who is acting, as the route saw them: the principal and where the request came from. */
export interface Caller {
  principal: Principal;
  sourceIp: string | null;
}

/**
 * Every read or change of patient data in the reading API is recorded in the same transaction as the work,
 * so the response is never sent without its audit record. Lists are 'Query', reads and writes of a study's
 * reading data 'DICOM Instances Accessed' with the action (R/C/U) and `details.what`. Details carry UIDs,
 * counts and versions only (appendAuditEvent refuses patient identifiers).
 */
export async function auditReading(
  client: PoolClient,
  caller: Caller,
  event: { type: AuditEventType; action?: AuditAction; studyInstanceUid?: string; clinicId?: string | null; details: AuditDetails },
): Promise<void> {
  await appendAuditEvent(client, {
    type: event.type,
    ...(event.action ? { action: event.action } : {}),
    actor: auditActor(caller.principal),
    sourceIp: caller.sourceIp,
    studyInstanceUid: event.studyInstanceUid ?? null,
    clinicId: event.clinicId ?? null,
    details: event.details,
  });
}

/** The user id of a caller who must be a signed-in person (the reading routes refuse devices). */
export function userIdOf(caller: Caller): string {
  const id = caller.principal.userId;
  if (!id) throw new Error('reading: a user principal was expected');
  return id;
}
