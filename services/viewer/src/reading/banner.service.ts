import type { Pool } from '@yunying/catalog';
import type { AuditSink } from '@yunying/audit';
import { AppError } from '@yunying/core';
import { ageAtStudy, isoDate } from './patient-age';
import { BannerRepository } from './banner.repository';
import { auditRead, type Caller } from './reading.audit';

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
  private readonly repo = new BannerRepository();

  constructor(
    private readonly pool: Pool,
    private readonly audit: AuditSink,
  ) {}

  async get(caller: Caller, studyUid: string): Promise<StudyBanner> {
    const r = await this.repo.banner(this.pool, studyUid, caller.principal);
    if (!r) throw new AppError('not_found', 'Study not found');
    await auditRead(this.audit, caller, {
      type: 'DICOM Instances Accessed',
      studyInstanceUid: studyUid,
      clinicId: r.clinicId,
      details: { what: 'patient-banner' },
    });
    return {
      studyInstanceUid: studyUid,
      patient: {
        name: nameGroups(r.pn, r.patientName),
        characterSet: charsetOf(r.charset),
        id: text(r.patientId),
        issuer: text(firstValue(r.issuer)),
        sex: text(r.patientSex),
        birthDate: isoDate(r.patientBirthDate),
        ageAtStudy: ageAtStudy(r.patientBirthDate, r.studyDate, text(firstValue(r.patientAge))),
      },
      study: {
        date: isoDate(r.studyDate),
        time: studyTime(r.studyTime),
        description: text(r.studyDescription),
        accessionNumber: text(r.accessionNumber),
        modalities: r.modalities,
        clinic: { code: r.clinicCode, name: r.clinicName },
      },
      ai: { triageStatus: r.triageStatus, priority: r.priority, category: r.aiCategory, score: r.aiScore === null ? null : Number(r.aiScore) },
    };
  }
}

/** HH:MM from a DICOM TM (HHMMSS.frac, or the legacy HH:MM:SS); null when unreadable. */
export function studyTime(value: string | null): string | null {
  const m = /^(\d{2}):?(\d{2})?/.exec(value?.trim() ?? '');
  if (!m) return null;
  return `${m[1]}:${m[2] ?? '00'}`;
}
