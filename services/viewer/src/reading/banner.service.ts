import { addClinicFilter } from '@yunying/auth';
import { inTransaction, type Pool } from '@yunying/catalog';
import { AppError } from '@yunying/core';
import { ageAtStudy, isoDate } from './patient-age';
import { auditReading, type Caller } from './reading.audit';

/** The three component groups of a DICOM PN (PS3.5 6.2.1.2): what was sent, each shown as is. */
export interface PersonNameGroups {
  alphabetic: string | null;
  ideographic: string | null;
  phonetic: string | null;
}

/** Who and what a study is, for the viewer's patient banner and the report form's wrong-patient check. */
export interface StudyBanner {
  studyInstanceUid: string;
  patient: {
    name: PersonNameGroups;
    /** Specific Character Set (0008,0005) the name came in, e.g. "ISO_IR 192" or "GB18030"; null = default repertoire. */
    characterSet: string | null;
    id: string | null;
    issuer: string | null;
    sex: string | null;
    birthDate: string | null;
    ageAtStudy: string | null;
  };
  study: {
    date: string | null;
    time: string | null;
    description: string | null;
    accessionNumber: string | null;
    modalities: string[];
    clinic: { code: string; name: string };
  };
  ai: { triageStatus: string; priority: string; category: string | null; score: number | null };
}

interface BannerRow {
  clinic_id: string;
  clinic_code: string;
  clinic_name: string;
  patient_name: string | null;
  patient_id: string | null;
  patient_birth_date: string | null;
  patient_sex: string | null;
  study_date: string | null;
  study_time: string | null;
  study_description: string | null;
  accession_number: string | null;
  modalities: string[];
  triage_status: string;
  priority: string;
  ai_category: string | null;
  ai_score: number | null;
  charset: unknown;
  issuer: unknown;
  pn: unknown;
  patient_age: unknown;
}

/** First value of a DICOM JSON attribute (PS3.18 F.2), as the catalog stores it. */
function firstValue(attribute: unknown): unknown {
  if (typeof attribute !== 'object' || attribute === null) return null;
  const value = (attribute as { Value?: unknown }).Value;
  return Array.isArray(value) ? (value[0] ?? null) : null;
}

function text(value: unknown): string | null {
  return typeof value === 'string' && value.trim() !== '' ? value.trim() : null;
}

/** PN groups from the instance's DICOM JSON; the catalog's decoded name as the alphabetic group otherwise. */
export function nameGroups(pn: unknown, catalogName: string | null): PersonNameGroups {
  const v = firstValue(pn);
  if (typeof v === 'object' && v !== null) {
    const o = v as Record<string, unknown>;
    const groups = { alphabetic: text(o.Alphabetic), ideographic: text(o.Ideographic), phonetic: text(o.Phonetic) };
    if (groups.alphabetic ?? groups.ideographic ?? groups.phonetic) return groups;
  }
  return { alphabetic: text(catalogName), ideographic: null, phonetic: null };
}

/** Specific Character Set is multi-valued (code extensions): "\"-joined as DICOM writes it. */
function charsetOf(attribute: unknown): string | null {
  if (typeof attribute !== 'object' || attribute === null) return null;
  const value = (attribute as { Value?: unknown }).Value;
  if (!Array.isArray(value)) return null;
  const parts = value.map((v) => (typeof v === 'string' ? v.trim() : ''));
  return parts.some((p) => p !== '') ? parts.join('\\') : null;
}

/**
 * The patient banner (issue #20): identity from the study row (what QIDO serves), plus what only the
 * instances hold (issuer of the patient ID, the name's character set and component groups, PatientAge)
 * from the first current instance. Tenancy in SQL: another clinic's study is absent (404). The read is
 * audited like every read of patient data.
 */
export class BannerService {
  constructor(private readonly pool: Pool) {}

  async get(caller: Caller, studyUid: string): Promise<StudyBanner> {
    return inTransaction(this.pool, async (client) => {
      const params: unknown[] = [];
      const tenancySql = addClinicFilter(caller.principal, 's.clinic_id', params);
      params.push(studyUid);
      const { rows } = await client.query<BannerRow>(
        `SELECT s.clinic_id::text, c.code AS clinic_code, c.name AS clinic_name, s.patient_name, s.patient_id,
                s.patient_birth_date, s.patient_sex, s.study_date, s.study_time, s.study_description,
                s.accession_number, s.modalities, s.triage_status, s.priority,
                a.category AS ai_category, a.score AS ai_score,
                i.dicom_json -> '00080005' AS charset, i.dicom_json -> '00100021' AS issuer,
                i.dicom_json -> '00100010' AS pn, i.dicom_json -> '00101010' AS patient_age
           FROM studies s
           JOIN clinics c ON c.id = s.clinic_id
           LEFT JOIN ai_results a ON a.id = s.ai_result_ref
           LEFT JOIN LATERAL (
             SELECT dicom_json FROM instances WHERE study_ref = s.id AND is_current ORDER BY id LIMIT 1
           ) i ON true
          WHERE s.study_instance_uid = $${params.length} AND s.disposed_at IS NULL AND ${tenancySql}`,
        params,
      );
      const r = rows[0];
      if (!r) throw new AppError('not_found', 'Study not found');
      await auditReading(client, caller, {
        type: 'DICOM Instances Accessed',
        studyInstanceUid: studyUid,
        clinicId: r.clinic_id,
        details: { what: 'patient-banner' },
      });
      return {
        studyInstanceUid: studyUid,
        patient: {
          name: nameGroups(r.pn, r.patient_name),
          characterSet: charsetOf(r.charset),
          id: text(r.patient_id),
          issuer: text(firstValue(r.issuer)),
          sex: text(r.patient_sex),
          birthDate: isoDate(r.patient_birth_date),
          ageAtStudy: ageAtStudy(r.patient_birth_date, r.study_date, text(firstValue(r.patient_age))),
        },
        study: {
          date: isoDate(r.study_date),
          time: studyTime(r.study_time),
          description: text(r.study_description),
          accessionNumber: text(r.accession_number),
          modalities: r.modalities,
          clinic: { code: r.clinic_code, name: r.clinic_name },
        },
        ai: { triageStatus: r.triage_status, priority: r.priority, category: r.ai_category, score: r.ai_score === null ? null : Number(r.ai_score) },
      };
    });
  }
}

/** HH:MM from a DICOM TM (HHMMSS.frac, or the legacy HH:MM:SS); null when unreadable. */
export function studyTime(value: string | null): string | null {
  const m = /^(\d{2}):?(\d{2})?/.exec(value?.trim() ?? '');
  if (!m) return null;
  return `${m[1]}:${m[2] ?? '00'}`;
}
