export { startInferenceService } from './inference.service';
export { analyseInstance } from './triage/analyse';
export type { ImageAnalysis } from './triage/analyse';
export { AnalysisPool } from './threads/analysis.pool';
