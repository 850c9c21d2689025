import { Args } from './lib/args';
import { ensureCorpus, type Corpus } from './lib/corpus';
import { Lab } from './lib/lab';
import { machineInfo, publish, type Table } from './lib/report';
import { findTable, runFind } from './benches/find';
import { EXPLAIN_CHANNEL_NAMES, explainTable, runExplain, statementTable, type ExplainChannel, type ExplainResult } from './benches/explain';
import { ingestTables, runIngest } from './benches/ingest';
import { measurePhysical, physicalTable, type PhysicalResult } from './benches/physical';
import { queryTable, readersTable, runQuery } from './benches/query';
import { retrieveTable, runRetrieve } from './benches/retrieve';
import { runScale, scaleTable } from './benches/scale';
import { catalogScaleTables, runCatalogScale } from './benches/catalog-scale';
import { catalogScaleMode, compareKeptCatalogs, keptLoadTable, loadKeptCatalog, measureKeptCatalog } from './benches/catalog-kept';
import { targetsTable, type RunData } from './benches/targets';
import { runTriage, triageTable } from './benches/triage';
import { modelTable, runModel } from './benches/model';
import { runViewer, viewerTable } from './benches/viewer';

const USAGE = `usage: node bench/dist/cli.js <corpus|physical|ingest|explain|query|retrieve|find|scale|catalog-scale|triage|model|viewer|all> [options]
  --studies N            corpus size in studies (default 200); for scale: catalog size (default 1000000)
  --corpus-studies N     corpus size when running "all" (default 200)
  --seed S               corpus seed (default yunying)
  --concurrency 1,4      HTTP clients for ingest; --dimse-concurrency 1,4; --no-dimse; --no-rest
  --requests N           requests per kind (query 100, scale 200)
  --readers 1,8,32       query: concurrent audited readers per measured count; --reader-requests N (400) each
  --channels stow,dimse,dimse-window   explain: how the corpus is sent; --clients 1,4: clients at once, one run each
  --warmup N             ingest, explain: N studies of another corpus (seed S-warmup) sent to each fresh system
  --prebuilt-bodies      ingest, explain: STOW-RS bodies built before the clock starts (the client then only sends;
                         the whole corpus is held in memory)
                         first, through the same channel and clients, outside the measured window (default 0)
  --scale-studies N      catalog size for scale inside "all" (default 1000000)
  --write-mib N          MiB written for the fsync probe (default 512); --cpu-mib N (default 512)
  --triage-studies N     studies for triage (default 5); --viewer-runs N (default 10), --viewer-cpu-slowdown N (page CPU N times slower, phone-like; default 1), --viewer-from-queue (time from the queue's Read button)
  --orthanc-studies N    find: studies in both at equal size (default 10000); --studies: Yunying alone (default 1000000)
  --instances N          retrieve: instances in the study (default 40); --runs N (default 20)
  --sizes 1000000,...    catalog-scale: instance rows to grow through (default 1000000,5000000,20000000);
                         --requests N per QIDO/queue kind (default 200); --writes N studies per size (default 40);
                         --min-free-gb N: stop before a size that would leave less disk free (default 10)
  catalog-scale, loading split from measuring (kept databases on the machine's PostgreSQL, --postgres-url or
  BENCH_POSTGRES_URL, default postgres://postgres@127.0.0.1:5432/postgres; run WITHOUT run-in-netns.sh):
                         --database NAME --load-only --sizes N[,M]: create NAME if needed, grow its catalog to
                         each size (default 1000000) and keep it; a loader under nice/ionice -c3 lowers its
                         PostgreSQL backend likewise;
                         --database NAME --measure-only: measure the loaded catalog, keep the result in NAME;
                         --compare NAME1,NAME2,...: per-size table of their latest measurements, p95 largest/smallest
Run inside bench/run-in-netns.sh (a private network namespace: Orthanc binds every interface).`;

/**
 * Ctrl-C must not leave a PostgreSQL (pg_ctl daemonises it) or an Orthanc running in the namespace:
 * stop what the lab started, then exit.
 */
function stopOnSignal(lab: Lab): void {
  const stop = (signal: NodeJS.Signals): void => {
    process.stderr.write(`\n${signal}: stopping the benchmark's processes\n`);
    lab.close().then(
      () => process.exit(130),
      () => process.exit(130),
    );
  };
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
}

