import { canonicalJson } from './hash';
import { toCsv } from './csv';

describe('toCsv', () => {
  it('quotes per RFC 4180 and neutralises spreadsheet formulas', () => {
    const csv = toCsv(
      [
        { header: 'a', value: (r: { a: string; n: number }) => r.a },
        { header: 'n', value: (r: { a: string; n: number }) => r.n },
      ],
      [
        { a: 'plain', n: 1 },
        { a: 'with, comma and "quote"', n: -2 },
        { a: '=HYPERLINK("x")', n: 3 },
      ],
    );
    expect(csv).toBe('a,n\r\nplain,1\r\n"with, comma and ""quote""",-2\r\n"\'=HYPERLINK(""x"")",3\r\n');
  });
});

describe('canonicalJson', () => {
  it('serializes objects with sorted keys at every depth', () => {
    expect(canonicalJson({ b: 1, a: { d: [1, { z: null, y: 'x' }], c: true } })).toBe('{"a":{"c":true,"d":[1,{"y":"x","z":null}]},"b":1}');
  });
});
