export { startIngestService } from './ingest.service';
