import { loadConfigOrExit, type ServiceRole } from '@yunying/config';
import { createLogger, describeError } from '@yunying/core';
import { createPool, migrate } from '@yunying/catalog';
import { Lifecycle, createMetricsRegistry, type ServiceContext, type StartedService } from '@yunying/http';
import { startIngestService } from '@yunying/ingest';
import { startInferenceService } from '@yunying/inference';
import { startViewerService } from '@yunying/viewer';

const starters: Record<ServiceRole, (ctx: ServiceContext) => Promise<StartedService>> = {
  ingest: startIngestService,
  inference: startInferenceService,
  viewer: startViewerService,
};

/**
 * The process entry point. ROLE=all runs every role in this one process (the embedded default of
 * `npm start`); ROLE=ingest|inference|viewer runs one, for scale-out. Migrations run at start-up
 * (under an advisory lock, so several processes may start at once).
 */
async function main(): Promise<void> {
  const config = loadConfigOrExit();
  const logger = createLogger({ level: config.logLevel, service: `yunying-${config.role}` });
  const lifecycle = new Lifecycle(logger);
  lifecycle.handleSignals(config.shutdownGraceSeconds * 1000);

  const pool = createPool({ url: config.database.url, schema: config.database.schema, poolSize: config.database.poolSize, applicationName: `yunying-${config.role}` });
  lifecycle.add({ name: 'postgres pool', close: () => pool.end() });
  const applied = await migrate(pool, config.database.schema);
  if (applied.length > 0) logger.info({ applied }, 'migrations applied');

  const ctx: ServiceContext = { config, logger, metrics: createMetricsRegistry(), pool, lifecycle };
  const roles: ServiceRole[] = config.role === 'all' ? ['ingest', 'inference', 'viewer'] : [config.role];
  const started: StartedService[] = [];
  for (const role of roles) started.push(await starters[role](ctx));
  // One machine-readable line for scripts (infra/dev/start.sh, system tests) to wait on.
  process.stdout.write(`YUNYING_READY ${JSON.stringify(started)}\n`);
}

main().catch((error: unknown) => {
  process.stderr.write(`yunying failed to start: ${describeError(error)}\n`);
  process.exit(1);
});
