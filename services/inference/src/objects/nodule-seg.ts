/**
 * The nodule outlines of one scored image as a DICOM Segmentation (PS3.3 A.51; SOP Class
 * 1.2.840.10008.5.1.4.1.1.66.4), BINARY, one segment per confident nodule on the scored frame and one
 * frame per segment, each derived from that source frame (Derivation Image Sequence with the Source
 * Image Sequence; Referenced Series Sequence of the Common Instance Reference module). Pixel Spacing and
 * Image Orientation are copied from the source when it has them, its frame of reference when it also
 * states Pixel Spacing and Slice Thickness (a SEG in a frame of reference needs both). Ultrasound images
 * usually carry no patient geometry: no Plane Position, and the orientation is the frame's own axes (see
 * SharedFunctionalGroupsSequence for why it is written at all).
 *
 * Written with dcmjs (naturalized dataset -> Explicit VR Little Endian Part 10; 1-bit packing).
 * Deterministic: UIDs derive from the result key and the source image, values from the stored result.
 */
import { studyHeaderAttributes, type StoredAiResult, type StudyHeader } from '@yunying/catalog';
import { derivedUid, dicomDate, dicomLabOf, dicomTime, packBinaryFrames, part10Bytes } from '@yunying/dicom';
import type { ScoredImage } from '../triage/result';
import { NODULE, THYROID, code, equipmentAttributes, resultSeed, type Item } from './common';
import { outlineMask } from './outline-mask';
import type { SourceFacts } from './source-facts';

export const SEGMENTATION_STORAGE = '1.2.840.10008.5.1.4.1.1.66.4';
/** Listed after the acquired series and before the measurement report (9901) and signed reports (9902). */
export const SEG_SERIES_NUMBER = 9900;
/** The colour viewers are asked to draw the outline in (sRGB); saturated green stands out on gray ultrasound. */
export const SEG_COLOUR: readonly [number, number, number] = [0, 255, 0];

/** Row direction x, column direction y: the orientation of a frame that states none. */
const FRAME_AXES = [1, 0, 0, 0, 1, 0];
// AT values are written by dcmjs from numbers (group << 16 | element).
const SEGMENT_ID = 0x0062000b;
const SEGMENT_IDENTIFICATION = 0x0062000a;

export function segUids(header: StudyHeader, result: StoredAiResult, image: ScoredImage): { series: string; instance: string } {
  const seed = resultSeed(header, result);
  return {
    series: derivedUid(`yunying-ai-seg-series/${seed}`),
    instance: derivedUid(`yunying-ai-seg/${seed}/${result.instanceCount}/${image.sopInstanceUid}/${image.frameNumber}`),
  };
}

export interface BuiltObject {
  bytes: Uint8Array;
  sopInstanceUid: string;
  seriesInstanceUid: string;
}

export interface SegInput {
  result: StoredAiResult;
  header: StudyHeader;
  image: ScoredImage;
  source: SourceFacts;
}

