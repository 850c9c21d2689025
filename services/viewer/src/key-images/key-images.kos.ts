/**
 * The reader's key images as a DICOM Key Object Selection Document (SOP Class 1.2.840.10008.5.1.4.1.1.88.59,
 * PS3.3 A.35.4) following TID 2010 "Key Object Selection" (PS3.16):
 *  - root CONTAINER titled from CID 7010 (113000 "Of Interest", 113002 "For Referring Provider", 113007 "For Patient");
 *  - observation context (TID 1002): observer type person and the reader's name;
 *  - an optional Key Object Description (113012, DCM) TEXT;
 *  - one IMAGE item per key image, with Referenced Frame Number for a frame of a multi-frame image;
 *  - Current Requested Procedure Evidence Sequence listing every referenced instance by study and series.
 * Left out: Referenced Request Sequence (no orders are held), Identical Documents (one copy is written),
 * and the rejection titles of IOCM (this document never rejects anything).
 *
 * Deterministic: UIDs derive from the selection row's id and every date from the row, so a retried save
 * rebuilds the same bytes and the write path answers `already_stored`.
 */
import { createHash } from 'node:crypto';
import { studyHeaderAttributes, type StudyHeader } from '@yunying/catalog';
import { derivedUid, dicomDate, dicomTime, part10Bytes } from '@yunying/dicom';

export const KEY_OBJECT_SELECTION = '1.2.840.10008.5.1.4.1.1.88.59';
/** After the triage SR's 9901 and the reports' 9902. */
export const KOS_SERIES_NUMBER = 9903;

/** The document titles a reader may choose (CID 7010); the API names them by these keys. */
export const KOS_TITLES = {
  'of-interest': { value: '113000', meaning: 'Of Interest' },
  'for-referring-provider': { value: '113002', meaning: 'For Referring Provider' },
  'for-patient': { value: '113007', meaning: 'For Patient' },
} as const;
export type KosTitle = keyof typeof KOS_TITLES;

export function kosTitleOfCode(value: string): KosTitle | null {
  for (const [title, code] of Object.entries(KOS_TITLES)) if (code.value === value) return title as KosTitle;
  return null;
}

/** One key image: an instance, and the frame when the reader marked a frame of a multi-frame image. */
export interface KeyImageRef {
  seriesInstanceUid: string;
  sopInstanceUid: string;
  sopClassUid: string;
  /** 1-based; null for a single-frame image. */
  frameNumber: number | null;
}

export interface KosSelection {
  selectionId: string;
  revision: number;
  title: KosTitle;
  images: readonly KeyImageRef[];
  createdAt: Date;
  readerName: string;
  institutionName: string;
}

export interface BuiltKos {
  bytes: Uint8Array;
  sopInstanceUid: string;
  seriesInstanceUid: string;
  sha256: string;
}

type Item = Record<string, unknown>;
const code = (value: string, meaning: string, scheme = 'DCM'): Item => ({ CodeValue: value, CodingSchemeDesignator: scheme, CodeMeaning: meaning });

export function kosUids(studyInstanceUid: string, selectionId: string): { series: string; instance: string } {
  return { series: derivedUid(`yunying-kos-series/${studyInstanceUid}`), instance: derivedUid(`yunying-kos/${selectionId}`) };
}

function imageItem(ref: KeyImageRef): Item {
  return {
    RelationshipType: 'CONTAINS',
    ValueType: 'IMAGE',
    ReferencedSOPSequence: [
      { ReferencedSOPClassUID: ref.sopClassUid, ReferencedSOPInstanceUID: ref.sopInstanceUid, ...(ref.frameNumber !== null ? { ReferencedFrameNumber: String(ref.frameNumber) } : {}) },
    ],
  };
}

