import { pingDatabase } from '@yunying/catalog';
import { TypedQueue, pingQueueRedis } from '@yunying/jobs';
import { createServiceApp, listen, type ServiceContext, type StartedService } from '@yunying/http';

/** The ingest role: STOW-RS over HTTP and the DICOM C-ECHO/C-STORE SCP. */
export async function startIngestService(ctx: ServiceContext): Promise<StartedService> {
  const logger = ctx.logger.child({ role: 'ingest' });
  const studyQueue = new TypedQueue('study', { redisUrl: ctx.config.redis.url, prefix: ctx.config.redis.queuePrefix });
  ctx.lifecycle.add({ name: 'ingest queues', close: () => studyQueue.close() });
  const app = createServiceApp({
    service: 'ingest',
    logger,
    metrics: ctx.metrics,
    readiness: [
      { name: 'postgres', check: () => pingDatabase(ctx.pool) },
      { name: 'redis', check: () => pingQueueRedis(studyQueue) },
    ],
    routes: [],
  });
  const server = await listen(app, ctx.config.http.host, ctx.config.http.ports.ingest, logger);
  ctx.lifecycle.add({ name: 'ingest http', close: () => server.close(ctx.config.shutdownGraceSeconds * 1000) });
  return { role: 'ingest', url: server.url };
}
