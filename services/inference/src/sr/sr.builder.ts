/**
 * The triage result as a DICOM Comprehensive SR (PS3.3 A.35.3; SOP Class 1.2.840.10008.5.1.4.1.1.88.33),
 * so any DICOM viewer shows it next to the images.
 *
 * Implemented: Patient, General Study, SR Document Series, General Equipment, SR Document General and
 * SR Document Content modules, SOP Common. The content tree is a flat CONTAINER of TEXT/NUM items
 * (algorithm name/version as DCM 111001/111003, the rest under the local scheme 99YUNYING) and one
 * CONTAINER per scored image: the score, the referenced image and frame, and the nodule outline as a
 * SCOORD POLYLINE "SELECTED FROM" that image. It follows no DICOM template (TID 1500 would need coded
 * findings the model does not produce).
 *
 * Idempotent: the UIDs derive from (study, model, version, instances seen) and every value, dates
 * included, comes from the stored result, so a re-run writes the same bytes and ingest answers
 * `already_stored`.
 */
import { derivedUid, dicomDate, dicomTime, part10Bytes } from '@yunying/dicom';
import type { NoduleFinding } from '@yunying/nodule-model';
import type { ScoredImage } from '../triage/result';
import type { StoredResult, StudyHeader } from '../triage/triage.repository';

export const COMPREHENSIVE_SR = '1.2.840.10008.5.1.4.1.1.88.33';
/** The SR series number: high, so viewers list it after the acquired series. */
export const SR_SERIES_NUMBER = 9901;
const SCHEME = '99YUNYING';


export function srUids(studyInstanceUid: string, modelId: string, modelVersion: string, instanceCount: number): { series: string; instance: string } {
  return {
    series: derivedUid(`yunying-triage-sr-series/${studyInstanceUid}/${modelId}/${modelVersion}`),
    instance: derivedUid(`yunying-triage-sr/${studyInstanceUid}/${modelId}/${modelVersion}/${instanceCount}`),
  };
}

type Item = Record<string, unknown>;

const code = (value: string, meaning: string, scheme = SCHEME): Item => ({ CodeValue: value, CodingSchemeDesignator: scheme, CodeMeaning: meaning });
const NO_UNITS = code('1', 'no units', 'UCUM');

function text(concept: Item, value: string): Item {
  return { RelationshipType: 'CONTAINS', ValueType: 'TEXT', ConceptNameCodeSequence: [concept], TextValue: value.slice(0, 1024) };
}

