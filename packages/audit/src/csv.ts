/**
 * RFC 4180 CSV. Cells that a spreadsheet would run as a formula (leading = + - @ tab or CR) are prefixed
 * with an apostrophe (OWASP "CSV injection"), since exports are opened in spreadsheets by auditors.
 */
export type CsvCell = string | number | boolean | Date | null | undefined | readonly string[];

function cell(value: CsvCell): string {
  if (value === null || value === undefined) return '';
  let text: string;
  if (value instanceof Date) text = value.toISOString();
  else if (Array.isArray(value)) text = value.join(';');
  else text = String(value);
  if (/^[=+\-@\t\r]/.test(text) && typeof value !== 'number') text = `'${text}`;
  return /[",\r\n]/.test(text) ? `"${text.replace(/"/g, '""')}"` : text;
}

export function csvLine(cells: readonly CsvCell[]): string {
  return `${cells.map(cell).join(',')}\r\n`;
}

export function toCsv<T>(columns: readonly { header: string; value: (row: T) => CsvCell }[], rows: Iterable<T>): string {
  let out = csvLine(columns.map((c) => c.header));
  for (const row of rows) out += csvLine(columns.map((c) => c.value(row)));
  return out;
}
