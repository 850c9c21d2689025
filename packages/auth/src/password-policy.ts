import { AppError } from '@yunying/core';
import { MIN_PASSWORD_LENGTH } from './password';

/**
 * Password policy (#17 finding 6; ASVS L2 V2.1, 等保 8.1.4.1 a "口令具有复杂度要求"): at least 12 characters
 * (spaces allowed, no composition rules, ASVS 2.1.9), and not guessable: not built from a commonly used
 * password or keyboard walk with digits and punctuation around it, not mostly one repeated character or a
 * short repeated pattern, not the user name. The list is the common base words of leaked-password top lists
 * (English and Chinese pinyin ones); an offline breached-password corpus (k-anonymity HIBP or a local file)
 * is not wired in. Messages never repeat the password.
 */
const COMMON_BASES = [
  'password', 'passw0rd', 'p@ssword', 'p@ssw0rd', 'qwerty', 'qwertyuiop', 'asdfgh', 'asdfghjkl', 'zxcvbn', 'zxcvbnm',
  '1qaz2wsx', '1q2w3e4r', 'qazwsx', 'letmein', 'welcome', 'admin', 'administrator', 'root', 'login', 'master',
  'iloveyou', 'sunshine', 'princess', 'dragon', 'monkey', 'football', 'baseball', 'superman', 'batman', 'trustno1',
  'changeme', 'default', 'secret', 'abc', 'abcd', 'abcdef', 'abcdefg', 'test', 'guest', 'hello', 'shadow', 'michael',
  'woaini', 'woaini1314', 'aini', 'wodemima', 'mima', 'zhangwei', 'wangwei', 'qq', 'a', 'aa', 'yunying', 'hospital',
  'doctor', 'radiology', 'clinic', 'ultrasound', 'thyroid', 'dicom', 'pacs', 'archive', 'medical', 'health',
];
const COMMON = new Set(COMMON_BASES);

const LEET: Record<string, string> = { '@': 'a', '4': 'a', '0': 'o', '1': 'i', '3': 'e', '$': 's', '5': 's', '7': 't', '!': 'i' };

/**
 * What is left of a password without digits, punctuation and spaces (`Password2024!` -> `password`), and the
 * same with look-alike characters read as letters once the digits and symbols around it are cut
 * (`P@ssw0rd 2024` -> `password`).
 */
function cores(password: string): string[] {
  const lower = password.toLowerCase();
  const plain = lower.replace(/[\d\s\p{P}\p{S}]/gu, '');
  const trimmed = lower.replace(/^[\d\s\p{P}\p{S}]+|[\d\s\p{P}\p{S}]+$/gu, '');
  const leet = [...trimmed].map((c) => LEET[c] ?? c).join('').replace(/[\d\s\p{P}\p{S}]/gu, '');
  return [plain, leet];
}

/** The shortest unit that repeats to make the string (`abcabcabc` -> 3). */
function period(s: string): number {
  for (let p = 1; p <= s.length / 2; p += 1) {
    if (s.length % p === 0 && s.slice(0, p).repeat(s.length / p) === s) return p;
  }
  return s.length;
}

/** Why a password is refused, or null when it is acceptable. */
export function passwordProblem(password: string, username?: string): string | null {
  if (password.length < MIN_PASSWORD_LENGTH) return `at least ${MIN_PASSWORD_LENGTH} characters`;
  if (password.length > 1024) return 'at most 1024 characters';
  const lower = password.toLowerCase();
  if (new Set(lower).size < 5) return 'too few different characters';
  if (period(lower) <= 5) return 'a short repeated pattern';
  const [letters = '', leet = ''] = cores(password);
  if (COMMON.has(letters) || COMMON.has(leet) || (letters.length <= 3 && /\d{6,}/.test(password))) return 'a commonly used password';
  if (/^(?:0123456789|1234567890|9876543210)+/.test(password.replace(/\D/g, '')) && letters.length < 4) return 'a commonly used password';
  if (username !== undefined && username.length >= 3 && lower.includes(username.toLowerCase())) return 'contains the user name';
  return null;
}

export function assertPasswordAcceptable(password: string, username?: string): void {
  const problem = passwordProblem(password, username);
  if (problem !== null) throw new AppError('bad_request', `Password refused: ${problem}`);
}
