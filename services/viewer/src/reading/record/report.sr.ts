/**
 * A signed report version as a DICOM Enhanced SR (SOP Class 1.2.840.10008.5.1.4.1.1.88.22) following
 * TID 2000 "Basic Diagnostic Imaging Report" (PS3.16), so the report is kept and exchanged as the images are.
 *
 * Root CONTAINER (18748-4, LN, "Diagnostic Imaging Report") with:
 *  - observation context (TID 1001/1002): observer type person, the reader's name;
 *  - Findings section (121070, DCM): the free text as (121071, DCM, "Finding"), and per nodule a
 *    CONTAINER (237495005, SCT, "Thyroid nodule") with finding site thyroid (363698007 / 69748006, SCT),
 *    long and short axis in mm (103339001 / 103340004, SCT), each ACR TI-RADS lexicon item as a CODE, the
 *    points as NUM, the TR level as a CODE and the ACR recommendation as (121075, DCM, "Recommendation").
 *    No standard code set covers the ACR TI-RADS lexicon, points or levels, so those are under the private
 *    scheme 99YUNYING (docs/conformance-dicom.md lists them). Nested nodule containers are an extension
 *    of the (extensible) TID 2000;
 *  - Impression section (121072, DCM): the impression as (121073, DCM, "Impression").
 * Image references (the TID 320 "Image or Spatial Coordinates" pattern): a nodule the AI found on an image
 * names that image (and frame) as (121080, DCM, "Best illustration of finding"); a long axis the reader
 * measured with the caliper is INFERRED FROM a SCOORD POLYLINE (the caliper's two ends, image pixels)
 * SELECTED FROM the image and frame, and an AI-measured size is INFERRED FROM the AI's image, both as
 * (121112, DCM, "Source of Measurement"). Only instances the study holds are referenced, and every one is
 * listed in the Current Requested Procedure Evidence Sequence.
 * The reader is the Verifying Observer; an addendum names the previous version's SR as its predecessor.
 *
 * Deterministic: UIDs derive from the report row's id and every value (dates included) from the signed
 * row, so rebuilding it for a retried sign gives the same bytes and the write path answers `already_stored`.
 */
import { createHash } from 'node:crypto';
import { studyHeaderAttributes, type StudyHeader } from '@yunying/catalog';
import { derivedUid, dicomDate, dicomTime, part10Bytes } from '@yunying/dicom';
import { PRIVATE_SCHEME, TIRADS_LEVEL_CONCEPT, codedConcept, TIRADS_POINTS_CONCEPT, tiradsItemConcept, tiradsLevelCode, tiradsValueCode } from '@yunying/nodule-model';
import type { MeasuredLine, StoredNodule } from '../tirads.findings';

export const ENHANCED_SR = '1.2.840.10008.5.1.4.1.1.88.22';
/** After the triage SR's 9901, so viewers list the reports last. */
export const REPORT_SERIES_NUMBER = 9902;
export { PRIVATE_SCHEME };


/** One series per study for every report version; one instance per version (its report row). */
export function reportSrUids(studyInstanceUid: string, reportId: string): { series: string; instance: string } {
  return { series: derivedUid(`yunying-report-sr-series/${studyInstanceUid}`), instance: derivedUid(`yunying-report-sr/${reportId}`) };
}

/** The study the report is about, as the catalog holds it. */
export type SrStudy = StudyHeader;

export interface SrVersion {
  reportId: string;
  version: number;
  kind: 'report' | 'addendum';
  findings: string;
  impression: string;
  nodules: readonly StoredNodule[];
  signedAt: Date;
  /** The reader as DICOM PN (display name, or the username when there is none). */
  readerName: string;
  institutionName: string;
  /** The SR of the version this addendum follows. */
  predecessor: { sopInstanceUid: string } | null;
  /** The study's instances the nodules name (AI image, measured image), as the catalog holds them; others are not referenced. */
  images: ReadonlyMap<string, ReferencedImage>;
}

export interface ReferencedImage {
  seriesInstanceUid: string;
  sopClassUid: string;
  numberOfFrames: number;
}