async function main(): Promise<void> {
  const [name, ...rest] = process.argv.slice(2);
  const args = new Args(rest);
  const machine = machineInfo();
  const seed = args.string('seed', 'yunying');
  const log = (line: string): void => {
    process.stderr.write(`${line}\n`);
  };
  const corpusOf = (studies: number): Corpus => ensureCorpus(studies, seed, args.string('corpus-dir', '') || undefined, log);
  switch (name) {
    case 'corpus': {
      const corpus = corpusOf(args.number('studies', 200));
      const frames = corpus.studies.flatMap((s) => s.instances).reduce((n, i) => n + i.frames, 0);
      const table: Table = {
        title: `Corpus (seed ${seed}) in ${corpus.dir}`,
        columns: ['studies', 'instances', 'frames', 'GB', 'mean MB/instance', 'CT instances', 'JPEG instances'],
        rows: [[
          corpus.studies.length,
          corpus.instances,
          frames,
          corpus.bytes / 1e9,
          corpus.bytes / 1e6 / corpus.instances,
          corpus.studies.filter((s) => s.modality === 'CT').reduce((n, s) => n + s.instances.length, 0),
          corpus.studies.flatMap((s) => s.instances).filter((i) => i.transferSyntax.endsWith('.4.50')).length,
        ]],
      };
      publish('corpus', [table], { studies: corpus.studies.length, instances: corpus.instances, bytes: corpus.bytes, dir: corpus.dir }, machine);
      return;
    }
    case 'model': {
      const r = await runModel(args);
      publish('model', [modelTable(r)], r, machine);
      return;
    }
    case 'retrieve': {
      const lab = new Lab();
      stopOnSignal(lab);
      try {
        await lab.startPostgres();
        await lab.startRedis();
        const r = await runRetrieve(lab, args);
        publish('retrieve', [retrieveTable(r)], r, machine);
      } finally {
        await lab.close();
      }
      return;
    }
    case 'find': {
      const lab = new Lab();
      stopOnSignal(lab);
      try {
        await lab.startPostgres();
        await lab.startRedis();
        const r = await runFind(lab, args);
        publish('find', [findTable(r)], r, machine);
      } finally {
        await lab.close();
      }
      return;
    }
    case 'catalog-scale': {
      const mode = catalogScaleMode(args);
      if (mode.kind === 'compare') {
        const r = await compareKeptCatalogs(args, mode.databases);
        publish('catalog-scale-compare', catalogScaleTables(r, r.requests), r, machine);
        return;
      }
      const lab = new Lab();
      stopOnSignal(lab);
      try {
        if (mode.kind === 'load') {
          const r = await loadKeptCatalog(lab, args, mode.database);
          // The kept Yunying's secrets stay in the database, not in the published JSON.
          publish(`catalog-scale-load-${mode.database}`, [keptLoadTable(mode.database, r.state, r.stopped)], { database: mode.database, studies: r.state.studies, steps: r.state.steps, stopped: r.stopped }, machine);
        } else if (mode.kind === 'measure') {
          const r = await measureKeptCatalog(lab, args, mode.database);
          publish(`catalog-scale-${mode.database}`, catalogScaleTables(r, args.number('requests', 200)), r, machine);
        } else {
          await lab.startPostgres();
          await lab.startRedis();
          const r = await runCatalogScale(lab, args);
          publish('catalog-scale', catalogScaleTables(r, args.number('requests', 200)), r, machine);
        }
      } finally {
        await lab.close();
      }
      return;
    }
    case 'scale': {
      const lab = new Lab();
      stopOnSignal(lab);
      try {
        await lab.startPostgres();
        await lab.startRedis();
        const r = await runScale(lab, args);
        publish('scale', [scaleTable(r, args.number('requests', 200))], r, machine);
      } finally {
        await lab.close();
      }
      return;
    }
    case 'physical':
    case 'explain':
    case 'ingest':
    case 'query':
    case 'triage':
    case 'viewer':
    case 'all':
      break;
    case undefined:
    default:
      process.stderr.write(`${USAGE}\n`);
      process.exit(name === undefined || name === '--help' ? 0 : 2);
  }
  const corpus = corpusOf(args.number(name === 'all' ? 'corpus-studies' : 'studies', 200));
  const warmupStudies = args.number('warmup', 0);
  // Other UIDs than the measured corpus (another seed), so nothing measured is a re-send.
  const warmup = warmupStudies > 0 ? ensureCorpus(warmupStudies, `${seed}-warmup`, undefined, log) : undefined;
  const lab = new Lab();
  stopOnSignal(lab);
  const tables: Table[] = [];
  const data: RunData & { corpus: { studies: number; instances: number; bytes: number; seed: string }; explain?: ExplainResult[]; warmupStudies?: number } = { corpus: { studies: corpus.studies.length, instances: corpus.instances, bytes: corpus.bytes, seed }, warmupStudies };
  try {
    let physical: PhysicalResult | null = null;
    if (name === 'physical' || name === 'ingest' || name === 'all') {
      lab.log('physical: fsync write probe and SHA-256/parse throughput');
      physical = measurePhysical(corpus, lab.work, args);
      tables.push(physicalTable(physical));
      data.physical = physical;
    }
    if (name !== 'physical') {
      // explain counts SQL statements (pg_stat_statements, utility statements included: BEGIN, COMMIT, SAVEPOINT).
      if (name === 'explain') process.env.BENCH_PG_OPTIONS = `${process.env.BENCH_PG_OPTIONS ?? ''} -c shared_preload_libraries=pg_stat_statements`;
      await lab.startPostgres();
      await lab.startRedis();
    }
    if (name === 'ingest' || name === 'all') {
      const runs = await runIngest(lab, corpus, args, warmup);
      tables.push(...ingestTables(corpus, runs, physical, warmup, args.flag('prebuilt-bodies')));
      data.ingest = runs;
    }
    if (name === 'explain' || name === 'all') {
      data.explain = [];
      for (const channel of explainChannels(args)) {
        for (const clients of explainClients(args)) {
          const r = await runExplain(lab, corpus, args, channel, clients, warmup);
          tables.push(explainTable(r));
          const statements = statementTable(r);
          if (statements) tables.push(statements);
          data.explain.push(r);
        }
      }
    }
    if (name === 'query' || name === 'all') {
      const r = await runQuery(lab, corpus, args);
      tables.push(queryTable(corpus, r.rows, args.number('requests', 100), r.durability));
      if (r.readers.length > 0) tables.push(readersTable(corpus, r.readers));
      data.query = r;
    }
    if (name === 'all') {
      const scaleArgs = new Args(['--studies', String(args.number('scale-studies', 1_000_000)), '--requests', String(args.number('scale-requests', 200))]);
      const r = await runScale(lab, scaleArgs);
      tables.push(scaleTable(r, args.number('scale-requests', 200)));
      data.scale = r;
    }
    if (name === 'triage' || name === 'all') {
      const r = await runTriage(lab, corpus, args);
      tables.push(triageTable(r));
      data.triage = r;
    }
    if (name === 'viewer' || name === 'all') {
      const r = await runViewer(lab, corpus, args);
      tables.push(viewerTable(r));
      data.viewer = r;
    }
  } finally {
    await lab.close();
  }
  if (name === 'all') tables.push(targetsTable(data));
  publish(name, tables, data, machine);
}

main().then(
  () => process.exit(0),
  (error: unknown) => {
    process.stderr.write(`benchmark failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
    process.exit(1);
  },
);

/** `--clients 1,4` (explain): clients sending at once, one run each; default 1. */
function explainClients(args: Args): number[] {
  const counts = args.string('clients', '1').split(',').map((c) => Number(c.trim()));
  const bad = counts.filter((n) => !Number.isInteger(n) || n < 1);
  if (bad.length > 0) throw new Error(`--clients: ${bad.join(', ')} is not a positive whole number`);
  return counts;
}

/** `--channels stow,dimse,dimse-window` (explain): default STOW-RS only. */
function explainChannels(args: Args): ExplainChannel[] {
  const isChannel = (name: string): name is ExplainChannel => Object.hasOwn(EXPLAIN_CHANNEL_NAMES, name);
  const names = args.string('channels', 'stow').split(',').map((c) => c.trim());
  const unknown = names.filter((n) => !isChannel(n));
  if (unknown.length > 0) throw new Error(`--channels: unknown ${unknown.join(', ')} (known: ${Object.keys(EXPLAIN_CHANNEL_NAMES).join(', ')})`);
  return names.filter(isChannel);
}
