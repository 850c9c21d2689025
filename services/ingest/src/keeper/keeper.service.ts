import { AuditLog } from '@yunying/audit';
import { AuthService } from '@yunying/auth';
import { createDerivedObjectStore, createReplicatedStore } from '@yunying/archive';
import { pingDatabase } from '@yunying/catalog';
import { createServiceApp, listen, type ServiceContext, type StartedService } from '@yunying/http';
import { startKeeper } from './index';

/**
 * The keeper role (issue #18): the scrubber, the repair worker, the disposal executor and the orphan
 * sweep, out of the ingest processes so they can be placed and scaled on their own. Run one or two
 * (their work is claimed row by row in the catalog, so two never repeat each other's work).
 *
 * Under ROLE=all the keeper shares the process and opens no port of its own (returns null); under
 * ROLE=keeper it serves /healthz, /readyz, /metrics and the keeper's admin/auditor routes on KEEPER_PORT.
 */
export async function startKeeperService(ctx: ServiceContext): Promise<StartedService | null> {
  const { config } = ctx;
  const logger = ctx.logger.child({ role: 'keeper' });
  // The keeper repairs copies, so it prepares the targets (creates missing roots/buckets) like ingest.
  const store = await createReplicatedStore(config, logger, { pool: ctx.pool });
  // A disposal removes the study's thumbnails too: the keeper writes (removes) derived objects.
  const derived = await createDerivedObjectStore(config, { prepare: true });
  const auth = AuthService.fromConfig(config, ctx.pool, new AuditLog(ctx.pool));
  const keeper = startKeeper({ config, pool: ctx.pool, store, derived, auth, logger, metrics: ctx.metrics, lifecycle: ctx.lifecycle, loops: true });
  if (config.role !== 'keeper') return null;

  const app = createServiceApp({
    service: 'keeper',
    logger,
    metrics: ctx.metrics,
    readiness: [
      { name: 'postgres', check: () => pingDatabase(ctx.pool) },
      {
        name: 'object-storage',
        check: async () => {
          const probe = await store.probe();
          if (probe.up.length === 0) throw new Error('no replica target reachable');
        },
      },
    ],
    routes: [keeper.router],
  });
  const server = await listen(app, config.http.host, config.http.ports.keeper, logger);
  ctx.lifecycle.add({ name: 'keeper http', close: () => server.close(config.shutdownGraceSeconds * 1000) });
  return { role: 'keeper', url: server.url };
}
