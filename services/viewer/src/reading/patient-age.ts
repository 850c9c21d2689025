/**
 * Age at the study, as a radiologist reads it on a banner: whole years from 2 years on, months below
 * that, days below a month (the DICOM Age String convention, PS3.5 6.2 AS). Computed from the birth date
 * and the study date when both are valid DICOM dates (YYYYMMDD); else the stored PatientAge (0010,1010)
 * when it is a valid AS; else null. Pure so it is tested without a database.
 */
export function ageAtStudy(birthDate: string | null, studyDate: string | null, patientAge: string | null = null): string | null {
  const birth = parseDicomDate(birthDate);
  const study = parseDicomDate(studyDate);
  if (birth && study && !isBefore(study, birth)) {
    let months = (study.y - birth.y) * 12 + (study.m - birth.m);
    if (study.d < birth.d) months -= 1;
    if (months >= 24) return `${Math.floor(months / 12)} y`;
    if (months >= 1) return `${months} mo`;
    const days = Math.round((Date.UTC(study.y, study.m - 1, study.d) - Date.UTC(birth.y, birth.m - 1, birth.d)) / 86_400_000);
    return `${days} d`;
  }
  const as = /^(\d{3})([DWMY])$/.exec(patientAge?.trim() ?? '');
  if (!as) return null;
  const unit = { D: 'd', W: 'wk', M: 'mo', Y: 'y' }[as[2] as 'D' | 'W' | 'M' | 'Y'];
  return `${Number(as[1])} ${unit}`;
}

interface Ymd {
  y: number;
  m: number;
  d: number;
}

/** A DICOM DA (YYYYMMDD, or the legacy YYYY.MM.DD) that is a real calendar date; otherwise null. */
export function parseDicomDate(value: string | null): Ymd | null {
  const match = /^(\d{4})\.?(\d{2})\.?(\d{2})$/.exec(value?.trim() ?? '');
  if (!match) return null;
  const [y, m, d] = [Number(match[1]), Number(match[2]), Number(match[3])];
  const date = new Date(Date.UTC(y, m - 1, d));
  if (date.getUTCFullYear() !== y || date.getUTCMonth() !== m - 1 || date.getUTCDate() !== d) return null;
  return { y, m, d };
}

/** YYYY-MM-DD for display, or null when the value is not a valid date. */
export function isoDate(value: string | null): string | null {
  const p = parseDicomDate(value);
  return p ? `${String(p.y).padStart(4, '0')}-${String(p.m).padStart(2, '0')}-${String(p.d).padStart(2, '0')}` : null;
}

function isBefore(a: Ymd, b: Ymd): boolean {
  return a.y !== b.y ? a.y < b.y : a.m !== b.m ? a.m < b.m : a.d < b.d;
}
