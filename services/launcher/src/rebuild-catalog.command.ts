import { parseArgs } from 'node:util';
import { storageTargetSettings, type Config } from '@yunying/config';
import { createLogger, type Logger } from '@yunying/core';
import { createPool, migrate, type Pool } from '@yunying/catalog';
import { compareCatalogs, formatDifference, formatReport, objectEnvelopeOf, rebuildCatalog, reportIsClean } from '@yunying/archive';
import { createTargetsFromConfig } from '@yunying/storage';

export const REBUILD_USAGE = `usage: yunying-archive rebuild-catalog [options]

Rebuilds studies, series, instances, objects and copies from the three replica targets alone (the
storage settings of the environment: STORAGE_BACKEND, DATA_DIR or S3_*). Reads the targets, never
writes to them. Resumable: run it again after an interruption.

  --schema NAME        destination schema (default DATABASE_SCHEMA); created and migrated; must hold no
                       instances except those of an unfinished rebuild
  --database-url URL   destination database (default DATABASE_URL)
  --json               the report as JSON on stdout
  --max-objects N      decide at most N objects in this run (a bounded run; run again to continue)
  --adopt              into a catalog that holds instances (after a point-in-time restore): index only
                       the objects it does not hold (ingested after the restore point); stop ingest first
  --compare            do not rebuild: compare the rebuilt catalog (--schema, --database-url) with the
                       live one (--live-schema, --live-url) and print the differences
  --live-schema NAME   live catalog's schema (default DATABASE_SCHEMA)
  --live-url URL       live catalog's database (default DATABASE_URL)
  --limit N            differences printed at most (default 100; all are counted)

Exit status: 0 clean, 3 mismatches found (rebuild) or differences found (--compare), 4 objects still
pending (run again), 2 usage, 1 failure.`;

export const RebuildExit = { Clean: 0, Failure: 1, Usage: 2, Mismatches: 3, Pending: 4 } as const;

export class RebuildUsageError extends Error {}

interface RebuildArgs {
  schema: string;
  databaseUrl: string;
  json: boolean;
  compare: boolean;
  liveSchema: string;
  liveUrl: string;
  limit: number;
  maxObjects: number | undefined;
  adopt: boolean;
}

export function parseRebuildArgs(argv: string[], config: Config): RebuildArgs {
  let values;
  try {
    ({ values } = parseArgs({
      args: argv,
      strict: true,
      options: {
        schema: { type: 'string' },
        'database-url': { type: 'string' },
        json: { type: 'boolean', default: false },
        compare: { type: 'boolean', default: false },
        'live-schema': { type: 'string' },
        'live-url': { type: 'string' },
        limit: { type: 'string', default: '100' },
        'max-objects': { type: 'string' },
        adopt: { type: 'boolean', default: false },
      },
    }));
  } catch (error) {
    throw new RebuildUsageError(error instanceof Error ? error.message : String(error));
  }
  const limit = Number(values.limit);
  if (!Number.isInteger(limit) || limit < 0) throw new RebuildUsageError('--limit must be a whole number');
  const maxObjects = values['max-objects'] === undefined ? undefined : Number(values['max-objects']);
  if (maxObjects !== undefined && (!Number.isInteger(maxObjects) || maxObjects < 1)) throw new RebuildUsageError('--max-objects must be a positive whole number');
  const args: RebuildArgs = {
    schema: values.schema ?? config.database.schema,
    databaseUrl: values['database-url'] ?? config.database.url,
    json: values.json,
    compare: values.compare,
    liveSchema: values['live-schema'] ?? config.database.schema,
    liveUrl: values['live-url'] ?? config.database.url,
    limit,
    maxObjects,
    adopt: values.adopt,
  };
  for (const schema of [args.schema, args.liveSchema]) {
    if (!/^[a-z_][a-z0-9_]{0,62}$/.test(schema)) throw new RebuildUsageError(`not a schema name: ${schema}`);
  }
  if (args.compare && args.adopt) throw new RebuildUsageError('--adopt and --compare do not go together');
  if (args.compare && args.schema === args.liveSchema && args.databaseUrl === args.liveUrl) {
    throw new RebuildUsageError('--compare needs two catalogs: give --schema or --database-url of the rebuilt one');
  }
  return args;
}

export async function runRebuildCatalog(argv: string[], config: Config): Promise<number> {
  const args = parseRebuildArgs(argv, config);
  // Logs on stderr: stdout carries the report, which scripts read.
  const logger = createLogger({ level: config.logLevel, service: 'rebuild-catalog', format: 'json', destination: process.stderr });
  const pool = createPool({ url: args.databaseUrl, schema: args.schema, poolSize: 3, applicationName: 'yunying-rebuild-catalog' });
  try {
    return args.compare ? await compare(pool, args) : await rebuild(pool, args, config, logger);
  } finally {
    await pool.end();
  }
}

async function rebuild(pool: Pool, args: RebuildArgs, config: Config, logger: Logger): Promise<number> {
  await migrate(pool, args.schema);
  // The targets are only read: not initialised (that would create roots or buckets that are missing).
  // Sealed copies open with the key file (STORAGE_KEY_FILE): the wrapped data key travels with each copy.
  const targets = createTargetsFromConfig(storageTargetSettings(config), logger, objectEnvelopeOf(config));
  const report = await rebuildCatalog({ pool, targets, logger, adopt: args.adopt, ...(args.maxObjects === undefined ? {} : { maxObjects: args.maxObjects }) });
  process.stdout.write(args.json ? `${JSON.stringify(report)}\n` : `${formatReport(report)}\n`);
  if (report.pending > 0) return RebuildExit.Pending;
  return reportIsClean(report) ? RebuildExit.Clean : RebuildExit.Mismatches;
}

async function compare(rebuilt: Pool, args: RebuildArgs): Promise<number> {
  const live = createPool({ url: args.liveUrl, schema: args.liveSchema, poolSize: 2, applicationName: 'yunying-rebuild-catalog' });
  try {
    let printed = 0;
    const summary = await compareCatalogs(live, rebuilt, (difference) => {
      if (printed >= args.limit) return;
      printed += 1;
      if (!args.json) process.stdout.write(`${formatDifference(difference)}\n`);
      else process.stdout.write(`${JSON.stringify(difference)}\n`);
    });
    const total = Object.values(summary.differences).reduce((a, b) => a + b, 0);
    if (args.json) process.stdout.write(`${JSON.stringify({ summary })}\n`);
    else {
      const per = Object.entries(summary.compared).map(([entity, n]) => `${entity} ${n} compared, ${summary.differences[entity] ?? 0} differ`);
      process.stdout.write(`${per.join('; ')}\n${total === 0 ? 'no differences' : `${total} differences`}\n`);
    }
    return total === 0 ? RebuildExit.Clean : RebuildExit.Mismatches;
  } finally {
    await live.end();
  }
}
