import { corrupt, makeInstance } from '@yunying/dicom/testing';
import { budgetMs, runParserCases, type ParserCase } from './parser.harness';

/**
 * #17 finding 9: values whose shape made the parser's end-anchored regexes backtrack in O(n²). Each
 * case is a valid instance; it must be parsed within the fuzzer's work budget (a floor plus a
 * generous allowance per KiB, see budgetMs), so the bound is on how work grows with the input, not a
 * tight timing. Before the fix the first case alone took minutes (40,000 spaces took 9 s).
 */
describe('parser work is linear in the input (pathological values)', () => {
  const cases: ParserCase[] = [
    { name: 'UT of 200,000 spaces and a letter', bytes: makeInstance({ seed: 'slow/ut', rows: 8, columns: 8, extra: { TextValue: `${' '.repeat(200_000)}A` } }) },
    { name: 'LT of 60,000 NULs and a letter', bytes: makeInstance({ seed: 'slow/lt', rows: 8, columns: 8, extra: { ImageComments: `${'\0'.repeat(60_000)}A` } }) },
    { name: 'LO of 60,000 NULs and a letter', bytes: makeInstance({ seed: 'slow/lo', rows: 8, columns: 8, extra: { StudyDescription: `${'\0'.repeat(60_000)}A` } }) },
    { name: 'DS of 60,000 digits and a letter', bytes: makeInstance({ seed: 'slow/ds', rows: 8, columns: 8, extra: { PixelSpacing: `${'1'.repeat(60_000)}x` } }) },
  ];

  it('parses each within budgetMs(size): no hang, no slow case', async () => {
    const results = await runParserCases(cases);
    for (const [i, result] of results.entries()) {
      const size = cases[i]?.bytes.length ?? 0;
      expect({ name: result.seed, kind: result.kind, withinBudget: result.ms <= budgetMs(size) }).toEqual({ name: result.seed, kind: 'accepted', withinBudget: true });
    }
  }, 120_000);

  it('refuses a UT with an undefined length instead of storing the rest of the file as its value (#17 finding 11)', async () => {
    const valid = makeInstance({ seed: 'slow/ut-undefined', rows: 8, columns: 8, extra: { TextValue: `${' '.repeat(40_000)}A` } });
    const [result] = await runParserCases([{ name: 'UT with undefined length', bytes: corrupt.breakLength(valid, 'x0040a160', 0xffffffff) }]);
    expect(result?.kind).toBe('rejected');
    expect(result?.detail).toBe('malformed');
  }, 60_000);
});
