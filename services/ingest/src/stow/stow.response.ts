import { STOW_PRIVATE_CREATOR, StowTag, failureNote, failureReasonValue, type StoredStatus } from '@yunying/dicom';
import type { InstanceOutcome } from '../ingest.pipeline';

/**
 * The STOW-RS response body (PS3.18 10.5.3, Table 10.5.3-1) in the DICOM JSON model: RetrieveURL of
 * the study, ReferencedSOPSequence for stored instances, FailedSOPSequence with a FailureReason per
 * failed instance. Whether an instance was newly stored, already there or a new version is told in a
 * private attribute of each referenced item, and each failure names its part of the request, since the
 * standard has no attribute for either (the wire contract: @yunying/dicom stow-wire.ts).
 */

type Json = Record<string, { vr: string; Value?: unknown[] }>;

function uidItem(sopClassUid: string | undefined, sopInstanceUid: string | undefined): Json {
  const item: Json = {};
  if (sopClassUid) item['00081150'] = { vr: 'UI', Value: [sopClassUid] };
  else item['00081150'] = { vr: 'UI' };
  if (sopInstanceUid) item['00081155'] = { vr: 'UI', Value: [sopInstanceUid] };
  else item['00081155'] = { vr: 'UI' };
  return item;
}

function storedStatus(status: 'stored' | 'already_stored' | 'new_version'): StoredStatus {
  switch (status) {
    case 'stored':
      return 'STORED';
    case 'already_stored':
      return 'ALREADY_STORED';
    case 'new_version':
      return 'NEW_VERSION';
  }
}

export interface StowPartResult {
  /** 1-based position of the part in the request, so a client can match failures without UIDs. */
  part: number;
  outcome: InstanceOutcome;
}

export function buildStowResponse(results: StowPartResult[], retrieveBase: string, studyUid: string | undefined): Json {
  const referenced: Json[] = [];
  const failed: Json[] = [];
  for (const { part, outcome } of results) {
    if (outcome.status === 'rejected') {
      failed.push({
        ...uidItem(outcome.sopClassUid, outcome.sopInstanceUid),
        '00081197': { vr: 'US', Value: [outcome.failureReason] },
        [StowTag.privateCreator]: { vr: 'LO', Value: [STOW_PRIVATE_CREATOR] },
        [StowTag.failureReason]: { vr: 'LO', Value: [failureReasonValue(outcome.reason)] },
        [StowTag.failureNote]: { vr: 'LT', Value: [failureNote(part, outcome.message)] },
      });
    } else {
      referenced.push({
        ...uidItem(outcome.sopClassUid, outcome.sopInstanceUid),
        '00081190': {
          vr: 'UR',
          Value: [`${retrieveBase}/studies/${outcome.studyInstanceUid}/series/${outcome.seriesInstanceUid}/instances/${outcome.sopInstanceUid}`],
        },
        [StowTag.privateCreator]: { vr: 'LO', Value: [STOW_PRIVATE_CREATOR] },
        [StowTag.storedStatus]: { vr: 'CS', Value: [storedStatus(outcome.status)] },
      });
    }
  }
  const body: Json = {};
  const study = studyUid ?? results.find((r) => r.outcome.status !== 'rejected')?.outcome;
  const studyInstanceUid = typeof study === 'string' ? study : study && 'studyInstanceUid' in study ? study.studyInstanceUid : undefined;
  if (studyInstanceUid) body['00081190'] = { vr: 'UR', Value: [`${retrieveBase}/studies/${studyInstanceUid}`] };
  if (failed.length > 0) body['00081198'] = { vr: 'SQ', Value: failed };
  if (referenced.length > 0) body['00081199'] = { vr: 'SQ', Value: referenced };
  return body;
}

/**
 * PS3.18 10.5.3.1 status: 200 all stored; 202 some stored, some failed; 409 none stored; and 503 when
 * nothing was stored only because the archive cannot store right now (retry later).
 */
export function stowStatus(results: StowPartResult[]): { status: number; retryAfterSeconds?: number } {
  const failures = results.filter((r) => r.outcome.status === 'rejected');
  if (failures.length === 0) return { status: 200 };
  if (failures.length < results.length) return { status: 202 };
  const retryable = failures.every((r) => r.outcome.status === 'rejected' && r.outcome.retryable);
  if (retryable) {
    const after = Math.max(...failures.map((r) => (r.outcome.status === 'rejected' ? (r.outcome.retryAfterSeconds ?? 30) : 30)));
    return { status: 503, retryAfterSeconds: after };
  }
  return { status: 409 };
}