/** The instances a version's nodules point at (to be resolved against the catalog before building). */
export function referencedSopInstances(nodules: readonly StoredNodule[]): string[] {
  return [...new Set(nodules.flatMap((n) => [n.aiNodule?.sopInstanceUid, n.size?.longAxisLine?.sopInstanceUid].filter((u): u is string => u !== undefined)))];
}

type Item = Record<string, unknown>;

// Code Value is SH (16 characters): longer values (our private C-TIRADS codes) go in Long Code Value.
const code = (value: string, meaning: string, scheme: string): Item => ({ ...codedConcept(value, meaning, scheme) });
const own = (value: string, meaning: string): Item => code(value, meaning, PRIVATE_SCHEME);

const MM = code('mm', 'millimeter', 'UCUM');
const POINTS = code('{points}', 'points', 'UCUM');

function text(relationship: string, concept: Item, value: string): Item {
  return { RelationshipType: relationship, ValueType: 'TEXT', ConceptNameCodeSequence: [concept], TextValue: value };
}

function coded(concept: Item, value: Item, relationship = 'CONTAINS'): Item {
  return { RelationshipType: relationship, ValueType: 'CODE', ConceptNameCodeSequence: [concept], ConceptCodeSequence: [value] };
}

function num(concept: Item, value: number, units: Item): Item {
  // DS is at most 16 characters (PS3.5 6.2); sizes are given to 0.1 mm.
  return { RelationshipType: 'CONTAINS', ValueType: 'NUM', ConceptNameCodeSequence: [concept], MeasuredValueSequence: [{ NumericValue: String(Math.round(value * 10) / 10), MeasurementUnitsCodeSequence: [units] }] };
}

const SOURCE_OF_MEASUREMENT = code('121112', 'Source of Measurement', 'DCM');
const BEST_ILLUSTRATION = code('121080', 'Best illustration of finding', 'DCM');

/** A Referenced SOP Sequence item; the frame only for a multi-frame image (PS3.3 C.18.3.1). */
function sopReference(sop: string, frameNumber: number, image: ReferencedImage): Item {
  return { ReferencedSOPClassUID: image.sopClassUid, ReferencedSOPInstanceUID: sop, ...(image.numberOfFrames > 1 ? { ReferencedFrameNumber: String(frameNumber) } : {}) };
}

function imageItem(relationship: string, concept: Item, sop: string, frameNumber: number, image: ReferencedImage): Item {
  return { RelationshipType: relationship, ValueType: 'IMAGE', ConceptNameCodeSequence: [concept], ReferencedSOPSequence: [sopReference(sop, frameNumber, image)] };
}

/** The caliper line a length was measured with: SCOORD POLYLINE (column, row pairs) selected from its image. */
function caliperItem(line: MeasuredLine, image: ReferencedImage): Item {
  return {
    RelationshipType: 'INFERRED FROM',
    ValueType: 'SCOORD',
    ConceptNameCodeSequence: [SOURCE_OF_MEASUREMENT],
    GraphicType: 'POLYLINE',
    GraphicData: line.points.map((p) => Math.round(p * 100) / 100),
    ContentSequence: [{ RelationshipType: 'SELECTED FROM', ValueType: 'IMAGE', ReferencedSOPSequence: [sopReference(line.sopInstanceUid, line.frameNumber, image)] }],
  };
}

function container(relationship: string, concept: Item, children: Item[]): Item {
  return { RelationshipType: relationship, ValueType: 'CONTAINER', ConceptNameCodeSequence: [concept], ContinuityOfContent: 'SEPARATE', ContentSequence: children };
}

/**
 * A C-TIRADS 2020 version (#20): comet-tail artefacts (SCT yes/no), the feature count, the category and its
 * FNA recommendation, after the ACR items they are read from. Private concepts, like the ACR ones.
 */
