export { HEAD_NAMES, defaultModelDir, loadTriageManifest, parseTriageManifest, sha256File } from './triage.manifest';
export type { HeadName, TriageManifest, TriageManifestData } from './triage.manifest';
export { TriageModel, triageLevel } from './triage.model';
export type { FrameAnalysis, NoduleCandidate, TriageLevel, TriageModelOptions } from './triage.model';
export { areaResize, boxIou, cellsBox, cellsOutline, components, cropInput, cropWindow, letterboxGeometry, letterboxInput } from './frame.geometry';
export type { Component, Corners, FrameGeometry, GrayImage, Letterbox } from './frame.geometry';
export { decideScope, scopeAttributes } from './scope';
export type { ClinicScopeRule, Scope, ScopeAttributes, ScopeDecision } from './scope';
export { auc, bootstrapMetrics, ece, sensSpec } from './metrics';
export type { Interval, MetricsReport, SensSpec, ThresholdReport } from './metrics';
export { parseCsv } from './labels';
export { readGrayImage, readRgbImage } from './image.repository';
export { evaluateCrops, formatCropReport } from './eval.service';
export type { CropEvaluationReport } from './eval.service';
export { ACR_LEXICON, LEXICON_ITEMS, lexiconCategory, otherItemsAddNoPoints, recommendation, tiradsOf, trLevel, withChartEchogenicity } from './tirads';
export type { LexiconCategory, LexiconItem, LexiconPrediction, NoduleFinding, Recommendation, TrLevel } from './tirads';
export { listModels, loadActiveModel } from './model.registry';
export type { ActiveModel } from './model.registry';
export { pixelSizeMm } from './calibration';
export { DESCRIPTOR_NAMES, describe, ellipseRegion } from './nodule.descriptors';
export type { DescriptorName, Descriptors, Region } from './nodule.descriptors';
export {
  PRIVATE_SCHEME,
  TIRADS_LEVEL_CONCEPT,
  TIRADS_POINTS_CONCEPT,
  codedConcept,
  privateCode,
  tiradsItemConcept,
  tiradsLevelCode,
  tiradsValueCode,
} from './tirads.codes';
export type { CodedConcept } from './tirads.codes';
export { AI_PRIORITIES, AI_RESULT_STATUSES, isAiPriority, isAiResultStatus } from './ai-result.view';
export type { AiFrameView, AiImageIds, AiImageView, AiPriority, AiResultStatus, AiResultView, AiResultsView, AiScoredImageView } from './ai-result.view';
