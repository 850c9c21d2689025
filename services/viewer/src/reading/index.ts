import type { Authenticator, SecureRouter } from '@yunying/auth';
import type { Pool } from '@yunying/catalog';
import { bannerRoutes } from './banner.route';
import { BannerService } from './banner.service';
import { queueRoutes } from './queue.route';
import { QueueService } from './queue.service';
import { reportRoutes } from './report.route';
import { ReportService } from './report.service';
import { readingTimeRoutes } from './reading-time.route';

export interface ReadingDeps {
  pool: Pool;
  authenticator: Authenticator;
  /** Claim lifetime; 30 minutes unless configured. */
  claimTtlSeconds?: number;
}

export const DEFAULT_CLAIM_TTL_SECONDS = 30 * 60;

/** The reading API of issue #6: the queue with claims, reports, and the clinic's study list. */
export function readingRouters(deps: ReadingDeps): SecureRouter[] {
  const queue = new QueueService(deps.pool, deps.claimTtlSeconds ?? DEFAULT_CLAIM_TTL_SECONDS);
  const reports = new ReportService(deps.pool);
  return [
    queueRoutes(queue, deps.authenticator), reportRoutes(reports, deps.authenticator), bannerRoutes(new BannerService(deps.pool), deps.authenticator),
    readingTimeRoutes(deps.pool, deps.authenticator),
  ];
}
