import type { Authenticator, SecureRouter } from '@yunying/auth';
import type { IngestPipeline } from '@yunying/archive';
import type { CatalogReader, Pool } from '@yunying/catalog';
import type { Logger } from '@yunying/core';
import type { AuditSink } from '@yunying/audit';
import { ReportRecords } from './record/report.record';
import { algorithmFromConfig, loadSigningSecret, ReaderKeys } from './record/signing-keys';
import { bannerRoutes } from './banner.route';
import { BannerService } from './banner.service';
import { queueRoutes } from './queue.route';
import { QueueService } from './queue.service';
import { reportRoutes } from './report.route';
import { ReportService } from './report.service';
import { readingTimeRoutes } from './reading-time.route';
import { tiradsSystemRoutes } from './tirads-system.route';

export interface ReadingDeps {
  pool: Pool;
  /** Read-only lookups where staleness is harmless (the queue list): a streaming replica, or the pool. */
  reads?: CatalogReader;
  authenticator: Authenticator;
  /** The process's audit log: reads that change nothing record through it (group-committed, AuditLog). */
  audit: AuditSink;
  /** The one write path for report SRs, its retention minimum raised to the medical-record retention. */
  reportPipeline: IngestPipeline;
  reports: { signingAlgorithm: 'ecdsa-p256' | 'sm2'; signingSecretFile: string; generateMissingSecret: boolean };
  logger: Logger;
  /** Claim lifetime; 30 minutes unless configured. */
  claimTtlSeconds?: number;
}

export const DEFAULT_CLAIM_TTL_SECONDS = 30 * 60;

/** The reading API of issue #6: the queue with claims, reports, and the clinic's study list. */
export function readingRouters(deps: ReadingDeps): SecureRouter[] {
  const queue = new QueueService(deps.pool, deps.audit, deps.claimTtlSeconds ?? DEFAULT_CLAIM_TTL_SECONDS, deps.reads ?? deps.pool);
  const keys = new ReaderKeys(loadSigningSecret(deps.reports.signingSecretFile, deps.reports.generateMissingSecret), algorithmFromConfig(deps.reports.signingAlgorithm));
  const records = new ReportRecords({ pool: deps.pool, pipeline: deps.reportPipeline, keys, logger: deps.logger });
  const reports = new ReportService(deps.pool, records, deps.audit);
  return [
    queueRoutes(queue, deps.authenticator),
    reportRoutes(reports, deps.authenticator),
    bannerRoutes(new BannerService(deps.pool, deps.audit), deps.authenticator),
    readingTimeRoutes(deps.pool, deps.authenticator),
    tiradsSystemRoutes(deps.pool, deps.authenticator),
  ];
}
