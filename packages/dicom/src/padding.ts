/**
 * Padding removal for DICOM text values (PS3.5 6.2: values are padded to even length with a trailing
 * space, UI values with a trailing NUL), in one backward scan.
 *
 * Why not `value.replace(/[\0 ]+$/, '')`: an end-anchored regex is tried from every start position, so a
 * value of n spaces followed by one letter costs O(n²): a UT of 40,000 spaces and a letter took 9 s and
 * froze the whole process (#17 finding 9).
 */

const NUL = 0;
const SPACE = 0x20;

/** `value` without its trailing NUL and space characters. */
export function trimTrailingPadding(value: string): string {
  let end = value.length;
  while (end > 0) {
    const code = value.charCodeAt(end - 1);
    if (code !== NUL && code !== SPACE) break;
    end -= 1;
  }
  return end === value.length ? value : value.slice(0, end);
}

/** `value` without its trailing NUL characters (spaces kept). */
export function trimTrailingNul(value: string): string {
  let end = value.length;
  while (end > 0 && value.charCodeAt(end - 1) === NUL) end -= 1;
  return end === value.length ? value : value.slice(0, end);
}
