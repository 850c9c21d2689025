import { pingDatabase } from '@yunying/catalog';
import { AuthService, createAuthRouter } from '@yunying/auth';
import { createServiceApp, listen, type ServiceContext, type StartedService } from '@yunying/http';
import { readingRouters } from './reading';

/** The viewer role: DICOMweb retrieval, the reading queue, reports and the web app. */
export async function startViewerService(ctx: ServiceContext): Promise<StartedService> {
  const logger = ctx.logger.child({ role: 'viewer' });
  const { config } = ctx;
  const auth = new AuthService({
    pool: ctx.pool,
    tokenSecret: config.auth.tokenSecret,
    accessTokenTtlSeconds: config.auth.accessTokenTtlSeconds,
    refreshTokenTtlSeconds: config.auth.refreshTokenTtlSeconds,
    retentionMinYears: config.retentionMinYears,
  });
  const app = createServiceApp({
    service: 'viewer',
    logger,
    metrics: ctx.metrics,
    readiness: [{ name: 'postgres', check: () => pingDatabase(ctx.pool) }],
    routes: [
      createAuthRouter(auth).router,
      ...readingRouters({ pool: ctx.pool, authenticator: auth }).map((r) => r.router),
    ],
  });
  const server = await listen(app, ctx.config.http.host, ctx.config.http.ports.viewer, logger);
  ctx.lifecycle.add({ name: 'viewer http', close: () => server.close(ctx.config.shutdownGraceSeconds * 1000) });
  return { role: 'viewer', url: server.url };
}
