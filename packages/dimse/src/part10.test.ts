import { SopClass, TransferSyntax, parseInstance, readFrame } from '@yunying/dicom';
import { corrupt, makeInstance } from '@yunying/dicom/testing';
import { part10Header, wrapPart10 } from './part10';

const implementation = { classUid: '1.2.826.0.1.3680043.10.1557.99', versionName: 'YY_TEST' };

describe('wrapPart10', () => {
  it('puts the received dataset, byte for byte, behind a file meta group the parser accepts', () => {
    const options = { seed: 'part10', transferSyntax: TransferSyntax.JPEGBaseline } as const;
    const originalFile = makeInstance(options);
    const original = parseInstance(originalFile);
    const dataset = corrupt.withoutPart10Header(options);
    const meta = {
      mediaStorageSopClassUid: original.sopClassUid,
      mediaStorageSopInstanceUid: original.sopInstanceUid,
      transferSyntaxUid: TransferSyntax.JPEGBaseline,
      sourceApplicationEntityTitle: 'US_ROOM_3',
    };
    const file = wrapPart10(meta, [dataset.subarray(0, 100), dataset.subarray(100)], implementation);
    const header = part10Header(meta, implementation);
    expect(file.subarray(header.length).equals(dataset)).toBe(true);
    expect(header.length % 2).toBe(0);
    expect(header.readUInt32LE(132 + 8)).toBe(header.length - 132 - 12); // (0002,0000) group length
    const parsed = parseInstance(file);
    expect(parsed).toMatchObject({ sopInstanceUid: original.sopInstanceUid, transferSyntaxUid: TransferSyntax.JPEGBaseline });
    expect(Buffer.from(readFrame(file, parsed, 0)).equals(Buffer.from(readFrame(originalFile, original, 0)))).toBe(true);
    expect(file.includes(Buffer.from('US_ROOM_3 ', 'latin1'))).toBe(true); // (0002,0016) AE padded to even length
    expect(header.includes(Buffer.from(implementation.classUid, 'latin1'))).toBe(true); // (0002,0012)
    expect(header.includes(Buffer.from('YY_TEST ', 'latin1'))).toBe(true); // (0002,0013)
  });

  it('makes the parser refuse a dataset whose SOP class differs from the command (0xA900)', () => {
    const dataset = corrupt.withoutPart10Header({ seed: 'mismatch' });
    const file = wrapPart10({ mediaStorageSopClassUid: SopClass.CTImage, mediaStorageSopInstanceUid: '1.2.3', transferSyntaxUid: TransferSyntax.ExplicitVRLittleEndian, sourceApplicationEntityTitle: 'X' }, [dataset], implementation);
    expect(() => parseInstance(file)).toThrow(expect.objectContaining({ failureReason: 0xa900 }));
  });

  it('leaves out (0002,0016) when the calling AE title is blank', () => {
    const meta = { mediaStorageSopClassUid: SopClass.CTImage, mediaStorageSopInstanceUid: '1.2.3', transferSyntaxUid: TransferSyntax.ExplicitVRLittleEndian, sourceApplicationEntityTitle: '  ' };
    const header = part10Header(meta, implementation);
    expect(header.includes(Buffer.from([0x02, 0x00, 0x16, 0x00]))).toBe(false);
  });
});
