import { clinicCondition, type Principal } from '@yunying/auth';
import { kyselyOn, sql, type QueryRunner, type Tables } from '@yunying/catalog';

/** The banner's study row, its clinic and current AI result, and four attributes of its first current instance. */
export interface BannerRow {
  clinicId: string;
  clinicCode: string;
  clinicName: string;
  patientName: string | null;
  patientId: string | null;
  patientBirthDate: string | null;
  patientSex: string | null;
  studyDate: string | null;
  studyTime: string | null;
  studyDescription: string | null;
  accessionNumber: string | null;
  modalities: string[];
  triageStatus: string;
  priority: string;
  aiCategory: string | null;
  aiScore: number | null;
  /** DICOM JSON attributes (PS3.18 F.2) of the first current instance; null when absent. */
  charset: Tables.JsonValue;
  issuer: Tables.JsonValue;
  pn: Tables.JsonValue;
  patientAge: Tables.JsonValue;
}

/** SQL of the patient banner (#20). */
export class BannerRepository {
  /** The study (not disposed, within the caller's clinics) as the banner shows it, or null. */
  async banner(db: QueryRunner, studyUid: string, principal: Principal): Promise<BannerRow | null> {
    const firstInstance = kyselyOn(db)
      .selectFrom('instances')
      .select('dicomJson')
      .where('studyRef', '=', sql<string>`s.id`)
      .where('isCurrent', '=', true)
      .orderBy('id')
      .limit(1);
    const row = await kyselyOn(db)
      .selectFrom('studies as s')
      .innerJoin('clinics as c', 'c.id', 's.clinicId')
      .leftJoin('aiResults as a', 'a.id', 's.aiResultRef')
      .leftJoinLateral(firstInstance.as('i'), (join) => join.onTrue())
      .select([
        's.clinicId',
        'c.code as clinicCode',
        'c.name as clinicName',
        's.patientName',
        's.patientId',
        's.patientBirthDate',
        's.patientSex',
        's.studyDate',
        's.studyTime',
        's.studyDescription',
        's.accessionNumber',
        's.modalities',
        's.triageStatus',
        's.priority',
        'a.category as aiCategory',
        'a.score as aiScore',
        sql<Tables.JsonValue>`i.dicom_json -> '00080005'`.as('charset'),
        sql<Tables.JsonValue>`i.dicom_json -> '00100021'`.as('issuer'),
        sql<Tables.JsonValue>`i.dicom_json -> '00100010'`.as('pn'),
        sql<Tables.JsonValue>`i.dicom_json -> '00101010'`.as('patientAge'),
      ])
      .where('s.studyInstanceUid', '=', studyUid)
      .where('s.disposedAt', 'is', null)
      .where(clinicCondition(principal, 's.clinic_id'))
      .executeTakeFirst();
    return row ?? null;
  }
}
