/**
 * PS3.10 7.1: the dataset received over DIMSE, byte for byte, behind a preamble, "DICM" and a file meta
 * group in Explicit VR LE: what STOW-RS needs. The same layout as the archive's own SCP writes
 * (services/ingest/src/dimse/part10.ts), so an instance sent through the gateway and one sent straight to
 * the archive's DICOM port are recognised as the same dataset.
 */
export const IMPLEMENTATION_CLASS_UID = '1.2.826.0.1.3680043.10.1557.2';
export const IMPLEMENTATION_VERSION_NAME = 'YUNYING_GW_0_1';

export interface Part10Meta {
  sopClassUid: string;
  sopInstanceUid: string;
  transferSyntaxUid: string;
  sourceAeTitle: string;
}

type ShortVr = 'UI' | 'SH' | 'AE' | 'UL';

function element(tag: number, vr: ShortVr, value: string | number): Buffer {
  let body: Buffer;
  if (typeof value === 'number') {
    body = Buffer.alloc(4);
    body.writeUInt32LE(value >>> 0, 0);
  } else {
    const text = value.slice(0, vr === 'UI' ? 64 : 16);
    body = Buffer.from(text.length % 2 === 0 ? text : text + (vr === 'UI' ? '\0' : ' '), 'latin1');
  }
  const header = Buffer.alloc(8);
  header.writeUInt16LE(0x0002, 0);
  header.writeUInt16LE(tag, 2);
  header.write(vr, 4, 'latin1');
  header.writeUInt16LE(body.length, 6);
  return Buffer.concat([header, body]);
}

export function part10Header(meta: Part10Meta): Buffer {
  const version = Buffer.alloc(14);
  version.writeUInt16LE(0x0002, 0);
  version.writeUInt16LE(0x0001, 2);
  version.write('OB', 4, 'latin1');
  version.writeUInt32LE(2, 8);
  version[13] = 0x01;
  const body = Buffer.concat([
    version,
    element(0x0002, 'UI', meta.sopClassUid),
    element(0x0003, 'UI', meta.sopInstanceUid),
    element(0x0010, 'UI', meta.transferSyntaxUid),
    element(0x0012, 'UI', IMPLEMENTATION_CLASS_UID),
    element(0x0013, 'SH', IMPLEMENTATION_VERSION_NAME),
    ...(meta.sourceAeTitle.trim() === '' ? [] : [element(0x0016, 'AE', meta.sourceAeTitle.trim())]),
  ]);
  const preamble = Buffer.alloc(132);
  preamble.write('DICM', 128, 'latin1');
  return Buffer.concat([preamble, element(0x0000, 'UL', body.length), body]);
}
