/**
 * What the AI objects need from each source image besides the triage result: its frame of reference
 * (a SEG shares it), its Pixel Spacing (copied to the SEG's Pixel Measures) and its calibration (the
 * report gives sizes in mm when the frame is calibrated). Read from the catalog's DICOM JSON, so no
 * object is fetched from storage.
 */
import type { Pool } from '@yunying/catalog';
import type { DicomJsonObject } from '@yunying/dicom';
import { pixelSizeMm } from '@yunying/nodule-model';
import { currentDicomJson } from '../triage/triage.repository';

export interface SourceFacts {
  frameOfReferenceUid: string | null;
  /** Pixel Spacing (0028,0030) as stored: [row spacing, column spacing] in mm. */
  pixelSpacing: [number, number] | null;
  /** mm per pixel along x and y (ultrasound region calibration or Pixel Spacing); null when uncalibrated. */
  pixelMm: { x: number; y: number } | null;
  /** Image Orientation (Patient) (0020,0037) when the source has one (ultrasound usually has none). */
  imageOrientation: number[] | null;
  /** Slice Thickness (0018,0050) in mm when the source has one. */
  sliceThickness: number | null;
}

const FRAME_OF_REFERENCE_UID = '00200052';
const PIXEL_SPACING = '00280030';
const IMAGE_ORIENTATION_PATIENT = '00200037';
const SLICE_THICKNESS = '00180050';

export function sourceFactsOf(json: DicomJsonObject): SourceFacts {
  const forUid = json[FRAME_OF_REFERENCE_UID]?.Value?.[0];
  const spacing = json[PIXEL_SPACING]?.Value;
  const iop = json[IMAGE_ORIENTATION_PATIENT]?.Value;
  const thickness = json[SLICE_THICKNESS]?.Value?.[0];
  const row = spacing?.[0];
  const column = spacing?.[1];
  return {
    frameOfReferenceUid: typeof forUid === 'string' && forUid !== '' ? forUid : null,
    pixelSpacing: typeof row === 'number' && typeof column === 'number' && row > 0 && column > 0 ? [row, column] : null,
    pixelMm: pixelSizeMm(json),
    imageOrientation: Array.isArray(iop) && iop.length === 6 && iop.every((v) => typeof v === 'number') ? iop : null,
    sliceThickness: typeof thickness === 'number' && thickness > 0 ? thickness : null,
  };
}

export async function sourceFacts(pool: Pool, studyRef: string, sopInstanceUids: readonly string[]): Promise<Map<string, SourceFacts>> {
  const stored = await currentDicomJson(pool, studyRef, sopInstanceUids);
  return new Map([...stored].map(([sop, json]) => [sop, sourceFactsOf(json)]));
}

export const UNKNOWN_SOURCE: SourceFacts = { frameOfReferenceUid: null, pixelSpacing: null, pixelMm: null, imageOrientation: null, sliceThickness: null };
