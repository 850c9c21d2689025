import { SopClass, TransferSyntax } from '@yunying/dicom';
import { makeInstance, newUid } from '@yunying/dicom/testing';

/**
 * The study classes of #15 that OHIF must draw, generated in code with pixels whose drawn colours and grey
 * levels are known, so the test can read the canvas back and tell a right rendering from a wrong one.
 */

/** Saturated colours of the cine's palette entries 0..7 (8-bit RGB as drawn). */
export const PALETTE_BANDS: ReadonlyArray<readonly [number, number, number]> = [
  [255, 0, 0],
  [0, 255, 0],
  [0, 0, 255],
  [255, 255, 0],
  [0, 255, 255],
  [255, 0, 255],
  [255, 255, 255],
  [0, 0, 0],
];

const CINE = { rows: 64, columns: 128, frames: 6, band: 16 };

/** Palette entry of frame f at column c: eight vertical bands, shifted one band per frame (a cine). */
export function cineIndex(frame: number, column: number): number {
  return (Math.floor(column / CINE.band) + frame) % PALETTE_BANDS.length;
}

export interface GeneratedStudy {
  studyInstanceUid: string;
  files: Buffer[];
}

/**
 * A multi-frame RLE Lossless PALETTE COLOR ultrasound cine: 8-bit indexes into 16-bit LUTs whose entries
 * 0..7 are the PALETTE_BANDS colours (the rest a grey ramp). Drawn as greys, as 16-bit RGB or as the
 * stored indexes, none of these colours would appear.
 */
export function paletteCine(options: { patientName: string; patientId: string; studyDate: string; description: string }): GeneratedStudy {
  const studyInstanceUid = newUid();
  const lut = (channel: 0 | 1 | 2): number[] =>
    Array.from({ length: 256 }, (_, i) => {
      const colour = PALETTE_BANDS[i];
      return colour === undefined ? i * 257 : (colour[channel] ?? 0) * 257;
    });
  const file = makeInstance({
    studyInstanceUid,
    patientName: options.patientName,
    patientId: options.patientId,
    studyDate: options.studyDate,
    studyDescription: options.description,
    seriesDescription: 'Palette cine',
    modality: 'US',
    rows: CINE.rows,
    columns: CINE.columns,
    frames: CINE.frames,
    photometric: 'PALETTE COLOR',
    palette: { red: lut(0), green: lut(1), blue: lut(2), bits: 16 },
    transferSyntax: TransferSyntax.RLELossless,
    pixelPattern: (frame, _row, column) => cineIndex(frame, column),
  });
  return { studyInstanceUid, files: [file] };
}

/** Hounsfield units of the CT phantom's parts, and the window it is stored with (soft tissue, C40 W400). */
export const CT_PHANTOM = { air: -1000, tissue: 40, bone: 700, windowCenter: 40, windowWidth: 400, slices: 5, size: 128 } as const;

/** Grey level (0..255) a linear VOI window gives a HU value (PS3.3 C.11.2.1.2.1, rounded). */
export function windowed(hu: number): number {
  const { windowCenter: c, windowWidth: w } = CT_PHANTOM;
  if (hu <= c - 0.5 - (w - 1) / 2) return 0;
  if (hu > c - 0.5 + (w - 1) / 2) return 255;
  return Math.round(((hu - (c - 0.5)) / (w - 1) + 0.5) * 255);
}

/**
 * A CT series of CT_PHANTOM.slices axial slices (CT Image Storage, 12 bits stored in 16, rescale
 * intercept -1024, window C40 W400): air around a soft-tissue disc holding a bone disc that grows slice
 * by slice. Drawn through the stored window, tissue is mid-grey (~128), air black, bone white; drawn
 * without the rescale or the window, tissue would not be mid-grey.
 */
export function ctSeries(options: { patientName: string; patientId: string; studyDate: string; description: string }): GeneratedStudy {
  const studyInstanceUid = newUid();
  const seriesInstanceUid = newUid();
  const { size, slices } = CT_PHANTOM;
  const files = Array.from({ length: slices }, (_, slice) => {
    const hu = (row: number, column: number): number => {
      const r = Math.hypot(row - size / 2, column - size / 2);
      if (r < 8 + 3 * slice) return CT_PHANTOM.bone;
      return r < size * 0.4 ? CT_PHANTOM.tissue : CT_PHANTOM.air;
    };
    return makeInstance({
      studyInstanceUid,
      seriesInstanceUid,
      sopClassUid: SopClass.CTImage,
      instanceNumber: slice + 1,
      patientName: options.patientName,
      patientId: options.patientId,
      studyDate: options.studyDate,
      studyDescription: options.description,
      seriesDescription: 'Axial phantom',
      modality: 'CT',
      rows: size,
      columns: size,
      bitsAllocated: 16,
      bitsStored: 12,
      pixelPattern: (_frame, row, column) => hu(row, column) + 1024,
      extra: {
        BodyPartExamined: 'NECK',
        ImageType: ['ORIGINAL', 'PRIMARY', 'AXIAL'],
        RescaleIntercept: '-1024',
        RescaleSlope: '1',
        RescaleType: 'HU',
        WindowCenter: String(CT_PHANTOM.windowCenter),
        WindowWidth: String(CT_PHANTOM.windowWidth),
        PixelSpacing: ['0.5', '0.5'],
        SliceThickness: '2.5',
        ImageOrientationPatient: ['1', '0', '0', '0', '1', '0'],
        ImagePositionPatient: ['-32', '-32', String(-2.5 * slice)],
        SliceLocation: String(-2.5 * slice),
        FrameOfReferenceUID: `${studyInstanceUid}.1`,
        KVP: '120',
      },
    });
  });
  return { studyInstanceUid, files };
}
