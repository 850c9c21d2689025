import fs from 'node:fs';
import os from 'node:os';
import { createPool, quoteIdent, type Pool } from '@yunying/catalog';
import type { Args } from '../lib/args';
import type { KeptYunyingState, Lab, Yunying } from '../lib/lab';
import type { Table } from '../lib/report';
import {
  bytesPerInstance,
  catalogSizes,
  growthRefusal,
  grow,
  headerSize,
  loaderConnection,
  measureSize,
  prepareMeasurement,
  studiesFor,
  tableStorage,
  type CatalogScaleResult,
  type CatalogSizeResult,
  type Growth,
  type TableStorage,
} from './catalog-scale';

/**
 * Catalog at scale with loading split from measuring (#18): on a shared machine a catalog of millions of
 * rows is loaded at low priority when it can be, and measured later in an idle window. Each size is its
 * own database of the machine's PostgreSQL (`--database`), kept after the run:
 *   --load-only     creates the database if needed and grows its catalog to each of --sizes in turn
 *                   (grow(): indexes dropped, rows, the same index definitions built again and checked);
 *   --measure-only  measures the catalog as loaded (the same per-size figures as a full run) and keeps the
 *                   result in the database;
 *   --compare a,b   the per-size table over the latest measurement of each database, with
 *                   p95(largest) / p95(smallest).
 * A database keeps its Yunying schema and, in public.bench_catalog_scale, what this needs next time: the
 * Yunying's secrets and users, the loaded size, each growth step and each measurement.
 */

export type CatalogScaleMode =
  | { kind: 'run' }
  | { kind: 'load'; database: string }
  | { kind: 'measure'; database: string }
  | { kind: 'compare'; databases: string[] };

/** The Yunying schema inside a kept database (one catalog per database). */
const KEPT_SCHEMA = 'yunying';
const DATABASE_NAME = /^[a-z_][a-z0-9_]{0,62}$/;

/** Which catalog-scale run the options ask for; refuses combinations that mean nothing. */
export function catalogScaleMode(args: Args): CatalogScaleMode {
  const database = args.string('database', '');
  const compare = args.string('compare', '');
  const loadOnly = args.flag('load-only');
  const measureOnly = args.flag('measure-only');
  const checkName = (name: string, option: string): string => {
    if (!DATABASE_NAME.test(name)) throw new Error(`${option}: "${name}" is not a database name (lower-case letters, digits, _)`);
    return name;
  };
  if (compare !== '') {
    if (database !== '' || loadOnly || measureOnly) throw new Error('--compare takes the databases to compare and nothing else');
    const databases = compare.split(',').map((d) => checkName(d.trim(), '--compare'));
    if (databases.length < 2) throw new Error('--compare: at least two databases, comma-separated');
    return { kind: 'compare', databases };
  }
  if (loadOnly && measureOnly) throw new Error('--load-only and --measure-only: one or the other (a run without either grows and measures a throwaway catalog)');
  if (loadOnly || measureOnly) {
    if (database === '') throw new Error(`--${loadOnly ? 'load-only' : 'measure-only'} needs --database NAME`);
    return { kind: loadOnly ? 'load' : 'measure', database: checkName(database, '--database') };
  }
  if (database !== '') throw new Error('--database: say --load-only or --measure-only');
  return { kind: 'run' };
}

/** One growth step of a kept database, with the bytes it left. */
export interface KeptGrowthStep {
  fromStudies: number;
  studies: number;
  instances: number;
  growth: Growth;
  storage: TableStorage[];
  header: { textBytes: number; storedBytes: number };
  startedAt: string;
  finishedAt: string;
  /** 1-minute load average at start and end. */
  load: { start: number; end: number };
}

export interface KeptMeasurement {
  requests: number;
  writes: number;
  result: CatalogSizeResult;
}

/** public.bench_catalog_scale's one row. */
export interface KeptCatalog {
  schema: string;
  yunying: KeptYunyingState;
  /** Generated studies fully loaded (20 instance rows each). */
  studies: number;
  /** Set while a growth step runs: a step that did not finish leaves rows without indexes. */
  loading: { fromStudies: number; toStudies: number; startedAt: string } | null;
  steps: KeptGrowthStep[];
  measurements: KeptMeasurement[];
}

