export * from './database';
export * from './read-replica';
export * from './migrate';
export * from './archive.repository';
export * from './archive-batch.repository';
export * from './copy-versions.repository';
export * from './study-header';
export * from './study-header.repository';
export * from './current-images.repository';
export * from './ai-results.repository';
export * from './server.repository';
export * from './patient-index-lock.repository';
export * from './typed/kysely';
export type * from './typed/rows';
/** The generated table types: `Tables.DB`, `Tables.Users`, ... (a namespace, so table names do not crowd the package's own). */
export type * as Tables from './typed/database.types';
