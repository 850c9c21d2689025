export { startIngestService } from './ingest.service';
export { startKeeperService } from './keeper/keeper.service';
// The C-FIND query builder, for the benchmark's EXPLAIN of the SQL each query kind runs.
export { buildFindQuery } from './dimse/find.repository';
