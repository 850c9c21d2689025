import { parseInstance } from './index';
import { trimTrailingNul, trimTrailingPadding } from './padding';
import { corrupt, makeInstance } from './testing';

describe('padding removal (PS3.5 6.2)', () => {
  it.each([
    ['', ''],
    ['ABC ', 'ABC'],
    ['1.2.3\0', '1.2.3'],
    ['A \0 \0', 'A'],
    ['  A  ', '  A'],
    ['   ', ''],
    ['A\0B', 'A\0B'],
  ])('trimTrailingPadding(%j) is %j', (input, expected) => {
    expect(trimTrailingPadding(input)).toBe(expected);
  });

  it('trimTrailingNul keeps spaces', () => {
    expect(trimTrailingNul('A \0\0')).toBe('A ');
    expect(trimTrailingNul('\0\0')).toBe('');
  });

  it('keeps the value after a long run of padding (40,000 spaces, then a letter)', () => {
    const parsed = parseInstance(makeInstance({ rows: 8, columns: 8, extra: { TextValue: `${' '.repeat(40_000)}A`, StudyDescription: 'Thyroid \0' } }));
    const text = parsed.dicomJson['0040A160']?.Value?.[0];
    expect(typeof text === 'string' ? text.length : -1).toBe(40_001);
    expect(parsed.attributes.StudyDescription).toBe('Thyroid');
  });

  it('reads DS values with and without a fraction, and drops a malformed one', () => {
    const parsed = parseInstance(makeInstance({ rows: 8, columns: 8, extra: { PixelSpacing: '0.5\\2.', SliceThickness: `${'1'.repeat(5000)}x` } }));
    expect(parsed.dicomJson['00280030']?.Value).toEqual([0.5, 2]);
    expect(parsed.dicomJson['00180050']?.Value ?? [null]).toEqual([null]); // no number to give: dropped
  });
});

describe('undefined length outside sequences and Pixel Data (PS3.5 7.1)', () => {
  it('refuses a UT with an undefined length as malformed (it swallowed the Pixel Data and was stored)', () => {
    const file = corrupt.breakLength(makeInstance({ rows: 8, columns: 8, extra: { TextValue: 'report text' } }), 'x0040a160', 0xffffffff);
    expect(() => parseInstance(file)).toThrow(expect.objectContaining({ reason: 'malformed' }));
  });

  it('still accepts undefined-length sequences and encapsulated Pixel Data', () => {
    const parsed = parseInstance(makeInstance({ rows: 16, columns: 16, frames: 2, transferSyntax: '1.2.840.10008.1.2.4.50', photometric: 'YBR_FULL', sequenceOfUltrasoundRegions: true }));
    expect(parsed.frames).toHaveLength(2);
  });
});
