/** @yunying/gateway: the clinic-side program (`yunying`). The CLI is the interface; these are for tests and embedding. */
export { ExitCode } from './exit-codes';
export { runUpload, makeBatches, type UploadOptions } from './upload/upload.service';
export type { Summary, UploadEvent, Reporter, RejectedFile } from './upload/upload.events';
export { startGateway, type RunningGateway } from './gateway/gateway';
export { readSpoolStatus, type SpoolStatus } from './gateway/spool';
