import { AppError } from '@yunying/core';
import type { InstanceScope } from '@yunying/archive';
import type { QueryModel } from '@yunying/dimse';

/** Levels a C-GET / C-MOVE may name here; PATIENT only in the Patient Root model (PS3.4 C.6.1.1.2). */
export type RetrieveLevel = 'PATIENT' | 'STUDY' | 'SERIES' | 'IMAGE';

/** Patient ID is LO (PS3.5 6.2): at most 64 characters. */
const MAX_PATIENT_ID = 64;

export interface RetrieveScope {
  level: RetrieveLevel;
  scope: InstanceScope;
}

/** The most UIDs one Identifier may list at its level; a longer list is refused, not truncated. */
export const MAX_RETRIEVE_UIDS = 1000;

const UID = /^[0-9]+(\.[0-9]+)*$/;

function bad(message: string): never {
  // Non-retryable: the SCP answers 0xA900 (Identifier does not match SOP Class) with this comment.
  throw new AppError('bad_request', message);
}

/** A naturalized UI value: one UID, a backslash-separated list, or an array. Empty -> []. */
function uids(keyword: string, value: unknown): string[] {
  const parts: unknown[] = Array.isArray(value) ? value : [value];
  const out: string[] = [];
  for (const part of parts) {
    if (part === undefined || part === null) continue;
    if (typeof part !== 'string') bad(`${keyword} must be a UID`);
    for (const uid of part.split('\\').map((v) => v.replace(/\0/g, '').trim())) {
      if (uid === '') continue;
      if (uid.length > 64 || !UID.test(uid)) bad(`${keyword} is not a valid UID`);
      out.push(uid);
    }
  }
  if (out.length > MAX_RETRIEVE_UIDS) bad(`${keyword} lists more than ${MAX_RETRIEVE_UIDS} UIDs`);
  return out;
}

function one(keyword: string, value: unknown): string {
  const list = uids(keyword, value);
  if (list.length !== 1) bad(`${keyword}: exactly one UID is required above the retrieve level`);
  return list[0] as string;
}

function some(keyword: string, value: unknown): string[] {
  const list = uids(keyword, value);
  if (list.length === 0) bad(`${keyword} is required at this retrieve level`);
  return list;
}

/**
 * The Patient ID of a PATIENT-level retrieve: the unique key, so exactly one value, matched exactly (no
 * wildcards: `*` or `?` are taken literally, and a list is refused rather than read as several patients).
 */
function patientKey(value: unknown): string {
  if (typeof value !== 'string') bad('PatientID is required at PATIENT level');
  const id = value.replace(/\0/g, '').trim();
  if (id === '') bad('PatientID is required at PATIENT level');
  if (id.includes('\\')) bad('PatientID: exactly one value is required at PATIENT level');
  if (id.length > MAX_PATIENT_ID) bad(`PatientID is longer than ${MAX_PATIENT_ID} characters`);
  return id;
}

/**
 * The Identifier of a C-GET / C-MOVE (PS3.4 C.4.2.2.1, C.4.3.2.1): the unique key of the retrieve level,
 * one UID or a list, and one UID for each level above it. Patient Root's Patient ID is matched when
 * given (lenient: many SCUs leave it out at STUDY level and below) and is the key at PATIENT level (every
 * study of that patient in the caller's clinic; the tenancy filter of findInstances keeps another
 * clinic's patient with the same ID out). Anything else -> 0xA900.
 */
export function retrieveScopeOf(model: QueryModel, identifier: Record<string, unknown>): RetrieveScope {
  const rawLevel = identifier.QueryRetrieveLevel;
  const level = typeof rawLevel === 'string' ? rawLevel.trim().toUpperCase() : '';
  const patientIdValue = identifier.PatientID;
  const patientId = model === 'patient_root' && typeof patientIdValue === 'string' && patientIdValue.trim() !== '' ? patientIdValue.trim() : undefined;
  const withPatient = (scope: InstanceScope): InstanceScope => (patientId === undefined ? scope : { ...scope, patientId });
  switch (level) {
    case 'PATIENT':
      if (model !== 'patient_root') return bad('QueryRetrieveLevel PATIENT is only in the Patient Root model');
      return { level, scope: { patientId: patientKey(patientIdValue) } };
    case 'STUDY':
      return { level, scope: withPatient({ studyInstanceUid: some('StudyInstanceUID', identifier.StudyInstanceUID) }) };
    case 'SERIES':
      return { level, scope: withPatient({ studyInstanceUid: one('StudyInstanceUID', identifier.StudyInstanceUID), seriesInstanceUid: some('SeriesInstanceUID', identifier.SeriesInstanceUID) }) };
    case 'IMAGE':
      return {
        level,
        scope: withPatient({
          studyInstanceUid: one('StudyInstanceUID', identifier.StudyInstanceUID),
          seriesInstanceUid: one('SeriesInstanceUID', identifier.SeriesInstanceUID),
          sopInstanceUid: some('SOPInstanceUID', identifier.SOPInstanceUID),
        }),
      };
    default:
      return bad(model === 'patient_root' ? 'QueryRetrieveLevel must be PATIENT, STUDY, SERIES or IMAGE' : 'QueryRetrieveLevel must be STUDY, SERIES or IMAGE');
  }
}
