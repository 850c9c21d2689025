import type { Registry } from 'prom-client';
import type { Config } from '@yunying/config';
import type { Logger } from '@yunying/core';
import type { CatalogReader, Pool } from '@yunying/catalog';
import type { Lifecycle } from './lifecycle';
import type { SharedRoutes } from './shared-routes';

/**
 * What a process shares with the service roles it runs (one for scale-out, all three for the embedded
 * default). Services receive it, never each other.
 */
export interface ServiceContext {
  config: Config;
  logger: Logger;
  metrics: Registry;
  pool: Pool;
  /**
   * For read-only queries where a few seconds of staleness is harmless (QIDO/WADO lookups): a streaming
   * replica with the primary as fallback when CATALOG_READ_URL is set, else `pool` itself.
   */
  reads: CatalogReader;
  lifecycle: Lifecycle;
  /** Present when several roles share this process: routes one role lends another's server. */
  sharedRoutes?: SharedRoutes;
}

/** A started service role, as the launcher reports it. */
export interface StartedService {
  role: string;
  url: string;
  extra?: Record<string, string>;
}
