import { failureNote, failureReasonValue, isStoredStatus, parseFailureNote, StowTag } from './stow-wire';

describe('STOW-RS private wire contract', () => {
  it('reads back the part and message of the note it writes, messages with colons and newlines included', () => {
    expect(parseFailureNote(failureNote(3, 'not DICOM: no preamble\nsecond line'))).toEqual({ part: 3, message: 'not DICOM: no preamble\nsecond line' });
  });

  it('tells another archive’s text from a note', () => {
    expect(parseFailureNote('Processing failure')).toBeNull();
    expect(parseFailureNote(42)).toBeNull();
  });

  it('keeps the reason within the 64 characters of LO and knows the stored states', () => {
    expect(failureReasonValue('x'.repeat(80))).toHaveLength(64);
    expect(['STORED', 'ALREADY_STORED', 'NEW_VERSION', 'LOST'].map(isStoredStatus)).toEqual([true, true, true, false]);
  });

  it('uses elements of the private block its creator reserves (0099,10xx under 0099,0010)', () => {
    for (const tag of [StowTag.storedStatus, StowTag.failureReason, StowTag.failureNote]) expect(tag).toMatch(/^009910[0-9A-F]{2}$/);
    expect(StowTag.privateCreator).toBe('00990010');
  });
});
