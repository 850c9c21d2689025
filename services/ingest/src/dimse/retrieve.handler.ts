import { describeError } from '@yunying/core';
import { appendAuditEvent, type AuditEventType, type AuditDetails } from '@yunying/audit';
import { findInstances } from '@yunying/archive';
import type { Principal } from '@yunying/auth';
import { inTransaction, type Pool } from '@yunying/catalog';
import type { ReplicatedStore } from '@yunying/storage';
import { RetrieveStatus, type FindContext, type MoveDestination, type RetrieveHandler, type RetrieveOutcome, type RetrievePlan, type RetrieveRequest } from '@yunying/dimse';
import type { ClinicSession } from './find.handler';
import { findMoveDestination } from './move-destinations';
import { retrieveScopeOf } from './retrieve.identifier';

export interface RetrieveHandlerOptions {
  pool: Pool;
  /** Where the instances' objects are: read exactly as WADO-RS reads them. */
  store: Pick<ReplicatedStore, 'read'>;
  /** Study UIDs named in one audit record; beyond it only the count. */
  auditStudyUids?: number;
  /** Told how each retrieve that ran its sub-operations ended (metrics). */
  onFinished?: (operation: 'get' | 'move', outcome: RetrieveOutcome) => void;
}

const DEFAULT_AUDIT_STUDY_UIDS = 100;

/** The calling AE as the tenancy filter of @yunying/auth sees it: a device of its clinic, that clinic only. */
function devicePrincipal(callingAe: string, clinicId: string): Principal {
  return { kind: 'device', username: `ae:${callingAe}`, role: 'clinic', clinicId, clinics: { all: false, clinicIds: [clinicId] } };
}

function hex(status: number): string {
  return `0x${status.toString(16).toUpperCase().padStart(4, '0')}`;
}

/**
 * C-GET / C-MOVE of the archive (PS3.4 C.4.2, C.4.3): the Identifier becomes an instance scope, the
 * instances are found with the same query and tenancy filter as WADO-RS (`findInstances`, the calling
 * AE's clinic only: another clinic's study matches nothing, exactly like a study that does not exist)
 * and read from the replicated store like WADO-RS reads them. Audited twice (PS3.15 A.5.3.3, A.5.3.7):
 * Begin Transferring DICOM Instances before the first sub-operation, DICOM Instances Transferred with
 * the outcome; both with study UIDs and counts, never patient attributes.
 */
export function archiveRetrieveHandler(options: RetrieveHandlerOptions): RetrieveHandler<ClinicSession> {
  const { pool, store } = options;
  const auditLimit = options.auditStudyUids ?? DEFAULT_AUDIT_STUDY_UIDS;

  const audit = async (type: AuditEventType, context: FindContext<ClinicSession>, studyUids: readonly string[], outcome: 0 | 4, details: AuditDetails): Promise<void> => {
    const { clinicId } = context.session;
    await inTransaction(pool, (client) =>
      appendAuditEvent(client, {
        type,
        outcome,
        actor: { username: `ae:${context.callingAe}`, role: 'device', clinicId },
        sourceIp: context.remoteAddress,
        clinicId,
        studyInstanceUid: studyUids.length === 1 ? studyUids[0] : null,
        details: { via: 'DIMSE', ...details, studyInstanceUids: studyUids.slice(0, auditLimit), studyInstanceUidsOmitted: Math.max(0, studyUids.length - auditLimit) },
      }),
    );
  };

  return async function retrieve(request: RetrieveRequest, context: FindContext<ClinicSession>): Promise<RetrievePlan> {
    const { clinicId } = context.session;
    const { level, scope } = retrieveScopeOf(request.model, request.identifier);
    const base: AuditDetails = { operation: request.operation === 'get' ? 'C-GET' : 'C-MOVE', model: request.model, level };
    if (request.moveDestination !== undefined) base.moveDestination = request.moveDestination;

    let destination: MoveDestination | undefined;
    if (request.operation === 'move') {
      const found = await findMoveDestination(pool, clinicId, request.moveDestination ?? '');
      if (found === null) {
        context.log.warn({ moveDestination: request.moveDestination }, 'C-MOVE to an AE title not registered for this clinic');
        await audit('Begin Transferring DICOM Instances', context, [], 4, { ...base, status: hex(RetrieveStatus.MoveDestinationUnknown) }).catch((error: unknown) =>
          context.log.error({ err: describeError(error) }, 'could not audit the refused C-MOVE'),
        );
        return { accept: false, status: RetrieveStatus.MoveDestinationUnknown, errorComment: 'Move Destination unknown' };
      }
      destination = found;
      base.moveDestinationTls = found.tls !== undefined;
    }

    const rows = await findInstances(pool, devicePrincipal(context.callingAe, clinicId), scope);
    const studyUids = [...new Set(rows.map((r) => r.studyInstanceUid))];
    // Written before the first sub-operation: a transfer is never under way without its record.
    await audit('Begin Transferring DICOM Instances', context, studyUids, 0, { ...base, matches: rows.length });
    context.log.info({ level, matches: rows.length, studies: studyUids.length }, 'retrieve planned');
    return {
      accept: true,
      destination,
      items: rows.map((row) => ({
        sopClassUid: row.sopClassUid,
        sopInstanceUid: row.sopInstanceUid,
        transferSyntaxUid: row.transferSyntaxUid,
        load: () => store.read(row.objectKey, { expectedSize: row.sizeBytes }),
      })),
      finished: async (outcome: RetrieveOutcome) => {
        options.onFinished?.(request.operation, outcome);
        const sent = new Set(outcome.sent);
        const sentStudies = [...new Set(rows.filter((r) => sent.has(r.sopInstanceUid)).map((r) => r.studyInstanceUid))];
        await audit('DICOM Instances Transferred', context, sentStudies, outcome.failed === 0 && outcome.status !== RetrieveStatus.Cancel ? 0 : 4, {
          ...base,
          status: hex(outcome.status),
          completed: outcome.completed,
          failed: outcome.failed,
          warning: outcome.warning,
          remaining: outcome.remaining,
          failedSopInstanceUids: outcome.failedSopInstanceUids.slice(0, auditLimit),
          ...(outcome.reason !== undefined ? { reason: outcome.reason } : {}),
        });
      },
    };
  };
}
