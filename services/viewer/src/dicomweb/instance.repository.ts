// The query lives in @yunying/archive: C-GET / C-MOVE (services/ingest) read instances through it too.
export { findInstances, type InstanceRow, type WadoScope } from '@yunying/archive';
