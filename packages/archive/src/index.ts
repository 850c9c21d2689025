export * from './ingest.pipeline';
