import type { PoolClient } from '@yunying/catalog';
import type { StudySummary } from './priors.rules';

/** A study as the priors API needs it: the summary, its clinic, and the patient identifiers it was matched on. */
export interface PatientStudyRow extends StudySummary {
  id: string;
  clinicCode: string;
  clinicName: string;
  patientId: string | null;
  /** Issuer of Patient ID (0010,0021) of the study's first current instance; null when not sent. */
  issuer: string | null;
  numberOfInstances: number;
}

interface Row {
  id: string;
  clinic_id: string;
  clinic_code: string;
  clinic_name: string;
  study_instance_uid: string;
  patient_id: string | null;
  issuer: string | null;
  study_date: string | null;
  study_time: string | null;
  study_description: string | null;
  received_at: Date;
  modalities: string[];
  body_parts: string[];
  triage_status: string;
  number_of_instances: number;
}

// The issuer lives only in the instances' DICOM JSON (the catalog has no column for it); one index
// lookup per study row, on the few rows that already share the PatientID.
const ISSUER_SQL = `(SELECT nullif(trim(i.dicom_json #>> '{00100021,Value,0}'), '') FROM instances i
                      WHERE i.study_ref = s.id AND i.is_current ORDER BY i.id LIMIT 1)`;

const SELECT_SQL = `SELECT s.id::text, s.clinic_id::text, c.code AS clinic_code, c.name AS clinic_name, s.study_instance_uid,
         nullif(trim(s.patient_id), '') AS patient_id, ${ISSUER_SQL} AS issuer, s.study_date, s.study_time,
         s.study_description, s.received_at, s.modalities, s.triage_status, s.number_of_instances,
         coalesce((SELECT array_agg(DISTINCT upper(trim(se.body_part_examined)))
                     FROM series se WHERE se.study_ref = s.id AND coalesce(trim(se.body_part_examined), '') <> ''), '{}') AS body_parts
    FROM studies s JOIN clinics c ON c.id = s.clinic_id`;

/** Most studies one patient gets in a lifetime of yearly check-ups, with room to spare. */
export const MAX_PATIENT_STUDIES = 200;

function toSummary(r: Row): PatientStudyRow {
  return {
    id: r.id,
    studyInstanceUid: r.study_instance_uid,
    clinicId: r.clinic_id,
    clinicCode: r.clinic_code,
    clinicName: r.clinic_name,
    patientId: r.patient_id,
    issuer: r.issuer,
    studyDate: r.study_date,
    studyTime: r.study_time,
    receivedAt: r.received_at,
    description: r.study_description,
    modalities: r.modalities,
    bodyParts: r.body_parts,
    triageStatus: r.triage_status,
    numberOfInstances: r.number_of_instances,
  };
}

export class PriorsRepository {
  /**
   * The caller's other studies of the same person in the patient index (#20): every study filed under a
   * person whose root is `root`, within the caller's clinics, most recent first.
   */
  async samePerson(client: PoolClient, of: PatientStudyRow, root: string, tenancySql: string, params: readonly unknown[]): Promise<PatientStudyRow[]> {
    const p = [...params, root, of.id, MAX_PATIENT_STUDIES];
    const n = params.length;
    const { rows } = await client.query<Row>(
      `${SELECT_SQL}
         JOIN patient_index_studies x ON x.study_ref = s.id JOIN patient_index_persons pp ON pp.id = x.person_ref
        WHERE coalesce(pp.merged_into, pp.id) = $${n + 1}::bigint AND s.id <> $${n + 2}::bigint AND s.disposed_at IS NULL AND ${tenancySql}
        ORDER BY s.study_date DESC NULLS LAST, s.id DESC
        LIMIT $${n + 3}`,
      p,
    );
    return rows.map(toSummary);
  }

  /** The study, if the caller may see it (`tenancySql` over s.clinic_id, its parameters in `params`). */
  async study(client: PoolClient, studyUid: string, tenancySql: string, params: readonly unknown[]): Promise<PatientStudyRow | null> {
    const p = [...params, studyUid];
    const { rows } = await client.query<Row>(`${SELECT_SQL} WHERE s.study_instance_uid = $${p.length} AND s.disposed_at IS NULL AND ${tenancySql}`, p);
    return rows[0] ? toSummary(rows[0]) : null;
  }

  /**
   * The caller's other studies with the same PatientID: every one of the same clinic (the caller decides
   * on the issuer), and of another clinic only under the same non-empty issuer, since a PatientID without
   * an issuer is a clinic's local number and says nothing about another clinic's patient.
   */
  async samePatientId(client: PoolClient, of: PatientStudyRow, tenancySql: string, params: readonly unknown[]): Promise<PatientStudyRow[]> {
    const p = [...params, of.patientId, of.id, of.clinicId, of.issuer, MAX_PATIENT_STUDIES];
    const n = params.length;
    const { rows } = await client.query<Row>(
      `${SELECT_SQL}
        WHERE s.patient_id = $${n + 1} AND s.id <> $${n + 2}::bigint AND s.disposed_at IS NULL AND ${tenancySql}
          AND (s.clinic_id = $${n + 3}::uuid OR ($${n + 4}::text IS NOT NULL AND ${ISSUER_SQL} = $${n + 4}::text))
        ORDER BY s.study_date DESC NULLS LAST, s.id DESC
        LIMIT $${n + 5}`,
      p,
    );
    return rows.map(toSummary);
  }
}
