export { rebuildCatalog, NotEmptyError, type RebuildOptions } from './rebuild';
export { rebuildReport, reportIsClean, formatReport, type RebuildReport, type Mismatch } from './report';
export { compareCatalogs, formatDifference, type Difference, type CompareSummary } from './compare';
export type { RebuildOutcome } from './rebuild.repository';
