import { SopClass, TransferSyntax } from '@yunying/dicom';
import { asyncWindow, negotiateContext, negotiateRole } from './negotiation';

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
  it('accepts Patient and Study Root FIND only when the service offers it, in a native syntax', () => {
    const studyRoot = { id: 9, abstractSyntaxUid: '1.2.840.10008.5.1.4.1.2.2.1', transferSyntaxUids: [ts.JPEGBaseline, ts.ImplicitVRLittleEndian, ts.ExplicitVRLittleEndian] };
    expect(negotiateContext(studyRoot, { find: true })).toEqual({ id: 9, result: 'accept', transferSyntaxUid: ts.ExplicitVRLittleEndian });
    expect(negotiateContext({ ...studyRoot, abstractSyntaxUid: '1.2.840.10008.5.1.4.1.2.1.1', transferSyntaxUids: [ts.ImplicitVRLittleEndian] }, { find: true })).toEqual({ id: 9, result: 'accept', transferSyntaxUid: ts.ImplicitVRLittleEndian });
    expect(negotiateContext({ ...studyRoot, transferSyntaxUids: [ts.JPEGBaseline] }, { find: true }).result).toBe('transfer_syntaxes_not_supported');
    expect(negotiateContext(studyRoot).result).toBe('abstract_syntax_not_supported');
    // MOVE and GET are not served.
    expect(negotiateContext({ ...studyRoot, abstractSyntaxUid: '1.2.840.10008.5.1.4.1.2.2.2' }, { find: true }).result).toBe('abstract_syntax_not_supported');
  });
  it('accepts GET and MOVE only when the service offers retrieve, in a native syntax', () => {
    const get = { id: 11, abstractSyntaxUid: '1.2.840.10008.5.1.4.1.2.2.3', transferSyntaxUids: [ts.ExplicitVRLittleEndian] };
    expect(negotiateContext(get, { get: true })).toEqual({ id: 11, result: 'accept', transferSyntaxUid: ts.ExplicitVRLittleEndian });
    expect(negotiateContext({ ...get, abstractSyntaxUid: '1.2.840.10008.5.1.4.1.2.1.2' }, { move: true }).result).toBe('accept');
    expect(negotiateContext(get, { find: true }).result).toBe('abstract_syntax_not_supported');
  });
  it('a receive-only storage context (C-GET) follows the requestor order, Big Endian last', () => {
    const context = { id: 13, abstractSyntaxUid: SopClass.CTImage, transferSyntaxUids: [ts.ExplicitVRBigEndian, ts.ImplicitVRLittleEndian, ts.JPEGBaseline], receiveOnly: true };
    expect(negotiateContext(context, { get: true })).toEqual({ id: 13, result: 'accept', transferSyntaxUid: ts.ImplicitVRLittleEndian });
    expect(negotiateContext({ ...context, transferSyntaxUids: [ts.JPEGBaseline, ts.ExplicitVRLittleEndian] }, { get: true })).toEqual({ id: 13, result: 'accept', transferSyntaxUid: ts.JPEGBaseline });
  });
  it('grants the SCP role for storage classes only with C-GET offered, and never a role not proposed', () => {
    expect(negotiateRole(SopClass.CTImage, { scu: false, scp: true }, { get: true })).toEqual({ scu: false, scp: true });
    expect(negotiateRole(SopClass.CTImage, { scu: false, scp: true }, {})).toEqual({ scu: false, scp: false });
    expect(negotiateRole('1.2.840.10008.5.1.4.1.2.2.3', { scu: true, scp: true }, { get: true })).toEqual({ scu: true, scp: false });
    expect(negotiateRole(SopClass.CTImage, { scu: true, scp: false }, { get: true })).toEqual({ scu: true, scp: false });
  });
});

describe('asyncWindow (PS3.7 D.3.3.3)', () => {
  const proposal = (invoked: number | null) => ({ getNegotiateAsyncOps: () => invoked !== null, getMaxAsyncOpsInvoked: () => invoked ?? 1 });
  it('stays synchronous without a proposal, caps a proposal at ours, reads 0 as unlimited, and performs one at a time', () => {
    expect(asyncWindow(proposal(null), 16)).toEqual({ invoked: 1, performed: 1 });
    expect(asyncWindow(proposal(8), 16)).toEqual({ invoked: 8, performed: 1 });
    expect(asyncWindow(proposal(100), 16)).toEqual({ invoked: 16, performed: 1 });
    expect(asyncWindow(proposal(0), 16)).toEqual({ invoked: 16, performed: 1 });
    expect(asyncWindow(proposal(8), 1)).toEqual({ invoked: 1, performed: 1 });
  });
});
