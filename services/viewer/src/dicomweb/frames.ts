import { AppError } from '@yunying/core';
import type { ReplicatedStore } from '@yunying/storage';
import {
  TransferSyntax,
  decodeFrame,
  encodeNativeFrame,
  isPixelDecodeError,
  readFrame,
  type DecodeOptions,
  type DecodedFrame,
  type FrameLocation,
  type ParsedInstance,
} from '@yunying/dicom';
import type { InstanceRow } from './instance.repository';

/**
 * Frame access for WADO-RS without parsing the object: the byte ranges recorded at ingest
 * (instances.frames) are read from storage with one ranged read per frame. Only Deflated syntax
 * (offsets into the inflated dataset) and PALETTE COLOR decoding (the LUTs live in the header) read
 * the whole object.
 */

export type FrameInstance = InstanceRow & { frames: FrameLocation[]; dicomJson: NonNullable<InstanceRow['dicomJson']> };

export function withFrames(row: InstanceRow): FrameInstance {
  const { frames, dicomJson } = row;
  if (frames === null || dicomJson === null) throw new Error('instance row loaded without frames or JSON');
  return { ...row, frames, dicomJson };
}

/** 1-based frame numbers from the request, checked against the instance (404 when out of range). */
export function checkFrameNumbers(instance: FrameInstance, numbers: number[]): void {
  for (const n of numbers) {
    if (n < 1 || n > instance.frames.length) throw new AppError('not_found', `Frame ${n} does not exist (the instance has ${instance.frames.length})`);
  }
}

const NATIVE_LE = new Set<string>([TransferSyntax.ExplicitVRLittleEndian, TransferSyntax.ImplicitVRLittleEndian]);

function parsedFor(instance: FrameInstance, frames: FrameLocation[], deflated: boolean): ParsedInstance {
  // decodeFrame reads the pixel module from dicomJson and the frame from `frames`; the catalog
  // already holds both, so the object is not parsed again.
  return {
    studyInstanceUid: instance.studyInstanceUid,
    seriesInstanceUid: instance.seriesInstanceUid,
    sopInstanceUid: instance.sopInstanceUid,
    sopClassUid: instance.sopClassUid,
    transferSyntaxUid: instance.transferSyntaxUid,
    attributes: {
      PatientName: null,
      PatientID: null,
      PatientBirthDate: null,
      PatientSex: null,
      StudyDate: null,
      StudyTime: null,
      AccessionNumber: null,
      ReferringPhysicianName: null,
      StudyID: null,
      StudyDescription: null,
      Modality: null,
      SeriesNumber: null,
      SeriesDescription: null,
      SeriesDate: null,
      BodyPartExamined: null,
      InstanceNumber: null,
      Rows: instance.rows,
      Columns: instance.columns,
      NumberOfFrames: instance.numberOfFrames,
      PhotometricInterpretation: instance.photometric,
      BitsAllocated: null,
      SpecificCharacterSet: null,
      InstitutionName: null,
      Manufacturer: null,
    },
    dicomJson: instance.dicomJson,
    frames,
    pixelData: null,
    deflated,
  };
}

/** The stored bytes of frame `index` (0-based): as encoded (a JPEG codestream, native samples, ...). */
export async function readStoredFrame(store: ReplicatedStore, instance: FrameInstance, index: number): Promise<Uint8Array> {
  const frame = instance.frames[index];
  if (frame === undefined) throw new AppError('not_found', 'Frame not found');
  if (instance.transferSyntaxUid === TransferSyntax.DeflatedExplicitVRLittleEndian) {
    const whole = await store.read(instance.objectKey, { expectedSize: instance.sizeBytes });
    return readFrame(whole, parsedFor(instance, instance.frames, true), index);
  }
  const first = frame.fragments[0];
  const last = frame.fragments[frame.fragments.length - 1];
  if (first === undefined || last === undefined) return new Uint8Array(0);
  // One ranged read covering every fragment (item headers between them are skipped when assembling).
  const start = first.offset;
  const span = last.offset + last.length - start;
  const bytes = await store.readRange(instance.objectKey, start, span, { expectedSize: instance.sizeBytes });
  if (frame.fragments.length === 1) return bytes.subarray(0, frame.length);
  const out = new Uint8Array(frame.length);
  let position = 0;
  for (const fragment of frame.fragments) {
    out.set(bytes.subarray(fragment.offset - start, fragment.offset - start + fragment.length), position);
    position += fragment.length;
  }
  return out;
}

/**
 * Frame `index` decoded (decompressed). With the default options colour comes as RGB (for rendering);
 * `{ applyPalette: false }` keeps PALETTE COLOR indexes, which need no LUT and so no whole-object read.
 * 406 when the archive cannot decode it.
 */
export async function decodeStoredFrame(store: ReplicatedStore, instance: FrameInstance, index: number, options: DecodeOptions = {}): Promise<DecodedFrame> {
  try {
    const deflated = instance.transferSyntaxUid === TransferSyntax.DeflatedExplicitVRLittleEndian;
    const needsLut = instance.photometric === 'PALETTE COLOR' && options.applyPalette !== false;
    if (needsLut || deflated) {
      const whole = await store.read(instance.objectKey, { expectedSize: instance.sizeBytes });
      return await decodeFrame(whole, parsedFor(instance, instance.frames, deflated), index, options);
    }
    const bytes = await readStoredFrame(store, instance, index);
    const only: FrameLocation = { offset: 0, length: bytes.length, fragments: [{ offset: 0, length: bytes.length }] };
    return await decodeFrame(bytes, parsedFor(instance, [only], false), 0, options);
  } catch (error) {
    if (isPixelDecodeError(error)) throw new AppError('not_acceptable', `The frame cannot be decoded: ${error.message}`, { cause: error });
    throw error;
  }
}

/**
 * Frame `index` as Explicit VR Little Endian native samples (PS3.5 8.1.1). Native little-endian data
 * is served as stored; anything else is decompressed. Decompression is not rendering (PS3.18 8.7.3):
 * PALETTE COLOR stays as its stored indexes, so the bytes match the instance's metadata (an RLE
 * palette cine came back as 16-bit RGB, six times the bytes, and viewers drew it as noise).
 */
export async function nativeFrame(store: ReplicatedStore, instance: FrameInstance, index: number): Promise<Uint8Array> {
  if (NATIVE_LE.has(instance.transferSyntaxUid)) return readStoredFrame(store, instance, index);
  return encodeNativeFrame(await decodeStoredFrame(store, instance, index, { applyPalette: false }));
}
