import type { Config, ServiceRole } from '@yunying/config';
import type { Logger } from '@yunying/core';
import { createPool, migrate } from '@yunying/catalog';
import { Lifecycle, SharedRoutes, createMetricsRegistry, type ServiceContext, type StartedService } from '@yunying/http';
import { startIngestService } from '@yunying/ingest';
import { startInferenceService } from '@yunying/inference';
import { startViewerService } from '@yunying/viewer';

const starters: Record<ServiceRole, (ctx: ServiceContext) => Promise<StartedService>> = {
  ingest: startIngestService,
  inference: startInferenceService,
  viewer: startViewerService,
};

export interface RunningRoles {
  started: StartedService[];
  lifecycle: Lifecycle;
}

/**
 * Starts the roles the config asks for in this process, sharing one pool, one metrics registry and one
 * lifecycle. Migrations run first (under an advisory lock, so several processes may start at once).
 */
export async function startRoles(config: Config, logger: Logger): Promise<RunningRoles> {
  const lifecycle = new Lifecycle(logger);
  const pool = createPool({ url: config.database.url, schema: config.database.schema, poolSize: config.database.poolSize, applicationName: `yunying-${config.role}` });
  lifecycle.add({ name: 'postgres pool', close: () => pool.end() });
  try {
    const applied = await migrate(pool, config.database.schema);
    if (applied.length > 0) logger.info({ applied }, 'migrations applied');
    const roles: ServiceRole[] = config.role === 'all' ? ['ingest', 'inference', 'viewer'] : [config.role];
    const ctx: ServiceContext = { config, logger, metrics: createMetricsRegistry(), pool, lifecycle, ...(roles.length > 1 ? { sharedRoutes: new SharedRoutes() } : {}) };
    const started: StartedService[] = [];
    for (const role of roles) started.push(await starters[role](ctx));
    return { started, lifecycle };
  } catch (error) {
    await lifecycle.stop();
    throw error;
  }
}
