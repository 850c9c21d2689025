import path from 'node:path';
import express from 'express';
import { pingDatabase } from '@yunying/catalog';
import { AuditLog, auditAnchorStores, createAuditRouter, loadCheckpointPublicKeys, loadCheckpointSigner } from '@yunying/audit';
import { AuthService, createAuthRouter, createOidcRouter, withOidc } from '@yunying/auth';
import { createDerivedObjectStore, createReplicatedStore, IngestPipeline } from '@yunying/archive';
import { createServiceApp, listen, type ServiceContext, type StartedService, httpSecurityFromConfig } from '@yunying/http';
import { createDicomwebRouter } from './dicomweb';
import { foreignStudyAlerts } from './dicomweb/foreign-study-alerts';
import { readingRouters } from './reading';
import { ReaderAiService, readerAiRoutes } from './reader-ai';
import { triageScopeRoutes } from './triage-scope';
import { priorsRoutes } from './priors';
import { studyRecordRoutes } from './study-record';
import { PatientIndexAdmin, PatientIndexer, patientIndexRoutes, startPatientIndexSweep } from './patient-index';
import { DEFAULT_SHARE_LIMITS, ShareService, shareRoutes } from './share';
import { KeyImageService, keyImageRoutes } from './key-images';
import { TriageModel, loadActiveModel } from '@yunying/nodule-model';

/** The viewer role: DICOMweb retrieval, the reading queue, reports and the web app. */
export async function startViewerService(ctx: ServiceContext): Promise<StartedService> {
  const { config } = ctx;
  const logger = ctx.logger.child({ role: 'viewer' });
  const auditLog = new AuditLog(ctx.pool);
  const auth = AuthService.fromConfig(config, ctx.pool, auditLog);
  // Yunying's own tokens and API keys, and an external OIDC issuer's access tokens when configured.
  const authenticator = withOidc(auth, config);
  // The viewer never creates a bucket or sets lock configuration. It reads objects (from the first copy
  // that verifies) and, since #20, writes signed report SRs: its object credentials need write access.
  const store = await createReplicatedStore(config, logger, { prepare: false, pool: ctx.pool });
  const derived = await createDerivedObjectStore(config, { prepare: false });
  // Signed reports are written as SRs through the one write path (#20), so the viewer writes objects too:
  // three locked copies, retention at least the medical-record retention (REPORT_RETENTION_YEARS).
  const reportPipeline = new IngestPipeline({
    pool: ctx.pool,
    store,
    logger,
    metrics: ctx.metrics,
    parseLimits: { maxBytes: config.stow.maxInstanceBytes },
    retentionMinYears: Math.max(config.retentionMinYears, config.reports.retentionYears),
  });
  // Audit checkpoints and segments are read back from the copy targets (AUDIT_ANCHOR_STORE=replicas, #17).
  const anchorStores = auditAnchorStores(config, store.targets);

  const dicomweb = createDicomwebRouter({
    pool: ctx.pool,
    reads: ctx.reads,
    store,
    authenticator,
    audit: auditLog,
    publicBaseUrl: config.http.publicViewerUrl,
    derived,
  });

  // Reader-guided scoring runs the served model's nodule half in this process (one thread, on demand).
  const active = loadActiveModel(config.models.dir, config.models.active);
  const model = await TriageModel.load(active.dir);
  ctx.lifecycle.add({ name: 'reader-guided model', close: () => model.close() });
  const readerAi = new ReaderAiService(ctx.pool, store, model, auditLog);

  // The patient index (#20) files each new study under a person; priors and the admin queue read it.
  const patientIndexer = new PatientIndexer(ctx.pool);
  const stopIndexSweep = startPatientIndexSweep(patientIndexer, logger);
  ctx.lifecycle.add({ name: 'patient index sweep', close: stopIndexSweep });

  // The embedded OpenID Connect provider (OHIF and other OIDC clients sign in with Yunying's users).
  const oidc = config.auth.oidc?.embedded ? await createOidcRouter({ config, pool: ctx.pool, auth, logger }) : null;
  if (oidc !== null) ctx.lifecycle.add({ name: 'oidc provider', close: () => Promise.resolve(oidc.close()) });

  const app = createServiceApp({
    service: 'viewer',
    logger,
    metrics: ctx.metrics,
    security: httpSecurityFromConfig(config),
    readiness: [{ name: 'postgres', check: () => pingDatabase(ctx.pool) }],
    before: (app) => {
      serveWebApp(app, config.http.publicIngestUrl);
      foreignStudyAlerts(app, { audit: auditLog, studies: ctx.pool, logger });
    },
    routes: [
      ...(oidc !== null ? [oidc.router] : []),
      // With the embedded provider, the web app's sign-out also ends the browser's OIDC sign-in (OHIF, #15).
      createAuthRouter(auth, oidc !== null ? { alsoSignOutBrowser: (exchange) => oidc.oidc.endBrowserSession(exchange) } : {}).router,
      createAuditRouter({
        pool: ctx.pool,
        auth: authenticator,
        staleVerificationSeconds: config.keeper.scrubStaleDays * 86_400,
        checkpoints: {
          store: anchorStores.checkpoints,
          // A verifier needs only public keys; without a file of them, the signing key's is derived.
          publicKeys:
            config.audit.checkpointPublicKeysFile !== null
              ? loadCheckpointPublicKeys(config.audit.checkpointPublicKeysFile)
              : [loadCheckpointSigner(config.audit.signingKeyFile, config.audit.generateMissing.signingKey).publicKey],
        },
        ...(anchorStores.segmentTargets !== null ? { segments: { targets: anchorStores.segmentTargets, chain: config.audit.chain } } : {}),
      }).router,
      dicomweb.router,
      // STOW-RS lent by the ingest role when it runs in this process: one /dicomweb base URL.
      ...(ctx.sharedRoutes?.dicomwebRouters() ?? []),
      ...readingRouters({ pool: ctx.pool, reads: ctx.reads, authenticator, audit: auditLog, reportPipeline, reports: config.reports, logger }).map((r) => r.router),
      readerAiRoutes(readerAi, authenticator).router,
      triageScopeRoutes(ctx.pool, authenticator).router,
      priorsRoutes(ctx.pool, authenticator, auditLog, ctx.reads).router,
      patientIndexRoutes(new PatientIndexAdmin(ctx.pool, patientIndexer), authenticator).router,
      studyRecordRoutes(ctx.pool, authenticator, config.keeper.scrubStaleDays * 86_400).router,
      // Key images are records too (#20): a KOS through the same write path as the report SR.
      keyImageRoutes(new KeyImageService({ pool: ctx.pool, pipeline: reportPipeline, logger, audit: auditLog }), authenticator).router,
      shareRoutes(new ShareService(ctx.pool, store, auditLog, { ...DEFAULT_SHARE_LIMITS, ...config.shares }), authenticator).router,
    ],
    corsOrigins: config.http.corsOrigins,
  });
  const server = await listen(app, config.http.host, config.http.ports.viewer, logger);
  ctx.lifecycle.add({ name: 'viewer http', close: () => server.close(config.shutdownGraceSeconds * 1000) });
  return { role: 'viewer', url: server.url };
}

