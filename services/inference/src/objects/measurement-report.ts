/**
 * The triage result as a TID 1500 "Measurement Report" (PS3.16) in a Comprehensive SR (SOP Class
 * 1.2.840.10008.5.1.4.1.1.88.33), the form AI platforms and viewers (IHE AIR, OHIF) read:
 *
 *  Root CONTAINER (126000, DCM, "Imaging Measurement Report"), template 1500 / DCMR:
 *  - language (TID 1204), the model as the device observer (TID 1002/1004: observer type device, UID,
 *    name, manufacturer, model name), procedure reported (16310003, SCT, "Diagnostic ultrasonography");
 *  - Image Library (111028, DCM): the scored images (frames);
 *  - Imaging Measurements (126010, DCM): per nodule a Measurement Group (TID 1501): tracking identifier
 *    and UID (the SEG segment's), finding (27925004, SCT, "Nodule") at finding site thyroid, the
 *    algorithm (TID 4019), the area (the outline's pixels) INFERRED FROM the outline (a closed SCOORD
 *    POLYLINE selected from the source frame), long and short axis (the box sides along the image axes,
 *    as the triage measures them), in mm / mm2 when the frame is calibrated, else in pixels, the
 *    suspicion score and locator confidence, and the ACR TI-RADS lexicon from the model's heads, points
 *    and level as codes (private scheme 99YUNYING, shared with the signed report: tirads.codes.ts);
 *  - Qualitative Evaluations (C0034375, UMLS): the study's triage category and reading priority.
 *
 * Deterministic: UIDs derive from the result key, every value (dates included) from the stored result.
 */
import { studyHeaderAttributes, type StoredAiResult, type StudyHeader } from '@yunying/catalog';
import { derivedUid, dicomDate, dicomTime, part10Bytes } from '@yunying/dicom';
import type { NoduleFinding } from '@yunying/nodule-model';
import { TIRADS_LEVEL_CONCEPT, TIRADS_POINTS_CONCEPT, privateCode, tiradsItemConcept, tiradsLevelCode, tiradsValueCode } from '@yunying/nodule-model';
import type { ScoredImage } from '../triage/result';
import { NODULE, THYROID, code, equipmentAttributes, modelDeviceUid, resultSeed, type Item } from './common';
import { maskPixelCount, outlineMask } from './outline-mask';
import type { BuiltObject } from './nodule-seg';
import { UNKNOWN_SOURCE, type SourceFacts } from './source-facts';

export const COMPREHENSIVE_SR = '1.2.840.10008.5.1.4.1.1.88.33';
/** The report's series number: high, so viewers list it after the acquired series. */
export const SR_SERIES_NUMBER = 9901;

/**
 * The Tracking Identifier is free text (PS3.16 TID 1410); this prefix is the convention of cornerstone's
 * SR adapters (used by OHIF) for a closed polyline ROI, so OHIF can load the outline into its measurement
 * panel instead of only drawing it. Other readers see it as part of the identifier.
 */
export const FREEHAND_ROI_TRACKING_PREFIX = 'Cornerstone3DTools@^0.1.0:PlanarFreehandROI';

const MM = code('mm', 'millimeter', 'UCUM');
const MM2 = code('mm2', 'square millimeter', 'UCUM');
const PIXELS = code('{pixels}', 'pixels', 'UCUM');
const NO_UNITS = code('1', 'no units', 'UCUM');
const POINTS = code('{points}', 'points', 'UCUM');

export function reportUids(header: StudyHeader, result: StoredAiResult): { series: string; instance: string } {
  const seed = resultSeed(header, result);
  return { series: derivedUid(`yunying-ai-tid1500-series/${seed}`), instance: derivedUid(`yunying-ai-tid1500/${seed}/${result.instanceCount}`) };
}

function item(relationship: string, valueType: string, concept: Item, value: Item): Item {
  return { RelationshipType: relationship, ValueType: valueType, ConceptNameCodeSequence: [concept], ...value };
}
const text = (relationship: string, concept: Item, value: string): Item => item(relationship, 'TEXT', concept, { TextValue: value.slice(0, 1024) });
const coded = (relationship: string, concept: Item, value: Item): Item => item(relationship, 'CODE', concept, { ConceptCodeSequence: [value] });
const uidref = (relationship: string, concept: Item, uid: string): Item => item(relationship, 'UIDREF', concept, { UID: uid });
function num(concept: Item, value: number, units: Item, digits: number, inferredFrom: Item[] = []): Item {
  // DS is at most 16 characters (PS3.5 6.2).
  const measured = { MeasuredValueSequence: [{ NumericValue: String(Number(value.toFixed(digits))), MeasurementUnitsCodeSequence: [units] }] };
  return item('CONTAINS', 'NUM', concept, inferredFrom.length > 0 ? { ...measured, ContentSequence: inferredFrom } : measured);
}
function container(relationship: string, concept: Item, children: Item[], template?: string): Item {
  return {
    RelationshipType: relationship,
    ValueType: 'CONTAINER',
    ConceptNameCodeSequence: [concept],
    ContinuityOfContent: 'SEPARATE',
    ...(template ? { ContentTemplateSequence: [{ MappingResource: 'DCMR', TemplateIdentifier: template }] } : {}),
    ContentSequence: children,
  };
}

