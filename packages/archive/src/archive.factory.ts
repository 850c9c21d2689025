import type { Registry } from 'prom-client';
import { storageTargetSettings, type Config } from '@yunying/config';
import { describeError, isAppError, type Logger } from '@yunying/core';
import { copyVersionLookup, type Pool } from '@yunying/catalog';
import { ReplicatedStore, createDerivedStore, createObjectEnvelope, createTargetsFromConfig, type DerivedStore, type ObjectEnvelope } from '@yunying/storage';
import { IngestPipeline, type IngestPipelineOptions } from './ingest.pipeline';

/**
 * The replica targets and write quorum of the configuration. With `prepare` (the default: ingest and
 * keeper) they are initialised: roots created, buckets created and locked. Roles that must run with
 * read-only or write-only object credentials (viewer, inference) pass `prepare: false` and never create a
 * bucket or change its lock configuration: they only check that each bucket exists and stop with a clear
 * error when one is missing (an unreachable target is only logged: it may come back). With `pool`, reads
 * ask each S3 copy for the version the catalog recorded (#17).
 */
export async function createReplicatedStore(
  config: Config,
  logger: Logger,
  options: { prepare?: boolean; pool?: Pool } = {},
): Promise<ReplicatedStore> {
  const store = new ReplicatedStore({
    targets: createTargetsFromConfig(storageTargetSettings(config), logger, objectEnvelopeOf(config)),
    writeQuorum: config.writeQuorum,
    logger,
    ...(options.pool === undefined ? {} : { copyVersions: copyVersionLookup(options.pool) }),
  });
  if (options.prepare ?? true) {
    await store.init();
  } else {
    for (const target of store.targets) {
      try {
        await target.assertExists();
      } catch (error) {
        if (isAppError(error) && error.code === 'config_invalid') throw error;
        logger.warn({ replica: target.name, err: describeError(error) }, 'storage: replica target not reachable at start');
      }
    }
  }
  return store;
}

/** The derived-objects store (thumbnails): one copy, rebuildable. Writers prepare it; readers do not. */
export async function createDerivedObjectStore(config: Config, options: { prepare: boolean }): Promise<DerivedStore> {
  const derived = createDerivedStore(config.derived, objectEnvelopeOf(config));
  if (options.prepare) await derived.prepare();
  return derived;
}

const envelopes = new WeakMap<Config, ObjectEnvelope>();

/**
 * The envelope (encryption at rest, #17) of the configuration: one per process, shared by the replica
 * targets and the derived store, so the key file is read (or, in development, generated) once.
 */
export function objectEnvelopeOf(config: Config): ObjectEnvelope {
  let envelope = envelopes.get(config);
  if (envelope === undefined) {
    envelope = createObjectEnvelope(config.storageEncryption);
    envelopes.set(config, envelope);
  }
  return envelope;
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
    groupCommit: { maxInstances: config.ingest.groupCommitMaxInstances },
  });
}
