import type { Pool, PoolClient } from './database';

/** The patient and study modules of a study as the catalog holds them: what an object the archive writes about the study repeats. */
export interface StudyHeader {
  studyInstanceUid: string;
  patientName: string | null;
  patientId: string | null;
  patientBirthDate: string | null;
  patientSex: string | null;
  studyDate: string | null;
  studyTime: string | null;
  accessionNumber: string | null;
  referringPhysicianName: string | null;
  studyId: string | null;
}

/** One study's header and its clinic's name (the AI objects and the signed report SR both need them); null when the study is gone. */
export async function readStudyHeader(db: Pool | PoolClient, studyRef: string): Promise<{ header: StudyHeader; clinicName: string } | null> {
  const { rows } = await db.query<{
    study_instance_uid: string;
    patient_name: string | null;
    patient_id: string | null;
    patient_birth_date: string | null;
    patient_sex: string | null;
    study_date: string | null;
    study_time: string | null;
    accession_number: string | null;
    referring_physician_name: string | null;
    study_id: string | null;
    clinic_name: string;
  }>(
    `SELECT s.study_instance_uid, s.patient_name, s.patient_id, s.patient_birth_date, s.patient_sex, s.study_date, s.study_time,
            s.accession_number, s.referring_physician_name, s.study_id, c.name AS clinic_name
       FROM studies s JOIN clinics c ON c.id = s.clinic_id WHERE s.id = $1`,
    [studyRef],
  );
  const r = rows[0];
  if (!r) return null;
  return {
    clinicName: r.clinic_name,
    header: {
      studyInstanceUid: r.study_instance_uid,
      patientName: r.patient_name,
      patientId: r.patient_id,
      patientBirthDate: r.patient_birth_date,
      patientSex: r.patient_sex,
      studyDate: r.study_date,
      studyTime: r.study_time,
      accessionNumber: r.accession_number,
      referringPhysicianName: r.referring_physician_name,
      studyId: r.study_id,
    },
  };
}