function imageRef(image: ScoredImage, relationship: string): Item {
  return {
    RelationshipType: relationship,
    ValueType: 'IMAGE',
    ReferencedSOPSequence: [
      {
        ReferencedSOPClassUID: image.sopClassUid,
        ReferencedSOPInstanceUID: image.sopInstanceUid,
        ...(image.numberOfFrames > 1 ? { ReferencedFrameNumber: image.frameNumber } : {}),
      },
    ],
  };
}

/** Long/short axis and area of one nodule: mm when the frame is calibrated, pixels otherwise. */
export function noduleMeasurements(nodule: NoduleFinding, image: ScoredImage, source: SourceFacts): { long: number; short: number; area: number; calibrated: boolean } {
  const pixels = maskPixelCount(outlineMask(nodule.outline, image.columns, image.rows));
  const mm = source.pixelMm;
  if (nodule.sizeMm && mm) return { long: nodule.sizeMm.long, short: nodule.sizeMm.short, area: pixels * mm.x * mm.y, calibrated: true };
  const { width, height } = nodule.box;
  return { long: Math.max(width, height), short: Math.min(width, height), area: pixels, calibrated: false };
}

function measurementGroup(result: StoredAiResult, image: ScoredImage, nodule: NoduleFinding, source: SourceFacts, segInstanceUid: string): Item {
  const m = noduleMeasurements(nodule, image, source);
  // The outline (TID 320 spatial coordinates): a closed POLYLINE (first point repeated) on the scored frame.
  const closed = nodule.outline.length > 0 ? [...nodule.outline, nodule.outline[0] ?? [0, 0]] : [];
  const outline: Item[] =
    closed.length >= 4
      ? [
          {
            RelationshipType: 'INFERRED FROM',
            ValueType: 'SCOORD',
            ConceptNameCodeSequence: [code('111030', 'Image Region', 'DCM')],
            GraphicType: 'POLYLINE',
            GraphicData: closed.flat(),
            ContentSequence: [imageRef(image, 'SELECTED FROM')],
          },
        ]
      : [];
  return container(
    'CONTAINS',
    code('125007', 'Measurement Group', 'DCM'),
    [
      text('HAS OBS CONTEXT', code('112039', 'Tracking Identifier', 'DCM'), `${FREEHAND_ROI_TRACKING_PREFIX}:Nodule ${nodule.index}`),
      // The SEG segment of this nodule has the same tracking UID: the outline and the measurements are one finding.
      uidref('HAS OBS CONTEXT', code('112040', 'Tracking Unique Identifier', 'DCM'), derivedUid(`yunying-ai-nodule/${segInstanceUid}/${nodule.index}`)),
      coded('CONTAINS', code('121071', 'Finding', 'DCM'), NODULE),
      coded('HAS CONCEPT MOD', code('363698007', 'Finding Site', 'SCT'), THYROID),
      text('HAS CONCEPT MOD', code('111001', 'Algorithm Name', 'DCM'), result.modelId),
      text('HAS CONCEPT MOD', code('111003', 'Algorithm Version', 'DCM'), result.modelVersion),
      // The area first, inferred from the outline: readers that take a group's first NUM as its ROI
      // measurement (cornerstone's SR adapters in OHIF) find the outline there.
      num(code('42798000', 'Area', 'SCT'), m.area, m.calibrated ? MM2 : PIXELS, 1, outline),
      num(code('103339001', 'Long Axis', 'SCT'), m.long, m.calibrated ? MM : PIXELS, 1),
      num(code('103340004', 'Short Axis', 'SCT'), m.short, m.calibrated ? MM : PIXELS, 1),
      num(privateCode('NODULE_SCORE', 'AI suspicion score P(TI-RADS >= 4)'), nodule.score, NO_UNITS, 4),
      num(privateCode('LOCATOR_CONFIDENCE', 'AI nodule locator confidence'), nodule.confidence, NO_UNITS, 4),
      ...nodule.lexicon.map((l) => coded('CONTAINS', tiradsItemConcept(l.item), tiradsValueCode(l.item, l.code))),
      num(TIRADS_POINTS_CONCEPT, nodule.tiradsPoints, POINTS, 0),
      coded('CONTAINS', TIRADS_LEVEL_CONCEPT, tiradsLevelCode(nodule.trLevel)),
    ],
    '1501',
  );
}

