/** labels.csv of an evaluation folder: `image, mask, ddti_case, tirads, tirads_binary_4plus, note`. */
import { PermanentError } from '@yunying/core';

export interface LabelRow {
  image: string;
  caseId: string;
  /** 1 = TI-RADS 4a-5, 0 = TI-RADS 2-3. */
  label: 0 | 1;
}

/** RFC 4180 fields: quoted fields may contain commas, quotes ("") and newlines. */
export function parseCsv(text: string): string[][] {
  const rows: string[][] = [];
  let row: string[] = [];
  let field = '';
  let quoted = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (quoted) {
      if (c === '"' && text[i + 1] === '"') {
        field += '"';
        i++;
      } else if (c === '"') {
        quoted = false;
      } else {
        field += c;
      }
    } else if (c === '"') {
      quoted = true;
    } else if (c === ',') {
      row.push(field);
      field = '';
    } else if (c === '\n' || c === '\r') {
      if (c === '\r' && text[i + 1] === '\n') i++;
      row.push(field);
      rows.push(row);
      row = [];
      field = '';
    } else {
      field += c;
    }
  }
  if (field !== '' || row.length > 0) {
    row.push(field);
    rows.push(row);
  }
  return rows.filter((r) => r.length > 1 || (r[0] ?? '') !== '');
}

/** Labelled rows only; rows without tirads_binary_4plus cannot be scored and are skipped. */
export function parseLabels(text: string): { rows: LabelRow[]; unlabelled: number } {
  const [header, ...body] = parseCsv(text);
  if (header === undefined) throw new PermanentError('labels.csv is empty');
  const col = (name: string): number => {
    const i = header.findIndex((h) => h.trim() === name);
    if (i < 0) throw new PermanentError(`labels.csv has no column ${name}`);
    return i;
  };
  const iImage = col('image');
  const iCase = col('ddti_case');
  const iLabel = col('tirads_binary_4plus');
  const rows: LabelRow[] = [];
  let unlabelled = 0;
  for (const r of body) {
    const raw = (r[iLabel] ?? '').trim();
    if (raw === '') {
      unlabelled++;
      continue;
    }
    if (raw !== '0' && raw !== '1') throw new PermanentError(`tirads_binary_4plus must be 0, 1 or empty, got ${raw}`);
    rows.push({ image: (r[iImage] ?? '').trim(), caseId: (r[iCase] ?? '').trim(), label: raw === '1' ? 1 : 0 });
  }
  return { rows, unlabelled };
}
