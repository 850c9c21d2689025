import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

export type Cell = string | number | null;

export interface Table {
  title: string;
  columns: string[];
  rows: Cell[][];
  notes?: string[];
}

function format(cell: Cell): string {
  if (cell === null) return '—';
  if (typeof cell === 'string') return cell;
  if (Number.isInteger(cell)) return String(cell);
  const abs = Math.abs(cell);
  return cell.toFixed(abs >= 100 ? 0 : abs >= 10 ? 1 : 2);
}

/** An aligned text table (numbers right-aligned), as printed and as pasted into docs/benchmarks.md. */
export function renderTable(table: Table): string {
  const cells = table.rows.map((row) => row.map(format));
  const widths = table.columns.map((c, i) => Math.max(c.length, ...cells.map((r) => (r[i] ?? '').length)));
  const numeric = table.columns.map((_, i) => table.rows.every((r) => typeof r[i] === 'number' || r[i] === null));
  const line = (row: string[]): string =>
    row.map((v, i) => (numeric[i] ? v.padStart(widths[i] ?? 0) : v.padEnd(widths[i] ?? 0))).join('  ').trimEnd();
  const out = [table.title, line(table.columns), widths.map((w) => '-'.repeat(w)).join('  '), ...cells.map(line)];
  for (const note of table.notes ?? []) out.push(`  * ${note}`);
  return out.join('\n');
}

export interface MachineInfo {
  cpus: string;
  cores: number;
  memoryGiB: number;
  loadAverage: number[];
  kernel: string;
  node: string;
  date: string;
}

export function machineInfo(): MachineInfo {
  const cpus = os.cpus();
  return {
    cpus: cpus[0]?.model ?? 'unknown',
    cores: cpus.length,
    memoryGiB: Math.round(os.totalmem() / 2 ** 30),
    loadAverage: os.loadavg().map((l) => Math.round(l * 100) / 100),
    kernel: `${os.type()} ${os.release()}`,
    node: process.version,
    date: new Date().toISOString(),
  };
}

export const RESULTS_DIR = path.resolve(__dirname, '../../results');

/** Prints the tables and writes bench/results/<name>-<timestamp>.json; returns the JSON path. */
export function publish(name: string, tables: Table[], data: unknown, machineAtStart: MachineInfo): string {
  for (const table of tables) process.stdout.write(`\n${renderTable(table)}\n`);
  fs.mkdirSync(RESULTS_DIR, { recursive: true });
  const file = path.join(RESULTS_DIR, `${name}-${machineAtStart.date.replace(/[:.]/g, '-')}.json`);
  const body = { benchmark: name, machine: machineAtStart, loadAverageAtEnd: os.loadavg(), tables, data };
  fs.writeFileSync(file, `${JSON.stringify(body, null, 2)}\n`);
  process.stdout.write(`\nmachine: ${machineAtStart.cores} x ${machineAtStart.cpus}, ${machineAtStart.memoryGiB} GiB, load at start ${machineAtStart.loadAverage.join(' ')}\nwrote ${file}\n`);
  return file;
}