function cTiradsItems(n: StoredNodule): Item[] {
  const c = n.cTirads;
  if (!c) return [];
  const items: Item[] = [];
  if (n.cometTail) items.push(coded(own('CTIRADS_COMET_TAIL', 'C-TIRADS comet-tail artifacts'), n.cometTail.present ? code('373066001', 'Yes', 'SCT') : code('373067005', 'No', 'SCT')));
  if (n.provenMalignant) items.push(coded(own('CTIRADS_PROVEN_MALIGNANT', 'C-TIRADS proven malignant'), code('373066001', 'Yes', 'SCT')));
  if (c.count !== null) items.push(num(own('CTIRADS_COUNT', 'C-TIRADS feature count'), c.count, POINTS));
  if (c.category !== null) items.push(coded(own('CTIRADS_CATEGORY', 'C-TIRADS 2020 category'), own(c.category, `C-TIRADS 2020 ${c.category.slice(2)}`)));
  if (c.recommendation !== null) items.push(text('CONTAINS', code('121075', 'Recommendation', 'DCM'), `C-TIRADS ${c.recommendation.action}: ${c.recommendation.rule}`));
  return items;
}

/** Where the long axis came from: the reader's caliper on an image, else the AI's image for an AI size. */
function longAxisSource(n: StoredNodule, images: ReadonlyMap<string, ReferencedImage>): Item[] {
  const line = n.size?.longAxisLine ?? null;
  const measured = line ? images.get(line.sopInstanceUid) : undefined;
  if (line && measured) return [caliperItem(line, measured)];
  const ai = n.aiNodule;
  const aiImage = ai ? images.get(ai.sopInstanceUid) : undefined;
  if (n.size?.source === 'ai' && ai && aiImage) return [imageItem('INFERRED FROM', SOURCE_OF_MEASUREMENT, ai.sopInstanceUid, ai.frameNumber, aiImage)];
  return [];
}

function noduleContainer(n: StoredNodule, index: number, images: ReadonlyMap<string, ReferencedImage>): Item {
  const children: Item[] = [
    coded(code('363698007', 'Finding Site', 'SCT'), code('69748006', 'Thyroid structure', 'SCT'), 'HAS CONCEPT MOD'),
  ];
  if (n.location.trim() !== '') children.push(text('CONTAINS', own('NODULE_LOCATION', 'Nodule location'), n.location));
  const aiImage = n.aiNodule ? images.get(n.aiNodule.sopInstanceUid) : undefined;
  if (n.aiNodule && aiImage) children.push(imageItem('CONTAINS', BEST_ILLUSTRATION, n.aiNodule.sopInstanceUid, n.aiNodule.frameNumber, aiImage));
  if (n.size) {
    const source = longAxisSource(n, images);
    children.push({ ...num(code('103339001', 'Long Axis', 'SCT'), n.size.longMm, MM), ...(source.length > 0 ? { ContentSequence: source } : {}) });
    if (n.size.shortMm !== null) children.push(num(code('103340004', 'Short Axis', 'SCT'), n.size.shortMm, MM));
  }
  for (const item of ['composition', 'echogenicity', 'shape', 'margin'] as const) {
    const value = n[item].code;
    if (value !== null) children.push(coded(tiradsItemConcept(item), tiradsValueCode(item, value)));
  }
  for (const value of n.echogenicFoci.codes) children.push(coded(tiradsItemConcept('echogenicFoci'), tiradsValueCode('echogenicFoci', value)));
  if (n.score.totalPoints !== null) children.push(num(TIRADS_POINTS_CONCEPT, n.score.totalPoints, POINTS));
  if (n.score.trLevel !== null) children.push(coded(TIRADS_LEVEL_CONCEPT, tiradsLevelCode(n.score.trLevel)));
  if (n.score.recommendation !== null) children.push(text('CONTAINS', code('121075', 'Recommendation', 'DCM'), `${n.score.recommendation.action}: ${n.score.recommendation.rule}`));
  if (n.cTirads) children.push(...cTiradsItems(n));
  // The finding site modifies the nodule concept: first, before what the nodule contains.
  const [site, ...rest] = children;
  return container('CONTAINS', code('237495005', 'Thyroid nodule', 'SCT'), [...(site ? [site] : []), text('CONTAINS', own('NODULE_NUMBER', 'Nodule number'), String(index + 1)), ...rest]);
}



export interface BuiltSr {
  bytes: Uint8Array;
  sopInstanceUid: string;
  seriesInstanceUid: string;
  sha256: string;
}

