import { describeError, isAppError } from '@yunying/core';
import { appendAuditEvent } from '@yunying/audit';
import { inTransaction, type Pool } from '@yunying/catalog';
import { FindStatus, type FindContext, type FindFinal, type FindHandler, type FindMatch, type FindRequest } from '@yunying/dimse';
import { buildFindQuery, findMatches, identifierOf, type FindQuery } from './find.repository';

/** The calling AE's clinic: the only studies a C-FIND on this association can see. */
export interface ClinicSession {
  clinicId: string;
}

export interface FindHandlerOptions {
  pool: Pool;
  /** The most matches one C-FIND returns; past it the final status is 0xA700 with a comment. */
  maxResults: number;
  /** Study UIDs named in one audit record; beyond it only the count. */
  auditStudyUids?: number;
}

const DEFAULT_AUDIT_STUDY_UIDS = 100;

/**
 * C-FIND SCP of the archive (PS3.4 C.4.1): one catalog query per request, scoped to the calling AE's
 * clinic, never reading an object. Matches stream out as pending responses; the query is bounded by
 * `maxResults` (one row more is fetched to know the cap was hit). Every C-FIND is audited (PS3.15 A.5.3.10
 * Query) with the match keys (keywords, never values), the count and the study UIDs returned.
 */
export function archiveFindHandler(options: FindHandlerOptions): FindHandler<ClinicSession> {
  const { pool, maxResults } = options;
  const auditLimit = options.auditStudyUids ?? DEFAULT_AUDIT_STUDY_UIDS;

  return async function* find(request: FindRequest, context: FindContext<ClinicSession>): AsyncGenerator<FindMatch, FindFinal | void, void> {
    const { clinicId } = context.session;
    const studyUids = new Set<string>();
    let query: FindQuery | undefined;
    let matches = 0;
    let final: FindFinal = { status: FindStatus.Success };
    try {
      query = buildFindQuery(request.model, request.identifier, clinicId, maxResults + 1);
      const rows = await findMatches(pool, query);
      for (const row of rows.slice(0, maxResults)) {
        if (context.signal.aborted) {
          final = { status: FindStatus.Cancel };
          break;
        }
        const identifier = identifierOf(query, row);
        if (typeof identifier.StudyInstanceUID === 'string') studyUids.add(identifier.StudyInstanceUID);
        matches += 1;
        // The SCP turns the event loop between batches of responses, so a C-CANCEL is read mid-stream.
        yield { identifier, optionalKeysUnsupported: query.optionalKeysUnsupported };
      }
      if (final.status === FindStatus.Success && rows.length > maxResults) {
        context.log.info({ maxResults }, 'C-FIND hit the result cap');
        final = { status: FindStatus.OutOfResources, errorComment: `More than ${maxResults} matches; narrow the query` };
      }
      return final;
    } catch (error) {
      final = { status: isAppError(error) && !error.retryable ? FindStatus.IdentifierDoesNotMatchSopClass : FindStatus.OutOfResources };
      throw error;
    } finally {
      if (context.signal.aborted) final = { status: FindStatus.Cancel };
      // Written before the final response goes out; a failed write is logged, the SCU still gets its answer.
      const uids = [...studyUids];
      await inTransaction(pool, (client) =>
        appendAuditEvent(client, {
          type: 'Query',
          outcome: final.status === FindStatus.Success || final.status === FindStatus.Cancel ? 0 : 4,
          actor: { username: `ae:${context.callingAe}`, role: 'device', clinicId },
          sourceIp: context.remoteAddress,
          clinicId,
          studyInstanceUid: uids.length === 1 ? uids[0] : null,
          details: {
            via: 'DIMSE',
            model: request.model,
            level: query?.level ?? null,
            matchKeys: query?.matchKeys ?? [],
            matches,
            status: `0x${final.status.toString(16).toUpperCase().padStart(4, '0')}`,
            studyInstanceUids: uids.slice(0, auditLimit),
            studyInstanceUidsOmitted: Math.max(0, uids.length - auditLimit),
          },
        }),
      ).catch((error: unknown) => context.log.error({ err: describeError(error) }, 'could not audit the C-FIND'));
    }
  };
}
