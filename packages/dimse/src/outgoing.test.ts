import { TransferSyntax, parseInstance } from '@yunying/dicom';
import { makeInstance } from '@yunying/dicom/testing';
import { chooseOutgoingSyntax, convertNativeDataset } from './outgoing';
import { part10Header, splitPart10 } from './part10';

const ts = TransferSyntax;

describe('chooseOutgoingSyntax', () => {
  it('sends the stored syntax when accepted, else converts only between the two native Little Endian syntaxes', () => {
    expect(chooseOutgoingSyntax(ts.JPEGBaseline, [ts.ExplicitVRLittleEndian, ts.JPEGBaseline])).toEqual({ ok: true, transferSyntaxUid: ts.JPEGBaseline, convert: false });
    expect(chooseOutgoingSyntax(ts.ExplicitVRLittleEndian, [ts.ImplicitVRLittleEndian])).toEqual({ ok: true, transferSyntaxUid: ts.ImplicitVRLittleEndian, convert: true });
    expect(chooseOutgoingSyntax(ts.ImplicitVRLittleEndian, [ts.ExplicitVRLittleEndian])).toEqual({ ok: true, transferSyntaxUid: ts.ExplicitVRLittleEndian, convert: true });
    const jpeg = chooseOutgoingSyntax(ts.JPEGBaseline, [ts.ExplicitVRLittleEndian]);
    expect(jpeg.ok).toBe(false);
    expect(!jpeg.ok && jpeg.reason).toContain(ts.JPEGBaseline);
    expect(chooseOutgoingSyntax(ts.ExplicitVRLittleEndian, [ts.ExplicitVRBigEndian]).ok).toBe(false);
    expect(chooseOutgoingSyntax(ts.ExplicitVRLittleEndian, [])).toEqual({ ok: false, reason: 'SOP class not accepted by the peer' });
  });
});

describe('splitPart10 and convertNativeDataset', () => {
  it('takes a stored file apart at the end of its file meta, and re-encodes Explicit VR LE as Implicit VR LE with the same attributes', () => {
    const file = makeInstance({ patientName: 'Li^Si', rows: 4, columns: 4 });
    const parts = splitPart10(file);
    const original = parseInstance(file);
    expect(parts).toMatchObject({ transferSyntaxUid: ts.ExplicitVRLittleEndian, sopInstanceUid: original.sopInstanceUid, sopClassUid: original.sopClassUid });
    const implicit = convertNativeDataset(parts.dataset, ts.ExplicitVRLittleEndian, ts.ImplicitVRLittleEndian);
    expect(Buffer.compare(implicit, parts.dataset)).not.toBe(0);
    const rewrapped = Buffer.concat([
      part10Header({ mediaStorageSopClassUid: parts.sopClassUid, mediaStorageSopInstanceUid: parts.sopInstanceUid, transferSyntaxUid: ts.ImplicitVRLittleEndian, sourceApplicationEntityTitle: '' }, { classUid: '1.2.3', versionName: 'T' }),
      implicit,
    ]);
    const reparsed = parseInstance(rewrapped);
    expect(reparsed.transferSyntaxUid).toBe(ts.ImplicitVRLittleEndian);
    expect(reparsed.sopInstanceUid).toBe(original.sopInstanceUid);
    expect(reparsed.studyInstanceUid).toBe(original.studyInstanceUid);
    expect(reparsed.attributes).toEqual(original.attributes);
    // Every attribute the same; Pixel Data has no VR in Implicit VR LE and reads back as OW (PS3.5 A.1).
    const { '7FE00010': pixels, ...rest } = reparsed.dicomJson;
    const { '7FE00010': originalPixels, ...originalRest } = original.dicomJson;
    expect(rest).toEqual(originalRest);
    expect(pixels?.vr).toBe('OW');
    expect(originalPixels?.vr).toBe('OB');
    const value = (bytes: Buffer, at: { offset: number; length: number } | null): Buffer => bytes.subarray(at!.offset, at!.offset + at!.length);
    expect(Buffer.compare(value(rewrapped, reparsed.pixelData), value(file, original.pixelData))).toBe(0);
  });
  it('refuses what is not Part 10, and conversions involving a compressed syntax', () => {
    expect(() => splitPart10(Buffer.alloc(200))).toThrow('not a Part 10 file');
    expect(() => convertNativeDataset(Buffer.alloc(0), ts.JPEGBaseline, ts.ExplicitVRLittleEndian)).toThrow('cannot convert');
  });
});