/** Current Requested Procedure Evidence (PS3.3 C.17.2): every instance the content references, by series. */
function evidenceOf(studyUid: string, v: SrVersion): Item {
  const referenced = referencedSopInstances(v.nodules).flatMap((sop) => {
    const image = v.images.get(sop);
    return image ? [{ sop, image }] : [];
  });
  if (referenced.length === 0) return {};
  const bySeries = new Map<string, Item[]>();
  for (const { sop, image } of referenced) bySeries.set(image.seriesInstanceUid, [...(bySeries.get(image.seriesInstanceUid) ?? []), { ReferencedSOPClassUID: image.sopClassUid, ReferencedSOPInstanceUID: sop }]);
  return {
    CurrentRequestedProcedureEvidenceSequence: [
      { StudyInstanceUID: studyUid, ReferencedSeriesSequence: [...bySeries].map(([series, sops]) => ({ SeriesInstanceUID: series, ReferencedSOPSequence: sops })) },
    ],
  };
}

export function buildReportSr(study: SrStudy, v: SrVersion): BuiltSr {
  const uids = reportSrUids(study.studyInstanceUid, v.reportId);
  const at = v.signedAt;
  const findings: Item[] = [];
  if (v.findings.trim() !== '') findings.push(text('CONTAINS', code('121071', 'Finding', 'DCM'), v.findings));
  findings.push(...v.nodules.map((n, i) => noduleContainer(n, i, v.images)));
  const content: Item[] = [
    coded(code('121005', 'Observer Type', 'DCM'), code('121006', 'Person', 'DCM'), 'HAS OBS CONTEXT'),
    { RelationshipType: 'HAS OBS CONTEXT', ValueType: 'PNAME', ConceptNameCodeSequence: [code('121008', 'Person Observer Name', 'DCM')], PersonName: v.readerName },
  ];
  if (findings.length > 0) content.push(container('CONTAINS', code('121070', 'Findings', 'DCM'), findings));
  if (v.impression.trim() !== '') content.push(container('CONTAINS', code('121072', 'Impressions', 'DCM'), [text('CONTAINS', code('121073', 'Impression', 'DCM'), v.impression)]));
  const dataset: Item = {
    SpecificCharacterSet: 'ISO_IR 192',
    InstanceCreationDate: dicomDate(at),
    InstanceCreationTime: dicomTime(at),
    SOPClassUID: ENHANCED_SR,
    SOPInstanceUID: uids.instance,
    ...studyHeaderAttributes(study),
    ContentDate: dicomDate(at),
    ContentTime: dicomTime(at),
    Modality: 'SR',
    Manufacturer: 'Yunying',
    InstitutionName: v.institutionName.slice(0, 64),
    SeriesDescription: 'Signed reports',
    SeriesInstanceUID: uids.series,
    SeriesNumber: REPORT_SERIES_NUMBER,
    InstanceNumber: v.version,
    ReferencedPerformedProcedureStepSequence: [],
    PerformedProcedureCodeSequence: [],
    ValueType: 'CONTAINER',
    ConceptNameCodeSequence: [code('18748-4', 'Diagnostic Imaging Report', 'LN')],
    ContentTemplateSequence: [{ MappingResource: 'DCMR', TemplateIdentifier: '2000' }],
    ContinuityOfContent: 'SEPARATE',
    CompletionFlag: 'COMPLETE',
    VerificationFlag: 'VERIFIED',
    VerifyingObserverSequence: [
      { VerifyingObserverName: v.readerName, VerifyingObserverIdentificationCodeSequence: [], VerifyingOrganization: v.institutionName.slice(0, 64), VerificationDateTime: `${dicomDate(at)}${dicomTime(at)}` },
    ],
    ...(v.predecessor
      ? {
          PredecessorDocumentsSequence: [
            {
              StudyInstanceUID: study.studyInstanceUid,
              ReferencedSeriesSequence: [{ SeriesInstanceUID: uids.series, ReferencedSOPSequence: [{ ReferencedSOPClassUID: ENHANCED_SR, ReferencedSOPInstanceUID: v.predecessor.sopInstanceUid }] }],
            },
          ],
        }
      : {}),
    ...evidenceOf(study.studyInstanceUid, v),
    ContentSequence: content,
  };
  const bytes = part10Bytes(dataset);
  return { bytes, sopInstanceUid: uids.instance, seriesInstanceUid: uids.series, sha256: createHash('sha256').update(bytes).digest('hex') };
}
