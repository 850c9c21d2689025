import type { Config, ServiceRole } from '@yunying/config';
import type { Logger } from '@yunying/core';
import { ReplicaReads, connectedRole, createPool, migrate, pendingMigrations, type CatalogReader, type Pool } from '@yunying/catalog';
import { ensureKeyedGenesis, installAuditKeyring, loadAuditKeyring } from '@yunying/audit';
import { Lifecycle, SharedRoutes, counter, createMetricsRegistry, type ServiceContext, type StartedService } from '@yunying/http';
import { startIngestService, startKeeperService } from '@yunying/ingest';
import { startInferenceService } from '@yunying/inference';
import { startViewerService } from '@yunying/viewer';

/** Each role's starter; null when the role shares the process without a port of its own (keeper in ROLE=all). */
const starters: Record<ServiceRole, (ctx: ServiceContext) => Promise<StartedService | null>> = {
  ingest: startIngestService,
  inference: startInferenceService,
  viewer: startViewerService,
  keeper: startKeeperService,
};

/** ROLE=all runs every role, the keeper last (its loops start once the write path is up). */
export function rolesOf(role: Config['role']): ServiceRole[] {
  return role === 'all' ? ['ingest', 'inference', 'viewer', 'keeper'] : [role];
}

export interface RunningRoles {
  started: StartedService[];
  lifecycle: Lifecycle;
}

/**
 * Starts the roles the config asks for in this process, sharing one pool, one metrics registry and one
 * lifecycle. Migrations run first (under an advisory lock, so several processes may start at once), or,
 * with DATABASE_MIGRATE=false, are only checked to be complete.
 */
export async function startRoles(config: Config, logger: Logger): Promise<RunningRoles> {
  const lifecycle = new Lifecycle(logger);
  const pool = createPool({ url: config.database.url, schema: config.database.schema, poolSize: config.database.poolSize, applicationName: `yunying-${config.role}` });
  lifecycle.add({ name: 'postgres pool', close: () => pool.end() });
  try {
    const { role: dbRole, superuser } = await connectedRole(pool);
    if (superuser) logger.warn({ dbRole }, 'catalog: connected as a database superuser, who can switch the audit triggers off; connect as a member of yunying_app (packages/audit/README.md)');
    else logger.info({ dbRole, migrate: config.database.migrate }, 'catalog: connected as a role without superuser rights');
    if (config.database.migrate) {
      const applied = await migrate(pool, config.database.schema);
      if (applied.length > 0) logger.info({ applied }, 'migrations applied');
    } else {
      // A least-privileged role cannot change the schema: the owner migrates first (npm run migrate).
      const pending = await pendingMigrations(pool, config.database.schema);
      if (pending.length > 0) {
        throw new Error(`the catalog has ${pending.length} migration(s) pending or changed (${pending.slice(0, 3).join(', ')}${pending.length > 3 ? ', …' : ''}): run \`npm run migrate\` as the database owner first (DATABASE_MIGRATE=false)`);
      }
    }
    // Before any role can append: every audit record is MACed with the key from outside the database.
    installAuditKeyring(
      loadAuditKeyring({ macKeyFile: config.audit.macKeyFile, macAlgorithm: config.audit.macAlgorithm, generateMissing: config.audit.generateMissing.macKey }),
    );
    const genesis = await ensureKeyedGenesis(pool);
    if (genesis !== null) logger.warn({ seq: genesis }, 'audit chain: records are now MACed under a new key (keyed genesis written)');
    const roles = rolesOf(config.role);
    const metrics = createMetricsRegistry();
    const reads = readsFor(config, pool, metrics, logger, lifecycle);
    const ctx: ServiceContext = { config, logger, metrics, pool, reads, lifecycle, ...(roles.length > 1 ? { sharedRoutes: new SharedRoutes() } : {}) };
    const started: StartedService[] = [];
    for (const role of roles) {
      const service = await starters[role](ctx);
      if (service !== null) started.push(service);
    }
    return { started, lifecycle };
  } catch (error) {
    await lifecycle.stop();
    throw error;
  }
}

/**
 * Where read-only queries go: the CATALOG_READ_URL replica with the primary as fallback, or the primary
 * pool itself. The replica pool is checked at once, so reads start on it when it is there.
 */
function readsFor(config: Config, pool: Pool, metrics: ServiceContext['metrics'], logger: Logger, lifecycle: Lifecycle): CatalogReader {
  const replica = config.database.readReplica;
  if (replica === null) return pool;
  const served = counter(metrics, 'yunying_catalog_reads_total', 'Read-only catalog queries, by the server that answered (replica or primary)', ['server']);
  const reads = ReplicaReads.open(
    pool,
    { url: replica.url, schema: config.database.schema, poolSize: config.database.poolSize, applicationName: `yunying-${config.role}-reads` },
    {
      maxLagSeconds: replica.maxLagSeconds,
      onServed: (server) => served.inc({ server }),
      onStateChange: (state, reason) =>
        state === 'replica' ? logger.info({ reason }, 'catalog reads: on the replica') : logger.warn({ reason }, 'catalog reads: on the primary (replica set aside)'),
    },
  );
  void reads.probe();
  lifecycle.add({ name: 'catalog read replica', close: () => reads.close() });
  return reads;
}
