import { clinicCondition, type Principal } from '@yunying/auth';
import { kyselyOn, sql, type CatalogReader, type PoolClient, type Tables } from '@yunying/catalog';
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

// The issuer lives only in the instances' DICOM JSON (the catalog has no column for it); one index
// lookup per study row, on the few rows that already share the PatientID.
const ISSUER_SQL = `(SELECT nullif(trim(i.dicom_json #>> '{00100021,Value,0}'), '') FROM instances i
                      WHERE i.study_ref = s.id AND i.is_current ORDER BY i.id LIMIT 1)`;

/** Visible studies (not disposed, within the caller's clinics) as PatientStudyRow, with their clinic. */
function visibleStudies(client: CatalogReader, principal: Principal) {
  return kyselyOn(client)
    .selectFrom('studies as s')
    .innerJoin('clinics as c', 'c.id', 's.clinicId')
    .select([
      's.id',
      's.clinicId',
      'c.code as clinicCode',
      'c.name as clinicName',
      's.studyInstanceUid',
      sql<string | null>`nullif(trim(s.patient_id), '')`.as('patientId'),
      sql<string | null>`${sql.raw(ISSUER_SQL)}`.as('issuer'),
      's.studyDate',
      's.studyTime',
      's.studyDescription as description',
      's.receivedAt',
      's.modalities',
      's.triageStatus',
      's.numberOfInstances',
      sql<string[]>`coalesce((SELECT array_agg(DISTINCT upper(trim(se.body_part_examined)))
                     FROM series se WHERE se.study_ref = s.id AND coalesce(trim(se.body_part_examined), '') <> ''), '{}')`.as('bodyParts'),
    ])
    .where('s.disposedAt', 'is', null)
    .where(clinicCondition(principal, 's.clinic_id'));
}

/** Most studies one patient gets in a lifetime of yearly check-ups, with room to spare. */
export const MAX_PATIENT_STUDIES = 200;

export class PriorsRepository {
  /**
   * The caller's other studies of the same person in the patient index (#20): every study filed under a
   * person whose root is `root`, within the caller's clinics, most recent first.
   */
  async samePerson(client: CatalogReader, of: PatientStudyRow, root: string, principal: Principal): Promise<PatientStudyRow[]> {
    return visibleStudies(client, principal)
      .innerJoin('patientIndexStudies as x', 'x.studyRef', 's.id')
      .innerJoin('patientIndexPersons as pp', 'pp.id', 'x.personRef')
      .where(sql`coalesce(pp.merged_into, pp.id)`, '=', sql`${root}::bigint`)
      .where('s.id', '<>', sql<string>`${of.id}::bigint`)
      .orderBy('s.studyDate', (ob) => ob.desc().nullsLast())
      .orderBy('s.id', 'desc')
      .limit(MAX_PATIENT_STUDIES)
      .execute();
  }

  /** The study, if the caller may see it. */
  async study(client: CatalogReader, studyUid: string, principal: Principal): Promise<PatientStudyRow | null> {
    return (await visibleStudies(client, principal).where('s.studyInstanceUid', '=', studyUid).executeTakeFirst()) ?? null;
  }

  /**
   * The caller's other studies with the same PatientID: every one of the same clinic (the caller decides
   * on the issuer), and of another clinic only under the same non-empty issuer, since a PatientID without
   * an issuer is a clinic's local number and says nothing about another clinic's patient.
   */
  async samePatientId(client: CatalogReader, of: PatientStudyRow, principal: Principal): Promise<PatientStudyRow[]> {
    return visibleStudies(client, principal)
      .where('s.patientId', '=', of.patientId)
      .where('s.id', '<>', sql<string>`${of.id}::bigint`)
      .where(sql<boolean>`(s.clinic_id = ${of.clinicId}::uuid OR (${of.issuer}::text IS NOT NULL AND ${sql.raw(ISSUER_SQL)} = ${of.issuer}::text))`)
      .orderBy('s.studyDate', (ob) => ob.desc().nullsLast())
      .orderBy('s.id', 'desc')
      .limit(MAX_PATIENT_STUDIES)
      .execute();
  }

  /**
   * The per-image JSON of each study's AI result that nodules are compared from: the one behind the queue
   * order (studies.ai_result_ref), else the newest usable one (triaged or no nodule found).
   */
  async usableAiImages(client: PoolClient, studyRefs: readonly string[]): Promise<Map<string, Tables.JsonValue>> {
    const rows = await kyselyOn(client)
      .selectFrom('aiResults as a')
      .innerJoin('studies as s', 's.id', 'a.studyRef')
      .distinctOn('a.studyRef')
      .select(['a.studyRef', 'a.images'])
      .where('a.studyRef', '=', sql<string>`ANY(${[...studyRefs]}::bigint[])`)
      .where('a.status', 'in', ['triaged', 'no_nodule_found'])
      .orderBy('a.studyRef')
      .orderBy(sql`(a.id = s.ai_result_ref) DESC`)
      .orderBy('a.createdAt', 'desc')
      .execute();
    return new Map(rows.map((r) => [r.studyRef, r.images]));
  }
}
