import { SopClass, TransferSyntax, parseInstance, readFrame } from '@yunying/dicom';
import { corrupt, makeInstance } from '@yunying/dicom/testing';
import { negotiateContext } from './negotiation';
import { part10Header, wrapPart10 } from './part10';
import { answerForException, answerForOutcome, errorComment } from './store-status';
import { AppError } from '@yunying/core';

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
    const file = wrapPart10(meta, [dataset.subarray(0, 100), dataset.subarray(100)]);
    const header = part10Header(meta);
    expect(file.subarray(header.length).equals(dataset)).toBe(true);
    expect(header.length % 2).toBe(0);
    expect(header.readUInt32LE(132 + 8)).toBe(header.length - 132 - 12); // (0002,0000) group length
    const parsed = parseInstance(file);
    expect(parsed).toMatchObject({ sopInstanceUid: original.sopInstanceUid, transferSyntaxUid: TransferSyntax.JPEGBaseline });
    expect(Buffer.from(readFrame(file, parsed, 0)).equals(Buffer.from(readFrame(originalFile, original, 0)))).toBe(true);
    expect(file.includes(Buffer.from('US_ROOM_3 ', 'latin1'))).toBe(true); // (0002,0016) AE padded to even length
  });

  it('makes the parser refuse a dataset whose SOP class differs from the command (0xA900)', () => {
    const dataset = corrupt.withoutPart10Header({ seed: 'mismatch' });
    const file = wrapPart10({ mediaStorageSopClassUid: SopClass.CTImage, mediaStorageSopInstanceUid: '1.2.3', transferSyntaxUid: TransferSyntax.ExplicitVRLittleEndian, sourceApplicationEntityTitle: 'X' }, [dataset]);
    expect(() => parseInstance(file)).toThrow(expect.objectContaining({ failureReason: 0xa900 }));
  });
});

describe('negotiateContext', () => {
  const ts = TransferSyntax;
  it('prefers a compressed syntax, then Explicit VR LE, and never a syntax the parser does not know', () => {
    expect(negotiateContext({ id: 1, abstractSyntaxUid: SopClass.UltrasoundImage, transferSyntaxUids: [ts.ImplicitVRLittleEndian, ts.ExplicitVRLittleEndian, ts.JPEGBaseline] })).toEqual({ id: 1, result: 'accept', transferSyntaxUid: ts.JPEGBaseline });
    expect(negotiateContext({ id: 3, abstractSyntaxUid: SopClass.CTImage, transferSyntaxUids: [ts.ImplicitVRLittleEndian, ts.ExplicitVRLittleEndian] })).toEqual({ id: 3, result: 'accept', transferSyntaxUid: ts.ExplicitVRLittleEndian });
    expect(negotiateContext({ id: 5, abstractSyntaxUid: SopClass.CTImage, transferSyntaxUids: ['1.2.840.10008.1.2.4.999'] })).toEqual({ id: 5, result: 'transfer_syntaxes_not_supported' });
  });
  it('accepts Verification, storage and private classes; refuses other services and a DICOMDIR', () => {
    expect(negotiateContext({ id: 1, abstractSyntaxUid: '1.2.840.10008.1.1', transferSyntaxUids: [ts.ImplicitVRLittleEndian] }).result).toBe('accept');
    expect(negotiateContext({ id: 1, abstractSyntaxUid: '1.2.840.10008.5.1.4.1.1.130', transferSyntaxUids: [ts.ExplicitVRLittleEndian] }).result).toBe('accept');
    expect(negotiateContext({ id: 1, abstractSyntaxUid: '1.3.6.1.4.1.99999.1', transferSyntaxUids: [ts.ExplicitVRLittleEndian] }).result).toBe('accept');
    expect(negotiateContext({ id: 1, abstractSyntaxUid: '1.2.840.10008.5.1.4.1.2.2.1', transferSyntaxUids: [ts.ImplicitVRLittleEndian] }).result).toBe('abstract_syntax_not_supported');
    expect(negotiateContext({ id: 1, abstractSyntaxUid: '1.2.840.10008.5.1.4.31', transferSyntaxUids: [ts.ImplicitVRLittleEndian] }).result).toBe('abstract_syntax_not_supported');
    expect(negotiateContext({ id: 1, abstractSyntaxUid: SopClass.MediaStorageDirectory, transferSyntaxUids: [ts.ExplicitVRLittleEndian] }).result).toBe('abstract_syntax_not_supported');
  });
});

describe('C-STORE status mapping', () => {
  it('maps outcomes and exceptions to PS3.7 statuses with a short error comment', () => {
    const stored = { studyInstanceUid: '1', seriesInstanceUid: '2', sopInstanceUid: '3', sopClassUid: '4', transferSyntaxUid: '5', version: 1 };
    expect(answerForOutcome({ ...stored, status: 'stored' })).toEqual({ status: 0 });
    expect(answerForOutcome({ ...stored, status: 'already_stored' })).toEqual({ status: 0 });
    expect(answerForOutcome({ ...stored, status: 'new_version' })).toEqual({ status: 0 });
    const refused = answerForOutcome({ status: 'rejected', failureReason: 0xa900, reason: 'missing_uid', message: 'x'.repeat(200), retryable: false });
    expect(refused.status).toBe(0xa900);
    expect(refused.errorComment?.length).toBe(64);
    expect(answerForException(new Error('connection refused')).status).toBe(0xa700);
    expect(answerForException(new AppError('forbidden', 'no clinic')).status).toBe(0xc000);
    expect(errorComment('a\\b\nc')).toBe('a b c');
  });
});
