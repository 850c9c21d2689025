import { createRequire } from 'node:module';
import type * as MinioModule from 'minio';

let loaded: typeof MinioModule | undefined;

/**
 * The minio client library, loaded on first use (#14): only S3 targets and the S3 derived store need it,
 * and loading it puts ~4.9 MB of code and objects into the heap of every process that imports this
 * package, which each full collection of the ingest role (all-filesystem copies) then marks for nothing.
 * A plain require, not `import()`: the S3 classes build their client in their constructors.
 */
export function minio(): typeof MinioModule {
  loaded ??= createRequire(__filename)('minio') as typeof MinioModule;
  return loaded;
}
