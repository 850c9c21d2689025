export * from './ingest.pipeline';
export * from './archive.factory';
