export { startIngestService } from './ingest.service';
export { startKeeperService } from './keeper/keeper.service';
