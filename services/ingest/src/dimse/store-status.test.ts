import { answerForOutcome } from './store-status';

describe('answerForOutcome', () => {
  it('answers every stored outcome 0x0000 and a rejection with its PS3.7 status and a 64-character comment', () => {
    const stored = { studyInstanceUid: '1', seriesInstanceUid: '2', sopInstanceUid: '3', sopClassUid: '4', transferSyntaxUid: '5', version: 1 };
    expect(answerForOutcome({ ...stored, status: 'stored' })).toEqual({ status: 0 });
    expect(answerForOutcome({ ...stored, status: 'already_stored' })).toEqual({ status: 0 });
    expect(answerForOutcome({ ...stored, status: 'new_version' })).toEqual({ status: 0 });
    const refused = answerForOutcome({ status: 'rejected', failureReason: 0xa900, reason: 'missing_uid', message: 'x'.repeat(200), retryable: false });
    expect(refused.status).toBe(0xa900);
    expect(refused.errorComment?.length).toBe(64);
  });
});