export function buildNoduleSeg({ result, header, image, source }: SegInput): BuiltObject {
  const uids = segUids(header, result, image);
  const created = result.createdAt;
  const dimensionOrganization = derivedUid(`yunying-ai-seg-dimensions/${uids.instance}`);
  const sourceRef: Item = {
    ReferencedSOPClassUID: image.sopClassUid,
    ReferencedSOPInstanceUID: image.sopInstanceUid,
    // Only a multi-frame source needs the frame named (PS3.3 C.7.6.16.2.6.1).
    ...(image.numberOfFrames > 1 ? { ReferencedFrameNumber: image.frameNumber } : {}),
  };
  const masks = image.nodules.map((n) => outlineMask(n.outline, image.columns, image.rows));
  // A SEG in a frame of reference must state Pixel Spacing and Slice Thickness (PS3.3 C.7.6.16.2.1, as
  // dciodvfy checks): it shares the source's frame of reference only when the source has both.
  const geometry =
    source.frameOfReferenceUid && source.pixelSpacing && source.sliceThickness
      ? { frameOfReferenceUid: source.frameOfReferenceUid, pixelSpacing: source.pixelSpacing, sliceThickness: source.sliceThickness }
      : null;
  const segments = image.nodules.map((n, i) => ({
    SegmentNumber: i + 1,
    SegmentLabel: `Nodule ${n.index}`,
    SegmentDescription: `AI-found nodule ${n.index} (${n.trLevel}, ${n.tiradsPoints} ACR TI-RADS points, suggested)`.slice(0, 64),
    SegmentAlgorithmType: 'AUTOMATIC',
    SegmentAlgorithmName: `${result.modelId} ${result.modelVersion}`.slice(0, 64),
    SegmentedPropertyCategoryCodeSequence: [code('49755003', 'Morphologically Abnormal Structure', 'SCT')],
    SegmentedPropertyTypeCodeSequence: [NODULE],
    AnatomicRegionSequence: [THYROID],
    RecommendedDisplayCIELabValue: dicomLabOf(SEG_COLOUR),
    TrackingID: `Nodule ${n.index}`,
    TrackingUID: derivedUid(`yunying-ai-nodule/${uids.instance}/${n.index}`),
  }));
  const perFrame = image.nodules.map((_, i) => ({
    DerivationImageSequence: [
      {
        SourceImageSequence: [{ ...sourceRef, PurposeOfReferenceCodeSequence: [code('121322', 'Source image for image processing operation', 'DCM')] }],
        DerivationCodeSequence: [code('113076', 'Segmentation', 'DCM')],
      },
    ],
    FrameContentSequence: [{ DimensionIndexValues: [i + 1] }],
    SegmentIdentificationSequence: [{ ReferencedSegmentNumber: i + 1 }],
  }));
  const pixels = packBinaryFrames(masks);
  const dataset: Item = {
    SpecificCharacterSet: 'ISO_IR 192',
    ImageType: ['DERIVED', 'PRIMARY'],
    InstanceCreationDate: dicomDate(created),
    InstanceCreationTime: dicomTime(created),
    SOPClassUID: SEGMENTATION_STORAGE,
    SOPInstanceUID: uids.instance,
    ...studyHeaderAttributes(header),
    ContentDate: dicomDate(created),
    ContentTime: dicomTime(created),
    Modality: 'SEG',
    ...equipmentAttributes(result),
    SeriesDescription: `AI nodule outlines ${result.modelId} ${result.modelVersion}`.slice(0, 64),
    SeriesInstanceUID: uids.series,
    SeriesNumber: SEG_SERIES_NUMBER,
    InstanceNumber: result.instanceCount,
    ...(geometry ? { FrameOfReferenceUID: geometry.frameOfReferenceUid, PositionReferenceIndicator: '' } : {}),
    ContentLabel: 'NODULE',
    ContentDescription: 'AI nodule outlines (model map components); not a diagnosis',
    ContentCreatorName: '',
    SamplesPerPixel: 1,
    PhotometricInterpretation: 'MONOCHROME2',
    Rows: image.rows,
    Columns: image.columns,
    BitsAllocated: 1,
    BitsStored: 1,
    HighBit: 0,
    PixelRepresentation: 0,
    LossyImageCompression: '00',
    SegmentationType: 'BINARY',
    SegmentSequence: segments,
    NumberOfFrames: masks.length,
    SharedFunctionalGroupsSequence: [
      {
        // Pixel Measures is always there (OHIF 3.13 reads the item unconditionally); its Pixel Spacing only
        // when the source has one: an uncalibrated ultrasound frame has no spacing to copy.
        PixelMeasuresSequence: [
          geometry ? { PixelSpacing: geometry.pixelSpacing, SliceThickness: geometry.sliceThickness } : source.pixelSpacing ? { PixelSpacing: source.pixelSpacing } : {},
        ],
        // The source's orientation; a source without one (ultrasound) gets the frame's own axes, rows along
        // x and columns along y, with no Frame of Reference to place them in the patient. OHIF 3.13's SEG
        // loader (cornerstone adapters, labelmapImagesFromBuffer) refuses a SEG without this group, and it
        // gives such a source image the same default orientation, so the frames match it.
        PlaneOrientationSequence: [{ ImageOrientationPatient: source.imageOrientation ?? FRAME_AXES }],
      },
    ],
    PerFrameFunctionalGroupsSequence: perFrame,
    DimensionOrganizationSequence: [{ DimensionOrganizationUID: dimensionOrganization }],
    DimensionIndexSequence: [
      {
        DimensionOrganizationUID: dimensionOrganization,
        DimensionIndexPointer: SEGMENT_ID,
        FunctionalGroupPointer: SEGMENT_IDENTIFICATION,
        DimensionDescriptionLabel: 'ReferencedSegmentNumber',
      },
    ],
    ReferencedSeriesSequence: [{ SeriesInstanceUID: image.seriesInstanceUid, ReferencedInstanceSequence: [{ ReferencedSOPClassUID: image.sopClassUid, ReferencedSOPInstanceUID: image.sopInstanceUid }] }],
    PixelData: [pixels.buffer.slice(pixels.byteOffset, pixels.byteOffset + pixels.byteLength)],
    _vrMap: { PixelData: 'OB' },
  };
  return { bytes: part10Bytes(dataset), sopInstanceUid: uids.instance, seriesInstanceUid: uids.series };
}
