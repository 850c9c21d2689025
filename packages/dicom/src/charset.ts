/**
 * Specific Character Set (0008,0005) decoding, PS3.5 section 6.1 and PS3.3 C.12.1.1.2.
 *
 * Supported: default repertoire, ISO_IR 100/101/109/110/144/127/126/138/148/203/166/13, ISO_IR 192
 * (UTF-8), GB18030, GBK, and the ISO 2022 code extensions with escape sequences for Latin, Japanese
 * (IR 13, IR 87), Korean (IR 149) and Simplified Chinese (IR 58). JIS X 0212 (IR 159) is not decoded
 * (rendered as U+FFFD). Node's full ICU provides the decoders.
 *
 * Values are decoded before they are split on '\' or '=', because in GB18030/GBK the bytes 0x5C and
 * 0x5E can be the second byte of a two-byte character.
 */

import { TextDecoder } from 'node:util';

const singleByteLabels: Readonly<Record<string, string>> = {
  ISO_IR_6: 'latin1',
  ISO_IR_100: 'latin1',
  ISO_IR_101: 'iso-8859-2',
  ISO_IR_109: 'iso-8859-3',
  ISO_IR_110: 'iso-8859-4',
  ISO_IR_144: 'iso-8859-5',
  ISO_IR_127: 'iso-8859-6',
  ISO_IR_126: 'iso-8859-7',
  ISO_IR_138: 'iso-8859-8',
  ISO_IR_148: 'iso-8859-9',
  ISO_IR_203: 'iso-8859-15',
  ISO_IR_166: 'windows-874',
  ISO_IR_13: 'shift_jis',
  ISO_IR_192: 'utf-8',
  GB18030: 'gb18030',
  GBK: 'gbk',
};

/** G1 escape sequences (ESC - x) of the single-byte ISO 2022 extensions, PS3.3 Table C.12-3. */
const g1Escapes: Readonly<Record<string, string>> = {
  '-A': 'latin1',
  '-B': 'iso-8859-2',
  '-C': 'iso-8859-3',
  '-D': 'iso-8859-4',
  '-L': 'iso-8859-5',
  '-G': 'iso-8859-6',
  '-F': 'iso-8859-7',
  '-H': 'iso-8859-8',
  '-M': 'iso-8859-9',
  '-b': 'iso-8859-15',
  '-T': 'windows-874',
  ')I': 'shift_jis',
  '$)C': 'euc-kr',
  '$)A': 'gbk',
};

const decoders = new Map<string, TextDecoder>();
function decoderFor(label: string): TextDecoder {
  let decoder = decoders.get(label);
  if (decoder === undefined) {
    decoder = new TextDecoder(label);
    decoders.set(label, decoder);
  }
  return decoder;
}

function decodeWith(label: string, bytes: Uint8Array): string {
  // Buffer's latin1 is true ISO 8859-1; WHATWG's "latin1" label is windows-1252.
  if (label === 'latin1') return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('latin1');
  return decoderFor(label).decode(bytes);
}

const ESC = 0x1b;

export interface CharsetDecoder {
  /** The defined terms as found in the dataset (empty array = default repertoire). */
  readonly terms: readonly string[];
  decode(bytes: Uint8Array): string;
}

function normaliseTerm(term: string): string {
  return term.trim().replace(/ /g, '_').replace(/^ISO_2022_IR_/, 'ISO_IR_').toUpperCase();
}

/**
 * A decoder for a Specific Character Set value. Unknown terms fall back to Latin-1 rather than
 * failing: a wrong glyph is better than refusing a study, and the raw value is preserved in the file.
 */
export function charsetDecoder(specificCharacterSet: string | undefined): CharsetDecoder {
  const terms = (specificCharacterSet ?? '').split('\\').map((t) => t.trim());
  const usesEscapes = terms.some((t) => t.startsWith('ISO 2022'));
  const first = terms[0] ?? '';
  const baseLabel = first === '' ? 'latin1' : (singleByteLabels[normaliseTerm(first)] ?? 'latin1');
  if (!usesEscapes) {
    return { terms, decode: (bytes) => decodeWith(baseLabel, bytes) };
  }
  return { terms, decode: (bytes) => decodeIso2022(bytes, baseLabel) };
}

/** Splits at escape sequences and decodes each run with the character set it designates. */
function decodeIso2022(bytes: Uint8Array, baseLabel: string): string {
  if (!bytes.includes(ESC)) return decodeWith(baseLabel, bytes);
  let out = '';
  let label = baseLabel;
  let start = 0;
  let prefix: Uint8Array | null = null;
  const flush = (end: number): void => {
    if (end <= start) return;
    const run = bytes.subarray(start, end);
    if (prefix !== null) {
      const withEscape = new Uint8Array(prefix.length + run.length);
      withEscape.set(prefix, 0);
      withEscape.set(run, prefix.length);
      out += decoderFor('iso-2022-jp').decode(withEscape);
    } else {
      out += decodeWith(label, run);
    }
  };
  let i = 0;
  while (i < bytes.length) {
    if (bytes[i] !== ESC) {
      i += 1;
      continue;
    }
    flush(i);
    // Escape sequences are ESC + 2 or 3 intermediate/final bytes.
    const two = String.fromCharCode(bytes[i + 1] ?? 0, bytes[i + 2] ?? 0);
    const three = two + String.fromCharCode(bytes[i + 3] ?? 0);
    if (two === '$B' || two === '$@' || two === '(J' || two === '(B') {
      const isJis = two === '$B' || two === '$@';
      prefix = isJis ? bytes.subarray(i, i + 3) : null;
      label = baseLabel;
      i += 3;
    } else if (three === '$)C' || three === '$)A' || three === '$(D') {
      prefix = null;
      label = g1Escapes[three] ?? 'latin1';
      i += 4;
    } else {
      prefix = null;
      label = g1Escapes[two] ?? baseLabel;
      i += 3;
    }
    start = i;
  }
  flush(bytes.length);
  return out;
}