export interface ReportInput {
  result: StoredAiResult;
  header: StudyHeader;
  scored: ScoredImage[];
  sources: ReadonlyMap<string, SourceFacts>;
  /** The SEG instance written for each scored image (by SOP Instance UID): its segments share tracking UIDs. */
  segs: ReadonlyMap<string, string>;
}

export function buildMeasurementReport({ result, header, scored, sources, segs }: ReportInput): BuiltObject {
  const uids = reportUids(header, result);
  const created = result.createdAt;
  const groups = scored.flatMap((image) =>
    image.nodules.map((n) => measurementGroup(result, image, n, sources.get(image.sopInstanceUid) ?? UNKNOWN_SOURCE, segs.get(image.sopInstanceUid) ?? '')),
  );
  const evidence = new Map<string, ScoredImage[]>();
  for (const image of scored) evidence.set(image.seriesInstanceUid, [...(evidence.get(image.seriesInstanceUid) ?? []), image]);
  const content: Item[] = [
    coded('HAS CONCEPT MOD', code('121049', 'Language of Content Item and Descendants', 'DCM'), code('en', 'English', 'RFC5646')),
    coded('HAS OBS CONTEXT', code('121005', 'Observer Type', 'DCM'), code('121007', 'Device', 'DCM')),
    uidref('HAS OBS CONTEXT', code('121012', 'Device Observer UID', 'DCM'), modelDeviceUid(result)),
    text('HAS OBS CONTEXT', code('121013', 'Device Observer Name', 'DCM'), `${result.modelId} ${result.modelVersion}`),
    text('HAS OBS CONTEXT', code('121014', 'Device Observer Manufacturer', 'DCM'), 'Yunying'),
    text('HAS OBS CONTEXT', code('121015', 'Device Observer Model Name', 'DCM'), result.modelId),
    coded('HAS CONCEPT MOD', code('121058', 'Procedure reported', 'DCM'), code('16310003', 'Diagnostic ultrasonography', 'SCT')),
    container('CONTAINS', code('111028', 'Image Library', 'DCM'), [container('CONTAINS', code('126200', 'Image Library Group', 'DCM'), scored.map((i) => imageRef(i, 'CONTAINS')))]),
    container('CONTAINS', code('126010', 'Imaging Measurements', 'DCM'), groups),
    container('CONTAINS', code('C0034375', 'Qualitative Evaluations', 'UMLS'), [
      text('CONTAINS', privateCode('CATEGORY', 'AI triage category'), result.category ?? ''),
      text('CONTAINS', privateCode('PRIORITY', 'Reading priority'), result.priority ?? 'routine'),
      text(
        'CONTAINS',
        privateCode('NOTE', 'Note'),
        'AI triage for reading order: the score is P(radiologist TI-RADS >= 4) of the most suspicious confident nodule. Lexicon categories are AI suggestions for the reader to confirm. Not a diagnosis.',
      ),
    ]),
  ];
  const dataset: Item = {
    SpecificCharacterSet: 'ISO_IR 192',
    InstanceCreationDate: dicomDate(created),
    InstanceCreationTime: dicomTime(created),
    SOPClassUID: COMPREHENSIVE_SR,
    SOPInstanceUID: uids.instance,
    ...studyHeaderAttributes(header),
    ContentDate: dicomDate(created),
    ContentTime: dicomTime(created),
    Modality: 'SR',
    ...equipmentAttributes(result),
    SeriesDescription: `AI measurements ${result.modelId} ${result.modelVersion}`.slice(0, 64),
    SeriesInstanceUID: uids.series,
    SeriesNumber: SR_SERIES_NUMBER,
    InstanceNumber: result.instanceCount,
    ReferencedPerformedProcedureStepSequence: [],
    PerformedProcedureCodeSequence: [],
    ValueType: 'CONTAINER',
    ConceptNameCodeSequence: [code('126000', 'Imaging Measurement Report', 'DCM')],
    ContentTemplateSequence: [{ MappingResource: 'DCMR', TemplateIdentifier: '1500' }],
    ContinuityOfContent: 'SEPARATE',
    CompletionFlag: 'COMPLETE',
    VerificationFlag: 'UNVERIFIED',
    CurrentRequestedProcedureEvidenceSequence: [
      {
        StudyInstanceUID: header.studyInstanceUid,
        ReferencedSeriesSequence: [...evidence].map(([series, images]) => ({
          SeriesInstanceUID: series,
          ReferencedSOPSequence: images.map((i) => ({ ReferencedSOPClassUID: i.sopClassUid, ReferencedSOPInstanceUID: i.sopInstanceUid })),
        })),
      },
    ],
    ContentSequence: content,
  };
  return { bytes: part10Bytes(dataset), sopInstanceUid: uids.instance, seriesInstanceUid: uids.series };
}