/** Every referenced instance once, grouped by series, in the order first marked (PS3.3 C.17.2.1). */
function evidence(studyInstanceUid: string, images: readonly KeyImageRef[]): Item[] {
  const bySeries = new Map<string, Map<string, string>>();
  for (const ref of images) {
    const series = bySeries.get(ref.seriesInstanceUid) ?? new Map<string, string>();
    series.set(ref.sopInstanceUid, ref.sopClassUid);
    bySeries.set(ref.seriesInstanceUid, series);
  }
  return [
    {
      StudyInstanceUID: studyInstanceUid,
      ReferencedSeriesSequence: [...bySeries].map(([seriesUid, instances]) => ({
        SeriesInstanceUID: seriesUid,
        ReferencedSOPSequence: [...instances].map(([sop, cls]) => ({ ReferencedSOPClassUID: cls, ReferencedSOPInstanceUID: sop })),
      })),
    },
  ];
}

export function buildKeyObjectSelection(study: StudyHeader, s: KosSelection): BuiltKos {
  if (s.images.length === 0) throw new Error('a Key Object Selection needs at least one image (TID 2010)');
  const uids = kosUids(study.studyInstanceUid, s.selectionId);
  const at = s.createdAt;
  const title = KOS_TITLES[s.title];
  const content: Item[] = [
    { RelationshipType: 'HAS OBS CONTEXT', ValueType: 'CODE', ConceptNameCodeSequence: [code('121005', 'Observer Type')], ConceptCodeSequence: [code('121006', 'Person')] },
    { RelationshipType: 'HAS OBS CONTEXT', ValueType: 'PNAME', ConceptNameCodeSequence: [code('121008', 'Person Observer Name')], PersonName: s.readerName },
    { RelationshipType: 'CONTAINS', ValueType: 'TEXT', ConceptNameCodeSequence: [code('113012', 'Key Object Description')], TextValue: `Key images marked by the reader (revision ${s.revision})` },
    ...s.images.map(imageItem),
  ];
  const dataset: Item = {
    SpecificCharacterSet: 'ISO_IR 192',
    InstanceCreationDate: dicomDate(at),
    InstanceCreationTime: dicomTime(at),
    SOPClassUID: KEY_OBJECT_SELECTION,
    SOPInstanceUID: uids.instance,
    ...studyHeaderAttributes(study),
    ContentDate: dicomDate(at),
    ContentTime: dicomTime(at),
    Modality: 'KO',
    Manufacturer: 'Yunying',
    InstitutionName: s.institutionName.slice(0, 64),
    SeriesDescription: 'Key images',
    SeriesInstanceUID: uids.series,
    SeriesNumber: KOS_SERIES_NUMBER,
    InstanceNumber: s.revision,
    ReferencedPerformedProcedureStepSequence: [],
    ValueType: 'CONTAINER',
    ConceptNameCodeSequence: [code(title.value, title.meaning)],
    ContentTemplateSequence: [{ MappingResource: 'DCMR', TemplateIdentifier: '2010' }],
    ContinuityOfContent: 'SEPARATE',
    CurrentRequestedProcedureEvidenceSequence: evidence(study.studyInstanceUid, s.images),
    ContentSequence: content,
  };
  const bytes = part10Bytes(dataset);
  return { bytes, sopInstanceUid: uids.instance, seriesInstanceUid: uids.series, sha256: createHash('sha256').update(bytes).digest('hex') };
}

/** The key images a stored KOS references, in document order (what the share shows). */
export function keyImagesOfKos(dataset: Record<string, unknown>): { sopInstanceUid: string; frameNumber: number | null }[] {
  const items = Array.isArray(dataset.ContentSequence) ? (dataset.ContentSequence as Item[]) : [];
  const refs: { sopInstanceUid: string; frameNumber: number | null }[] = [];
  for (const item of items) {
    if (item.ValueType !== 'IMAGE') continue;
    const sequence = item.ReferencedSOPSequence;
    const ref = (Array.isArray(sequence) ? sequence[0] : sequence) as Item | undefined;
    if (ref === undefined || typeof ref.ReferencedSOPInstanceUID !== 'string') continue;
    const raw: unknown = ref.ReferencedFrameNumber;
    const frame: unknown = Array.isArray(raw) ? (raw as unknown[])[0] : raw;
    refs.push({ sopInstanceUid: ref.ReferencedSOPInstanceUID, frameNumber: frame === undefined || frame === null || frame === '' ? null : Number(frame) });
  }
  return refs;
}
