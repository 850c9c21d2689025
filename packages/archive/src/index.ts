export * from './ingest.pipeline';
export * from './ingest.batch';
export * from './group-commit';
export * from './archive.factory';
export * from './instance.repository';
export * from './rebuild';
