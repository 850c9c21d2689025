export { readerAiRoutes } from './reader-ai.route';
export { ReaderAiService } from './reader-ai.service';
export type { NoduleRequest } from './reader-ai.service';
export type { ReaderAiRow } from './reader-ai.repository';
