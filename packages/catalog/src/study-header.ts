import type { Selectable } from 'kysely';
import type { Studies } from './typed/database.types';

/** The columns of the patient and study modules that an object the archive writes about a study repeats. */
export const STUDY_HEADER_COLUMNS = [
  'studyInstanceUid',
  'patientName',
  'patientId',
  'patientBirthDate',
  'patientSex',
  'studyDate',
  'studyTime',
  'accessionNumber',
  'referringPhysicianName',
  'studyId',
] as const;

/** The patient and study modules of a study as the catalog holds them (picked from the generated studies row). */
export type StudyHeader = Pick<Selectable<Studies>, (typeof STUDY_HEADER_COLUMNS)[number]>;

/**
 * The Patient and General Study modules (PS3.3 C.7.1.1, C.7.2.1) of a header as naturalized DICOM attributes,
 * empty strings for what the catalog lacks (Type 2). Every object the archive writes about a study (AI SR and
 * SEG, the signed report SR, the key-image KOS) repeats exactly these, so they come from one place.
 */
export function studyHeaderAttributes(header: StudyHeader): Record<string, string> {
  return {
    PatientName: header.patientName ?? '',
    PatientID: header.patientId ?? '',
    PatientBirthDate: header.patientBirthDate ?? '',
    PatientSex: header.patientSex ?? '',
    StudyInstanceUID: header.studyInstanceUid,
    StudyDate: header.studyDate ?? '',
    StudyTime: header.studyTime ?? '',
    AccessionNumber: header.accessionNumber ?? '',
    ReferringPhysicianName: header.referringPhysicianName ?? '',
    StudyID: header.studyId ?? '',
  };
}
