import { FailureReason } from '@yunying/dicom';
import { stowFailures } from '../../bench/src/lib/stow-result';
import { buildStowResponse, stowStatus, type StowPartResult } from '../../services/ingest/src/stow/stow.response';

// bench:explain and bench:ingest count an instance as failed from the STOW-RS response (the HTTP status and
// the FailedSOPSequence / ReferencedSOPSequence of the body), on bodies built by the archive's own response code.
describe('stowFailures', () => {
  const study = '1.2.826.0.1.3680043.8.498.1';
  const stored = (n: number, status: 'stored' | 'already_stored' | 'new_version' = 'stored'): StowPartResult => ({
    part: n,
    outcome: { status, studyInstanceUid: study, seriesInstanceUid: `${study}.1`, sopInstanceUid: `${study}.1.${n}`, sopClassUid: '1.2.840.10008.5.1.4.1.1.2', transferSyntaxUid: '1.2.840.10008.1.2.1', version: 1 },
  });
  const refused = (n: number, reason: string, retryable = false): StowPartResult => ({
    part: n,
    outcome: { status: 'rejected', failureReason: FailureReason.ProcessingFailure, reason, message: reason, retryable, sopInstanceUid: `${study}.1.${n}`, sopClassUid: '1.2.840.10008.5.1.4.1.1.2' },
  });
  const answer = (results: StowPartResult[]): { status: number; body: Buffer } => ({
    status: stowStatus(results).status,
    body: Buffer.from(JSON.stringify(buildStowResponse(results, 'http://127.0.0.1:8042/dicomweb', undefined))),
  });

  it('counts nothing when every instance is referenced (re-sends included)', () => {
    const { status, body } = answer([stored(1), stored(2, 'already_stored'), stored(3, 'new_version')]);
    expect(status).toBe(200);
    expect(stowFailures(status, body, 3)).toBe(0);
  });

  it('counts the FailedSOPSequence items of a partial success (202)', () => {
    const { status, body } = answer([stored(1), refused(2, 'uid_conflict'), stored(3), refused(4, 'malformed')]);
    expect(status).toBe(202);
    expect(stowFailures(status, body, 4)).toBe(2);
  });

  it('counts every instance of a refused request (409, 503), body or not', () => {
    const conflict = answer([refused(1, 'uid_conflict'), refused(2, 'uid_conflict')]);
    expect(conflict.status).toBe(409);
    expect(stowFailures(conflict.status, conflict.body, 2)).toBe(2);
    const unavailable = answer([refused(1, 'storage_unavailable', true)]);
    expect(unavailable.status).toBe(503);
    expect(stowFailures(unavailable.status, unavailable.body, 1)).toBe(1);
    expect(stowFailures(401, Buffer.from('{"error":"unauthorized"}'), 5)).toBe(5);
  });

  it('trusts the body over a 200: a failed item, or an instance missing from ReferencedSOPSequence, failed', () => {
    const partial = answer([stored(1), refused(2, 'uid_conflict')]);
    expect(stowFailures(200, partial.body, 2)).toBe(1);
    const one = answer([stored(1)]);
    expect(stowFailures(200, one.body, 3)).toBe(2);
  });

  it('without a readable body: 200 is all stored, 202 cannot say which, so all count', () => {
    expect(stowFailures(200, Buffer.alloc(0), 4)).toBe(0);
    expect(stowFailures(202, Buffer.from('not json'), 4)).toBe(4);
  });
});
