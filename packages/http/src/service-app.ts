import express, { type Express, type Router } from 'express';
import { pinoHttp } from 'pino-http';
import type { Registry } from 'prom-client';
import { AppError, type Logger } from '@yunying/core';
import { errorHandler, notFoundHandler, sendProblem } from './problem';
import { requestContext } from './request-context';
import { corsMiddleware } from './cors';
import { httpMetrics } from './metrics';
import { runReadinessChecks, type ReadinessCheck } from './readiness';

export interface ServiceAppOptions {
  service: string;
  logger: Logger;
  metrics: Registry;
  readiness: ReadinessCheck[];
  /** Mounted after the health endpoints and before the 404 / error handlers. */
  routes: Router[];
  /** Called before the routes, e.g. cookie parsing or static files. */
  before?: (app: Express) => void;
  /** Browser origins allowed to call every route cross-origin (CORS_ORIGINS); none when absent or empty. */
  corsOrigins?: readonly string[];
}

/**
 * Every Yunying HTTP service is built here, so they all share: request ids, access logs with the
 * request id, /healthz, /readyz, /metrics, problem+json errors and a 404 for unknown routes.
 */
export function createServiceApp(options: ServiceAppOptions): Express {
  const app = express();
  app.disable('x-powered-by');
  app.set('trust proxy', 'loopback');
  app.use(requestContext);
  if (options.corsOrigins !== undefined && options.corsOrigins.length > 0) app.use(corsMiddleware({ origins: options.corsOrigins }));
  app.use(
    pinoHttp({
      logger: options.logger,
      genReqId: (req) => (req as express.Request).requestId,
      // Query strings can carry PatientName/PatientID (QIDO): log the path only.
      serializers: {
        req: (req: { method: string; url: string; id: string }) => ({ method: req.method, path: req.url.split('?')[0], id: req.id }),
        res: (res: { statusCode: number }) => ({ statusCode: res.statusCode }),
      },
      autoLogging: { ignore: (req) => req.url === '/healthz' || req.url === '/metrics' || req.url === '/readyz' },
    }),
  );
  app.use(httpMetrics(options.metrics, options.service));

  app.get('/healthz', (_req, res) => {
    res.json({ status: 'ok', service: options.service });
  });
  app.get('/readyz', (_req, res, next) => {
    runReadinessChecks(options.readiness)
      .then((report) => {
        if (report.ready) {
          res.json({ status: 'ready', service: options.service, checks: report.checks });
          return;
        }
        const failing = report.checks.filter((c) => !c.ok).map((c) => c.name);
        sendProblem(
          res,
          new AppError('unavailable', `Not ready: ${failing.join(', ')} unavailable`, {
            retryAfterSeconds: 5,
            details: { failing, checks: report.checks },
          }),
        );
      })
      .catch(next);
  });
  app.get('/metrics', (_req, res, next) => {
    options.metrics
      .metrics()
      .then((text) => res.type(options.metrics.contentType).send(text))
      .catch(next);
  });

  options.before?.(app);
  for (const router of options.routes) app.use(router);
  app.use(notFoundHandler);
  app.use(errorHandler(options.logger));
  return app;
}