// The web app (services/viewer/web, built into dist/web): assets, where uploads go, and index.html for
// the app's page routes (history routing). Everything else falls through to the API routers.
const WEB_DIR = path.resolve(__dirname, '../dist/web');
const PAGE_ROUTES = /^\/(?:sign-in|queue|read\/[0-9.]+|report\/[0-9.]+|clinic|upload|audit(?:\/access|\/studies\/[0-9.]+)?|reading-times|admin\/(?:patients|users|clinics)|account)?\/?$/;

function serveWebApp(app: express.Express, ingestUrl: string): void {
  app.get('/app-config.json', (_req, res) => void res.json({ ingest: { url: ingestUrl } }));
  // Chunks are named by their content (esbuild [hash]): a phone keeps the viewer's code for a year, and a new
  // build's chunks get new names. app.js and share.js keep their names, so they are revalidated (ETag).
  app.use('/assets/chunks', express.static(path.join(WEB_DIR, 'assets/chunks'), { index: false, immutable: true, maxAge: '365d' }));
  app.use('/assets', express.static(path.join(WEB_DIR, 'assets'), { index: false }));
  app.get(PAGE_ROUTES, (_req, res) => res.sendFile(path.join(WEB_DIR, 'index.html')));
  // The share page (#20) is its own small page and bundle: a phone on a slow network loads no viewer code,
  // and the page never sees the app's session (it runs on the link's token alone).
  app.get('/share', (_req, res) => {
    res.setHeader('Referrer-Policy', 'no-referrer');
    res.setHeader('X-Robots-Tag', 'noindex, nofollow');
    res.sendFile(path.join(WEB_DIR, 'share.html'));
  });
}
