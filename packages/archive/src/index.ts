export * from './ingest.pipeline';
export * from './ingest.batch';
export * from './archive.factory';
export * from './instance.repository';
export * from './rebuild';