function num(concept: Item, value: number): Item {
  return {
    RelationshipType: 'CONTAINS',
    ValueType: 'NUM',
    ConceptNameCodeSequence: [concept],
    // DS is at most 16 characters (PS3.5 6.2).
    MeasuredValueSequence: [{ NumericValue: value.toFixed(4), MeasurementUnitsCodeSequence: [NO_UNITS] }],
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

function imageContainer(image: ScoredImage, index: number): Item {
  const children: Item[] = [
    { ...imageRef(image, 'CONTAINS'), ConceptNameCodeSequence: [code('121200', 'Illustration of ROI', 'DCM')] },
    num(code('IMAGE_SCORE', 'Image triage score'), image.score),
    text(code('CATEGORY', 'Triage category'), image.category),
    ...image.nodules.map(noduleContainer),
  ];
  if (image.outline.length >= 4) {
    children.push({
      RelationshipType: 'CONTAINS',
      ValueType: 'SCOORD',
      ConceptNameCodeSequence: [code('111030', 'Image Region', 'DCM')],
      GraphicType: 'POLYLINE',
      GraphicData: image.outline.flat(),
      ContentSequence: [imageRef(image, 'SELECTED FROM')],
    });
  }
  return {
    RelationshipType: 'CONTAINS',
    ValueType: 'CONTAINER',
    ContinuityOfContent: 'SEPARATE',
    ConceptNameCodeSequence: [code('IMAGE_FINDING', `Image finding ${index + 1}`)],
    ContentSequence: children,
  };
}

/** One nodule: its score, the ACR TI-RADS lexicon as the model read it, the points and the TR level. */
function noduleContainer(nodule: NoduleFinding): Item {
  return {
    RelationshipType: 'CONTAINS',
    ValueType: 'CONTAINER',
    ContinuityOfContent: 'SEPARATE',
    ConceptNameCodeSequence: [code('NODULE', `Nodule ${nodule.index}`)],
    ContentSequence: [
      num(code('NODULE_SCORE', 'Nodule triage score'), nodule.score),
      num(code('LOCATOR_CONFIDENCE', 'Nodule locator confidence'), nodule.confidence),
      ...nodule.lexicon.map((l) => text(code(`ACR_${l.item.toUpperCase()}`, `ACR TI-RADS ${l.item}`), `${l.label} (${l.points} point${l.points === 1 ? '' : 's'}, AI-suggested)`)),
      num(code('ACR_POINTS', 'ACR TI-RADS points'), nodule.tiradsPoints),
      text(code('ACR_LEVEL', 'ACR TI-RADS level (AI-suggested)'), nodule.trLevel),
    ],
  };
}



export interface SrInput {
  result: StoredResult;
  header: StudyHeader;
  scored: ScoredImage[];
}

export function buildTriageSr({ result, header, scored }: SrInput): { bytes: Uint8Array; sopInstanceUid: string; seriesInstanceUid: string } {
  const uids = srUids(header.studyInstanceUid, result.modelId, result.modelVersion, result.instanceCount);
  const created = result.createdAt;
  const evidence = new Map<string, ScoredImage[]>();
  for (const image of scored) evidence.set(image.seriesInstanceUid, [...(evidence.get(image.seriesInstanceUid) ?? []), image]);
  const content: Item[] = [
    text(code('111001', 'Algorithm Name', 'DCM'), result.modelId),
    text(code('111003', 'Algorithm Version', 'DCM'), result.modelVersion),
    text(code('MODEL_SHA256', 'Model SHA-256'), result.modelSha256),
    num(code('STUDY_SCORE', 'Study triage score (most suspicious image)'), result.score ?? 0),
    text(code('CATEGORY', 'Triage category'), result.category ?? ''),
    text(code('PRIORITY', 'Reading priority'), result.priority ?? 'routine'),
    ...thresholdItems(result.thresholds),
    text(code('NOTE', 'Note'), 'AI triage score for reading order: P(radiologist TI-RADS >= 4) of the most suspicious confident nodule. Lexicon categories are AI suggestions for the reader to confirm. Not a diagnosis.'),
    ...scored.map(imageContainer),
  ];
  const dataset: Item = {
    SpecificCharacterSet: 'ISO_IR 192',
    InstanceCreationDate: dicomDate(created),
    InstanceCreationTime: dicomTime(created),
    SOPClassUID: COMPREHENSIVE_SR,
    SOPInstanceUID: uids.instance,
    StudyDate: header.studyDate ?? '',
    StudyTime: header.studyTime ?? '',
    ContentDate: dicomDate(created),
    ContentTime: dicomTime(created),
    AccessionNumber: header.accessionNumber ?? '',
    Modality: 'SR',
    Manufacturer: 'Yunying',
    ReferringPhysicianName: header.referringPhysicianName ?? '',
    SeriesDescription: `AI triage ${result.modelId} ${result.modelVersion}`.slice(0, 64),
    ManufacturerModelName: result.modelId.slice(0, 64),
    SoftwareVersions: result.modelVersion.slice(0, 64),
    PatientName: header.patientName ?? '',
    PatientID: header.patientId ?? '',
    PatientBirthDate: header.patientBirthDate ?? '',
    PatientSex: header.patientSex ?? '',
    StudyInstanceUID: header.studyInstanceUid,
    SeriesInstanceUID: uids.series,
    StudyID: header.studyId ?? '',
    SeriesNumber: SR_SERIES_NUMBER,
    InstanceNumber: result.instanceCount,
    ReferencedPerformedProcedureStepSequence: [],
    ValueType: 'CONTAINER',
    ConceptNameCodeSequence: [code('AI_TRIAGE', 'AI triage of thyroid ultrasound')],
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

function thresholdItems(thresholds: object): Item[] {
  const out: Item[] = [];
  for (const name of ['triage', 'urgent'] as const) {
    const t = (thresholds as Record<string, { value?: unknown } | undefined>)[name];
    if (typeof t?.value === 'number') out.push(num(code(`THRESHOLD_${name.toUpperCase()}`, `Threshold applied: ${name}`), t.value));
  }
  return out;
}