/** `--postgres-url` (or BENCH_POSTGRES_URL): the server the kept databases live on; default the machine's. */
function serverUrl(args: Args): string {
  return args.string('postgres-url', process.env.BENCH_POSTGRES_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres');
}

export function databaseUrl(server: string, database: string): string {
  const url = new URL(server);
  url.pathname = `/${database}`;
  return url.toString();
}

/**
 * Creates the database unless it exists. work_mem is set on it to the lab server's 16 MB, so the plans
 * match a full run's; the server's other databases are left as they are.
 */
async function ensureDatabase(server: string, database: string, lab: Lab): Promise<void> {
  const admin = createPool({ url: server, schema: 'public', poolSize: 1 });
  try {
    const { rows } = await admin.query('SELECT 1 FROM pg_database WHERE datname = $1', [database]);
    if (rows.length > 0) return;
    await admin.query(`CREATE DATABASE ${quoteIdent(database)}`);
    await admin.query(`ALTER DATABASE ${quoteIdent(database)} SET work_mem = '16MB'`);
    lab.log(`catalog-scale: created database ${database}`);
  } finally {
    await admin.end();
  }
}

async function databaseExists(server: string, database: string): Promise<boolean> {
  const admin = createPool({ url: server, schema: 'public', poolSize: 1 });
  try {
    const { rows } = await admin.query('SELECT 1 FROM pg_database WHERE datname = $1', [database]);
    return rows.length > 0;
  } finally {
    await admin.end();
  }
}

async function readKept(pool: Pool): Promise<KeptCatalog | null> {
  await pool.query(`CREATE TABLE IF NOT EXISTS public.bench_catalog_scale (id int PRIMARY KEY CHECK (id = 1), state jsonb NOT NULL)`);
  const { rows } = await pool.query<{ state: KeptCatalog }>('SELECT state FROM public.bench_catalog_scale WHERE id = 1');
  return rows[0]?.state ?? null;
}

async function writeKept(pool: Pool, state: KeptCatalog): Promise<void> {
  await pool.query(
    `INSERT INTO public.bench_catalog_scale (id, state) VALUES (1, $1::jsonb) ON CONFLICT (id) DO UPDATE SET state = EXCLUDED.state`,
    [JSON.stringify(state)],
  );
}

/** Free bytes on the file system of the server's data directory (the loading disk), or of `fallback`. */
async function freeBytesUnderServer(pool: Pool, fallback: string): Promise<number> {
  let dir = fallback;
  try {
    const { rows } = await pool.query<{ data_directory: string }>('SHOW data_directory');
    if (rows[0]?.data_directory && fs.existsSync(rows[0].data_directory)) dir = rows[0].data_directory;
  } catch {
    // not superuser: the fallback's file system
  }
  const disk = fs.statfsSync(dir);
  return disk.bavail * disk.bsize;
}

async function startKept(lab: Lab, args: Args, database: string, roles: 'viewer'[]): Promise<{ y: Yunying; statePool: Pool; state: KeptCatalog | null }> {
  const url = databaseUrl(serverUrl(args), database);
  lab.useExternalPostgres(url);
  await lab.startRedis();
  const statePool = createPool({ url, schema: 'public', poolSize: 1 });
  try {
    const state = await readKept(statePool);
    const y = await lab.startYunying(roles, {}, { schema: state?.schema ?? KEPT_SCHEMA, state: state?.yunying ?? null });
    return { y, statePool, state };
  } catch (error) {
    await statePool.end();
    throw error;
  }
}

const sumGrowth = (steps: KeptGrowthStep[]): Growth => ({
  loadSeconds: steps.reduce((s, g) => s + g.growth.loadSeconds, 0),
  indexSeconds: steps.reduce((s, g) => s + g.growth.indexSeconds, 0),
  vacuumSeconds: steps.reduce((s, g) => s + g.growth.vacuumSeconds, 0),
});

/** --load-only: grows the kept catalog of `database` through --sizes; returns its state afterwards. */
export async function loadKeptCatalog(lab: Lab, args: Args, database: string): Promise<{ state: KeptCatalog; stopped: string | null }> {
  const sizes = catalogSizes(args, '1000000').sort((a, b) => a - b);
  const minFreeBytes = args.number('min-free-gb', 10) * 1e9;
  await ensureDatabase(serverUrl(args), database, lab);
  const { y, statePool, state: found } = await startKept(lab, args, database, []);
  try {
    if (found?.loading) {
      const l = found.loading;
      throw new Error(
        `${database}: a growth step (${l.fromStudies} -> ${l.toStudies} studies, started ${l.startedAt}) did not finish, and left rows without the indexes: DROP DATABASE ${database} and load it again`,
      );
    }
    if (!y.kept) throw new Error('a kept Yunying without its state');
    const state: KeptCatalog = found ?? { schema: KEPT_SCHEMA, yunying: y.kept, studies: 0, loading: null, steps: [], measurements: [] };
    await writeKept(statePool, state);
    let stopped: string | null = null;
    for (const size of sizes) {
      const target = studiesFor(size);
      if (target <= state.studies) {
        lab.log(`catalog-scale: ${database} already holds ${(state.studies * 20).toLocaleString('en')} instance rows; ${size.toLocaleString('en')} skipped`);
        continue;
      }
      const last = state.steps[state.steps.length - 1];
      stopped = growthRefusal(state.studies, target, last ? bytesPerInstance(last.storage, last.instances).total : null, await freeBytesUnderServer(statePool, lab.work), minFreeBytes);
      if (stopped) {
        lab.log(`catalog-scale: ${database}: ${stopped}`);
        break;
      }
      const startedAt = new Date().toISOString();
      const loadAtStart = os.loadavg()[0] ?? 0;
      state.loading = { fromStudies: state.studies, toStudies: target, startedAt };
      await writeKept(statePool, state);
      const loader = await loaderConnection(y.pool, lab);
      let growth: Growth;
      try {
        growth = await grow(loader, lab, state.studies, target);
      } finally {
        loader.release();
      }
      const storage = await tableStorage(y.pool);
      state.steps.push({
        fromStudies: state.studies, studies: target, instances: target * 20, growth, storage, header: await headerSize(y.pool),
        startedAt, finishedAt: new Date().toISOString(), load: { start: loadAtStart, end: os.loadavg()[0] ?? 0 },
      });
      state.studies = target;
      state.loading = null;
      await writeKept(statePool, state);
      lab.log(`catalog-scale: ${database} holds ${(target * 20).toLocaleString('en')} instance rows, ${Math.round(bytesPerInstance(storage, target * 20).total)} bytes per instance row`);
    }
    return { state, stopped };
  } finally {
    await y.stop();
    await statePool.end();
  }
}

/** --measure-only: measures the kept catalog of `database` as loaded and records the result in it. */
export async function measureKeptCatalog(lab: Lab, args: Args, database: string): Promise<CatalogScaleResult> {
  if (!(await databaseExists(serverUrl(args), database))) throw new Error(`${database}: no such database (load it first: --database ${database} --load-only --sizes N)`);
  const { y, statePool, state } = await startKept(lab, args, database, ['viewer']);
  try {
    if (!state || state.studies === 0) throw new Error(`${database}: no catalog loaded (--load-only first)`);
    if (state.loading) throw new Error(`${database}: its last growth step did not finish (no indexes): DROP DATABASE ${database} and load it again`);
    const ctx = await prepareMeasurement(y, lab, args);
    // The write path's studies of an earlier measurement arrived unread: read them, so every measurement
    // sees the loaded queue (the ~2 000 newest generated studies).
    await y.pool.query(`UPDATE studies SET reading_status = 'reported', triage_status = 'triaged' WHERE reading_status <> 'reported' AND study_instance_uid LIKE '2.25.777.%'`);
    const result = await measureSize(ctx, 0, state.studies, sumGrowth(state.steps));
    ctx.client.close();
    result.measuredAt = new Date().toISOString();
    for (const [name, plan] of Object.entries(result.plans)) lab.log(`catalog-scale: plan of ${name}:\n${plan}`);
    // Read again: only this run writes measurements, but the state is the database's, not this process's.
    const latest = (await readKept(statePool)) ?? state;
    latest.measurements.push({ requests: ctx.requests, writes: ctx.writes, result });
    await writeKept(statePool, latest);
    return { sizes: [result], stopped: null };
  } finally {
    await y.stop();
    await statePool.end();
  }
}

/** --compare: the latest measurement of each database, smallest catalog first. */
export async function compareKeptCatalogs(args: Args, databases: string[]): Promise<CatalogScaleResult & { requests: number }> {
  const server = serverUrl(args);
  const measured: KeptMeasurement[] = [];
  for (const database of databases) {
    if (!(await databaseExists(server, database))) throw new Error(`${database}: no such database`);
    const pool = createPool({ url: databaseUrl(server, database), schema: 'public', poolSize: 1 });
    try {
      const state = await readKept(pool);
      const last = state?.measurements[state.measurements.length - 1];
      if (!last) throw new Error(`${database} has not been measured (--database ${database} --measure-only)`);
      measured.push(last);
    } finally {
      await pool.end();
    }
  }
  measured.sort((a, b) => a.result.instances - b.result.instances);
  const requests = new Set(measured.map((m) => m.requests));
  const notes = requests.size > 1 ? [`requests per kind differ between the measurements: ${[...requests].join(', ')}`] : null;
  return { sizes: measured.map((m) => m.result), stopped: notes ? notes.join('; ') : null, requests: measured[0]?.requests ?? 0 };
}

/** What a --load-only run did: each growth step of the database, seconds and bytes. */
export function keptLoadTable(database: string, state: KeptCatalog, stopped: string | null): Table {
  const m = (studies: number): string => `${((studies * 20) / 1e6).toLocaleString('en')} M`;
  return {
    title: `Catalog at scale, loaded database ${database}: growth steps (seconds) and bytes per instance row`,
    columns: ['step', 'started (UTC)', 'rows s', 'indexes s', 'VACUUM s', 'total min', 'load avg start -> end', 'catalog GB', 'bytes / instance row'],
    rows: state.steps.map((s) => {
      const per = bytesPerInstance(s.storage, s.instances);
      const total = s.growth.loadSeconds + s.growth.indexSeconds + s.growth.vacuumSeconds;
      return [
        `${m(s.fromStudies)} -> ${m(s.studies)}`, s.startedAt.slice(0, 16).replace('T', ' '), Math.round(s.growth.loadSeconds), Math.round(s.growth.indexSeconds),
        Math.round(s.growth.vacuumSeconds), total / 60, `${s.load.start.toFixed(1)} -> ${s.load.end.toFixed(1)}`, (per.total * s.instances) / 1e9, Math.round(per.total),
      ];
    }),
    notes: [...(stopped ? [`stopped: ${stopped}`] : []), `measure it: --database ${database} --measure-only (outside the network namespace)`],
  };
}
