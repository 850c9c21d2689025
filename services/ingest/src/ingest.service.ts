import fs from 'node:fs';
import { pingDatabase } from '@yunying/catalog';
import { describeError } from '@yunying/core';
import { AuthService, withOidc } from '@yunying/auth';
import { OutboxRelay, TypedQueue, pingQueueRedis, queueSettingsOf } from '@yunying/jobs';
import { createServiceApp, listen, UploadBudget, type ServiceContext, type StartedService, httpSecurityFromConfig } from '@yunying/http';
import { createDerivedObjectStore, createIngestPipeline, createReplicatedStore } from '@yunying/archive';
import { stowRoutes } from './stow/stow.route';
import { webAppCors } from './web-app-cors';
import { ThumbnailService } from './thumbnail.service';
import { apiKeyVerifierOf, DimseDestinationsService, dimseDestinationsRoutes, DimseDevicesService, dimseDevicesRoutes, startDimseServer } from './dimse';
import { startKeeper } from './keeper';

/** The ingest role: STOW-RS over HTTP and the DICOM C-ECHO/C-STORE SCP, both into one pipeline. */
export async function startIngestService(ctx: ServiceContext): Promise<StartedService> {
  const { config } = ctx;
  const logger = ctx.logger.child({ role: 'ingest' });

  const store = await createReplicatedStore(config, logger, { pool: ctx.pool });

  const studyQueue = new TypedQueue('study', queueSettingsOf(config.redis));
  ctx.lifecycle.add({ name: 'ingest queues', close: () => studyQueue.close() });
  const relay = new OutboxRelay(ctx.pool, { study: studyQueue }, {
    intervalMs: 5000,
    // A study is "stable" after the quiet period: each announcement is looked at only then.
    delayFor: (queue) => (queue === 'study' ? config.triage.quietSeconds * 1000 : 0),
    // The announcements wait for the quiet period anyway: one pass per burst of commits, not per instance.
    coalesceMs: 250,
    onError: (error) => logger.warn({ err: describeError(error) }, 'outbox relay failed; will retry'),
  });
  relay.start();
  ctx.lifecycle.add({ name: 'outbox relay', close: () => relay.stop() });

  const derived = await createDerivedObjectStore(config, { prepare: true });
  const thumbnails = new ThumbnailService(ctx.pool, derived, logger);
  const pipeline = createIngestPipeline(config, {
    pool: ctx.pool,
    store,
    logger,
    metrics: ctx.metrics,
    // Once per catalog transaction (a STOW request's batch): one relay kick, thumbnails without a lookup.
    afterCommit: (committed) => {
      relay.kick();
      for (const { parsed, bytes, seriesHasThumbnail } of committed) void thumbnails.schedule(parsed, bytes, { seriesHasThumbnail });
    },
  });

  const auth = AuthService.fromConfig(config, ctx.pool);
  const stow = stowRoutes({
    pipeline,
    authenticator: withOidc(auth, config),
    maxInstanceBytes: config.stow.maxInstanceBytes,
    maxRequestBytes: config.stow.maxRequestBytes,
    uploadBudget: new UploadBudget(config.stow.memoryBudgetBytes),
    retrieveBase: `${config.http.publicViewerUrl}/dicomweb`,
    batch: { maxInstances: config.ingest.batchMaxInstances, maxBytes: config.ingest.batchMaxBytes },
  });

  // The keeper's scheduled loops run in the keeper role; ingest serves its on-demand admin routes.
  const keeper = startKeeper({ config, pool: ctx.pool, store, derived, auth, logger, metrics: ctx.metrics, lifecycle: ctx.lifecycle, loops: false });

  const app = createServiceApp({
    service: 'ingest',
    logger,
    metrics: ctx.metrics,
    security: httpSecurityFromConfig(config),
    readiness: [
      { name: 'postgres', check: () => pingDatabase(ctx.pool) },
      { name: 'redis', check: () => pingQueueRedis(studyQueue) },
      {
        name: 'object-storage',
        check: async () => {
          const probe = await store.probe();
          if (probe.up.length < store.writeQuorum) throw new Error(`${probe.down.map((d) => d.target).join(', ')} down; write quorum ${store.writeQuorum} not reachable`);
        },
      },
    ],
    before: (app) => app.use(webAppCors(config.http.publicViewerUrl)),
    routes: [stow.router, keeper.router, dimseDevicesRoutes(new DimseDevicesService(ctx.pool), auth).router, dimseDestinationsRoutes(new DimseDestinationsService(ctx.pool), auth).router],
    corsOrigins: config.http.corsOrigins,
  });
  // One DICOMweb base URL: in the embedded default STOW-RS also answers under the viewer's /dicomweb.
  ctx.sharedRoutes?.lendDicomweb(stow.router);
  const server = await listen(app, config.http.host, config.http.ports.ingest, logger);
  ctx.lifecycle.add({ name: 'ingest http', close: () => server.close(config.shutdownGraceSeconds * 1000) });

  const dimse = await startDimseServer({
    host: config.dimse.host,
    port: config.dimse.port,
    aeTitle: config.dimse.aeTitle,
    checkCalledAe: config.dimse.checkCalledAe,
    pool: ctx.pool,
    pipeline,
    store,
    logger,
    metrics: ctx.metrics,
    maxInstanceBytes: config.stow.maxInstanceBytes,
    // PS3.7 D.3.3.7: a User Identity passcode is checked as one of the clinic's API keys.
    verifyApiKey: apiKeyVerifierOf(auth),
    failedAssociations: { maxFailures: config.dimse.maxFailedAssociationsPerMinute, windowMs: 60_000 },
    maxOperationsInvoked: config.dimse.maxOperationsInvoked,
    batch: { maxInstances: config.ingest.batchMaxInstances, maxBytes: config.ingest.batchMaxBytes },
    ...(config.dimse.tls
      ? {
          tls: {
            port: config.dimse.tls.port,
            cert: fs.readFileSync(config.dimse.tls.certFile),
            key: fs.readFileSync(config.dimse.tls.keyFile),
            ca: fs.readFileSync(config.dimse.tls.caFile),
          },
        }
      : {}),
  });
  ctx.lifecycle.add({ name: 'dimse scp', close: () => dimse.close() });
  return { role: 'ingest', url: server.url, extra: { dicom: `${config.dimse.aeTitle}@${config.dimse.host}:${dimse.port}`, ...(dimse.tlsPort !== null ? { dicomTls: `${config.dimse.host}:${dimse.tlsPort}` } : {}) } };
}
