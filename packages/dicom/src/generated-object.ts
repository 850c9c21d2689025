/**
 * What the archive's own DICOM objects (the AI SEG and TID 1500 SR, the signed report SR) share: UIDs derived from
 * a seed, so a retried write produces the same object; DA/TM values of an instant; and the Part 10
 * bytes (File Meta Information + dataset in Explicit VR Little Endian) of a naturalized dcmjs dataset.
 */
import { createHash } from 'node:crypto';
import dcmjs from 'dcmjs';
import { TransferSyntax } from './uids';

/** A 2.25 UID (PS3.5 B.2) derived from a seed; the same seed always gives the same UID. */
export function derivedUid(seed: string): string {
  const hex = createHash('sha256').update(seed).digest('hex').slice(0, 32);
  return `2.25.${(BigInt(`0x${hex}`) >> 2n).toString()}`;
}

/** DA (YYYYMMDD) of an instant, in UTC. */
export function dicomDate(d: Date): string {
  return d.toISOString().slice(0, 10).replace(/-/g, '');
}

/** TM (HHMMSS) of an instant, in UTC. */
export function dicomTime(d: Date): string {
  return d.toISOString().slice(11, 19).replace(/:/g, '');
}

/** Part 10 bytes of a naturalized dataset whose SOPClassUID and SOPInstanceUID name it. */
export function part10Bytes(dataset: Record<string, unknown>): Uint8Array {
  const meta = {
    // (0002,0001) is Type 1 (PS3.10 7.1): version 00 01.
    FileMetaInformationVersion: new Uint8Array([0, 1]).buffer,
    MediaStorageSOPClassUID: dataset.SOPClassUID,
    MediaStorageSOPInstanceUID: dataset.SOPInstanceUID,
    TransferSyntaxUID: TransferSyntax.ExplicitVRLittleEndian,
    ImplementationClassUID: derivedUid('yunying-implementation'),
    ImplementationVersionName: 'YUNYING_0_1',
  };
  const { DicomDict, DicomMetaDictionary } = dcmjs.data;
  const dict = new DicomDict(DicomMetaDictionary.denaturalizeDataset(meta));
  dict.dict = DicomMetaDictionary.denaturalizeDataset(dataset);
  return new Uint8Array(dict.write());
}

/**
 * Pixel Data of a BINARY segmentation (PS3.3 C.8.20.2: Bits Allocated 1): the frames' pixels, one byte
 * per pixel (0 = outside), packed one bit per pixel with frames contiguous; padded to an even length.
 */
export function packBinaryFrames(frames: readonly Uint8Array[]): Uint8Array {
  const total = frames.reduce((n, f) => n + f.length, 0);
  const all = new Uint8Array(total);
  let at = 0;
  for (const f of frames) {
    all.set(f, at);
    at += f.length;
  }
  const packed = dcmjs.data.BitArray.pack(all);
  if (packed.length % 2 === 0) return packed;
  const even = new Uint8Array(packed.length + 1);
  even.set(packed);
  return even;
}

/** One byte per pixel (0 or 255) from 1-bit Pixel Data; the reverse of packBinaryFrames. */
export function unpackBinaryPixels(bits: Uint8Array): Uint8Array {
  return dcmjs.data.BitArray.unpack(bits);
}

/** RecommendedDisplayCIELabValue (PS3.3 C.10.7.1.1) of an 8-bit sRGB colour. */
export function dicomLabOf(rgb: readonly [number, number, number]): number[] {
  return dcmjs.data.Colors.rgb82DICOMLAB(rgb);
}

/** A Part 10 object read back as a naturalized dcmjs dataset (keyword -> value): how tests and tools check what was written. */
export function naturalizedDataset(bytes: Uint8Array): Record<string, unknown> {
  const buffer = bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength) as ArrayBuffer;
  return dcmjs.data.DicomMetaDictionary.naturalizeDataset(dcmjs.data.DicomMessage.readFile(buffer).dict);
}
