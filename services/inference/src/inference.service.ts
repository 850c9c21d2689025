import { createIngestPipeline, createReplicatedStore } from '@yunying/archive';
import { pingDatabase } from '@yunying/catalog';
import { TypedQueue, pingQueueRedis, queueSettingsOf, startCatalogueWorkers } from '@yunying/jobs';
import { createServiceApp, listen, type ServiceContext, type StartedService, httpSecurityFromConfig } from '@yunying/http';
import { loadActiveModel } from '@yunying/nodule-model';
import { AiObjectsWriter } from './objects/ai-objects.writer';
import { AnalysisPool } from './threads/analysis.pool';
import { TriageReconciler } from './triage/reconciler';
import { StableStudyService } from './triage/stable.service';
import { triageMetrics } from './triage/triage.metrics';
import { TriageService } from './triage/triage.service';
import { studyHandlers, triageHandlers } from './triage/triage.worker';

/**
 * The inference role (ARCHITECTURE "The data path", step 6): the stable-study check on the 'study'
 * queue, triage workers on the 'triage' queue with analysis threads, the reconciler, and the AI
 * objects' write-back (SEG + TID 1500 SR). Its HTTP port serves health and metrics. Refuses to start when the active model's file
 * does not match its manifest.
 */
export async function startInferenceService(ctx: ServiceContext): Promise<StartedService> {
  const { config } = ctx;
  const logger = ctx.logger.child({ role: 'inference' });
  const model = loadActiveModel(config.models.dir, config.models.active);
  const { manifest } = model;
  logger.info({ model: manifest.id, version: manifest.version, sha256: manifest.sha256 }, 'model verified');

  const analysis = new AnalysisPool({ size: config.triage.concurrency, modelDir: model.dir, logger });
  ctx.lifecycle.add({ name: 'analysis threads', close: () => analysis.close() });
  await analysis.start();

  // Inference writes SR and SEG instances into buckets the ingest/keeper roles prepared: it never creates a
  // bucket or sets lock configuration (narrower credentials).
  const store = await createReplicatedStore(config, logger, { prepare: false, pool: ctx.pool });
  const pipeline = createIngestPipeline(config, { pool: ctx.pool, store, logger, metrics: ctx.metrics });

  const metrics = triageMetrics(ctx.metrics);
  const queueSettings = queueSettingsOf(config.redis);
  const studyQueue = new TypedQueue('study', queueSettings);
  const triageQueue = new TypedQueue('triage', queueSettings);
  // Closing a queue waits for its active jobs, so workers finish the study they hold on SIGTERM.
  ctx.lifecycle.add({ name: 'triage queues', close: async () => void (await Promise.all([studyQueue.close(), triageQueue.close()])) });

  const quietSeconds = config.triage.quietSeconds;
  const stable = new StableStudyService({ pool: ctx.pool, studyQueue, triageQueue, manifest, quietSeconds });
  const aiObjects = new AiObjectsWriter({ pool: ctx.pool, pipeline, logger });
  const triage = new TriageService({
    pool: ctx.pool,
    store,
    analyser: { size: config.triage.concurrency, analyse: (bytes, maxFrames) => analysis.analyse(bytes, maxFrames) },
    manifest,
    quietSeconds,
    writeSr: (result) => aiObjects.write(result),
    metrics,
    logger,
  });
  startCatalogueWorkers(
    {
      study: { queue: studyQueue, concurrency: 1, handlers: studyHandlers(stable, metrics) },
      triage: { queue: triageQueue, concurrency: config.triage.concurrency, handlers: triageHandlers(triage, metrics, logger) },
    },
    logger,
  );

  const reconciler = new TriageReconciler({
    pool: ctx.pool,
    stable,
    manifest,
    quietSeconds,
    intervalMs: Math.max(2, quietSeconds * 2) * 1000,
    metrics,
    logger,
  });
  reconciler.start();
  ctx.lifecycle.add({ name: 'triage reconciler', close: () => reconciler.stop() });

  const app = createServiceApp({
    service: 'inference',
    logger,
    metrics: ctx.metrics,
    security: httpSecurityFromConfig(config),
    readiness: [
      { name: 'postgres', check: () => pingDatabase(ctx.pool) },
      { name: 'redis', check: () => pingQueueRedis(triageQueue) },
    ],
    routes: [],
  });
  const server = await listen(app, config.http.host, config.http.ports.inference, logger);
  ctx.lifecycle.add({ name: 'inference http', close: () => server.close(config.shutdownGraceSeconds * 1000) });
  return { role: 'inference', url: server.url, extra: { model: `${manifest.id}@${manifest.version}` } };
}
