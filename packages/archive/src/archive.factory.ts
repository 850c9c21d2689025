import type { Registry } from 'prom-client';
import { storageTargetSettings, type Config } from '@yunying/config';
import type { Logger } from '@yunying/core';
import type { Pool } from '@yunying/catalog';
import { ReplicatedStore, createTargetsFromConfig } from '@yunying/storage';
import { IngestPipeline, type IngestPipelineOptions } from './ingest.pipeline';

/** The replica targets and write quorum of the configuration, initialised (roots created, buckets locked). */
export async function createReplicatedStore(config: Config, logger: Logger): Promise<ReplicatedStore> {
  const store = new ReplicatedStore({ targets: createTargetsFromConfig(storageTargetSettings(config), logger), writeQuorum: config.writeQuorum, logger });
  await store.init();
  return store;
}

/** The one write path into the archive, configured from the process configuration. */
export function createIngestPipeline(
  config: Config,
  deps: { pool: Pool; store: ReplicatedStore; logger: Logger; metrics: Registry; afterCommit?: IngestPipelineOptions['afterCommit'] },
): IngestPipeline {
  return new IngestPipeline({
    ...deps,
    parseLimits: { maxBytes: config.stow.maxInstanceBytes },
    retentionMinYears: config.retentionMinYears,
  });
}
