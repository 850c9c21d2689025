import { pingDatabase } from '@yunying/catalog';
import { TypedQueue, pingQueueRedis } from '@yunying/jobs';
import { createServiceApp, listen, type ServiceContext, type StartedService } from '@yunying/http';

/** The inference role: triage workers; its HTTP port serves only health and metrics. */
export async function startInferenceService(ctx: ServiceContext): Promise<StartedService> {
  const logger = ctx.logger.child({ role: 'inference' });
  const triageQueue = new TypedQueue('triage', { redisUrl: ctx.config.redis.url, prefix: ctx.config.redis.queuePrefix });
  ctx.lifecycle.add({ name: 'triage queue', close: () => triageQueue.close() });
  const app = createServiceApp({
    service: 'inference',
    logger,
    metrics: ctx.metrics,
    readiness: [
      { name: 'postgres', check: () => pingDatabase(ctx.pool) },
      { name: 'redis', check: () => pingQueueRedis(triageQueue) },
    ],
    routes: [],
  });
  const server = await listen(app, ctx.config.http.host, ctx.config.http.ports.inference, logger);
  ctx.lifecycle.add({ name: 'inference http', close: () => server.close(ctx.config.shutdownGraceSeconds * 1000) });
  return { role: 'inference', url: server.url };
}
