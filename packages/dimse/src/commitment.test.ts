import { eventReport, parseCommitmentRequest, STORAGE_COMMITMENT_SOP_INSTANCE } from './commitment';
import { negotiateContext } from './negotiation';

const ref = { ReferencedSOPClassUID: '1.2.840.10008.5.1.4.1.1.6.1', ReferencedSOPInstanceUID: '2.25.7' };

describe('Storage Commitment request parsing and report', () => {
  it('accepts Action Type 1 on the well-known instance with a Transaction UID and references', () => {
    expect(parseCommitmentRequest(1, STORAGE_COMMITMENT_SOP_INSTANCE, { TransactionUID: '2.25.1', ReferencedSOPSequence: [ref] }, 10)).toEqual({
      ok: true,
      request: { transactionUid: '2.25.1', references: [{ sopClassUid: ref.ReferencedSOPClassUID, sopInstanceUid: '2.25.7' }] },
    });
  });
  it('refuses with the N-ACTION status that says what is wrong', () => {
    const good = { TransactionUID: '2.25.1', ReferencedSOPSequence: [ref] };
    expect(parseCommitmentRequest(2, STORAGE_COMMITMENT_SOP_INSTANCE, good, 10)).toMatchObject({ ok: false, status: 0x0123 });
    expect(parseCommitmentRequest(1, '1.2.3', good, 10)).toMatchObject({ ok: false, status: 0x0117 });
    expect(parseCommitmentRequest(1, STORAGE_COMMITMENT_SOP_INSTANCE, { ReferencedSOPSequence: [ref] }, 10)).toMatchObject({ ok: false, status: 0x0120 });
    expect(parseCommitmentRequest(1, STORAGE_COMMITMENT_SOP_INSTANCE, { TransactionUID: '2.25.1', ReferencedSOPSequence: [] }, 10)).toMatchObject({ ok: false, status: 0x0120 });
    expect(parseCommitmentRequest(1, STORAGE_COMMITMENT_SOP_INSTANCE, { TransactionUID: '2.25.1', ReferencedSOPSequence: [{ ReferencedSOPClassUID: 'x' }] }, 10)).toMatchObject({ ok: false, status: 0x0106 });
    expect(parseCommitmentRequest(1, STORAGE_COMMITMENT_SOP_INSTANCE, { TransactionUID: '2.25.1', ReferencedSOPSequence: [ref, ref] }, 1)).toMatchObject({ ok: false, status: 0x0213 });
  });
  it('reports event type 1 when all are committed, 2 with a Failed SOP Sequence otherwise', () => {
    const committed = { sopClassUid: '1.2', sopInstanceUid: '2.25.7' };
    expect(eventReport('2.25.1', { committed: [committed], failed: [] })).toEqual({
      eventTypeId: 1,
      elements: { TransactionUID: '2.25.1', ReferencedSOPSequence: [{ ReferencedSOPClassUID: '1.2', ReferencedSOPInstanceUID: '2.25.7' }] },
    });
    expect(eventReport('2.25.1', { committed: [], failed: [{ ...committed, failureReason: 0x0112 }] })).toEqual({
      eventTypeId: 2,
      elements: { TransactionUID: '2.25.1', FailedSOPSequence: [{ ReferencedSOPClassUID: '1.2', ReferencedSOPInstanceUID: '2.25.7', FailureReason: 0x0112 }] },
    });
  });
  it('its context is accepted only when the service offers it', () => {
    const context = { id: 1, abstractSyntaxUid: '1.2.840.10008.1.20.1', transferSyntaxUids: ['1.2.840.10008.1.2'] };
    expect(negotiateContext(context, { commitment: true }).result).toBe('accept');
    expect(negotiateContext(context).result).toBe('abstract_syntax_not_supported');
  });
});
