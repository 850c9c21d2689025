import { createRequire } from 'node:module';
import type * as LanguageCommon from '@zxcvbn-ts/language-common';
import { AppError } from '@yunying/core';
import { MIN_PASSWORD_LENGTH } from './password';

/**
 * Password policy (#17 finding 6; ASVS L2 V2.1.7, 2.1.9; 等保 8.1.4.1 a "口令具有复杂度要求"): at least 12
 * characters (spaces allowed, no composition rules, ASVS 2.1.9), and not guessable:
 *
 * - not a password from a breached-password frequency list, compared case-insensitively, whole or with the
 *   digits, punctuation and spaces around its letters taken away (`Sunshine2024!` -> `sunshine`). The list is
 *   the 49k "passwords-common" dictionary of @zxcvbn-ts/language-common (MIT, built from leaked-password
 *   corpora; bundled, so no password leaves the process), plus Chinese pinyin favourites it lacks;
 * - not mostly one repeated character or a short repeated pattern, not a digit run;
 * - not built on a context word: the user name, the user's clinic (code and name) or the product's name.
 *
 * A k-anonymity breached-password service (HIBP) is not wired in: the archive runs without internet access.
 * Messages never repeat the password.
 */

/** Favourites of Chinese password lists and words of this deployment that the English-centred list lacks. */
const EXTRA_COMMON = [
  'woaini', 'woaini1314', 'aini', 'wodemima', 'mima', 'zhangwei', 'wangwei', 'liwei', 'wangfang', 'zhongguo', 'beijing', 'shanghai',
  'qq', 'a', 'aa', 'abc', 'abcd', 'p@ssword', 'p@ssw0rd', 'hospital', 'doctor', 'radiology', 'clinic', 'ultrasound', 'thyroid',
  'dicom', 'pacs', 'archive', 'medical', 'health', 'changeme', 'admin', 'administrator',
];

const LEET: Record<string, string> = { '@': 'a', '4': 'a', '0': 'o', '1': 'i', '3': 'e', '$': 's', '5': 's', '7': 't', '!': 'i' };
const NOT_LETTERS = /[\d\s\p{P}\p{S}]/gu;

let commonSet: Set<string> | undefined;

/**
 * The list as a set of lower-case entries and their letter cores (4+ letters), built on first use (about
 * 50 ms). The package itself is loaded then too (#14): its dictionaries are ~2.4 MB of heap that every
 * process importing @yunying/auth carried, the ingest role included, which never sets a password.
 */
function common(): Set<string> {
  if (commonSet === undefined) {
    const { dictionary } = createRequire(__filename)('@zxcvbn-ts/language-common') as typeof LanguageCommon;
    commonSet = new Set();
    for (const entry of [...dictionary['passwords-common'], ...EXTRA_COMMON]) {
      const lower = entry.toLowerCase();
      commonSet.add(lower);
      const letters = lower.replace(NOT_LETTERS, '');
      if (letters.length >= 4) commonSet.add(letters);
    }
  }
  return commonSet;
}

/**
 * What is left of a password without digits, punctuation and spaces (`Password2024!` -> `password`), and the
 * same with look-alike characters read as letters once the digits and symbols around it are cut
 * (`P@ssw0rd 2024` -> `password`).
 */
function cores(password: string): string[] {
  const lower = password.toLowerCase();
  const plain = lower.replace(NOT_LETTERS, '');
  const trimmed = lower.replace(/^[\d\s\p{P}\p{S}]+|[\d\s\p{P}\p{S}]+$/gu, '');
  const leet = [...trimmed].map((c) => LEET[c] ?? c).join('').replace(NOT_LETTERS, '');
  return [plain, leet];
}

/** The shortest unit that repeats to make the string (`abcabcabc` -> 3). */
function period(s: string): number {
  for (let p = 1; p <= s.length / 2; p += 1) {
    if (s.length % p === 0 && s.slice(0, p).repeat(s.length / p) === s) return p;
  }
  return s.length;
}

/** Who the password is for: words an attacker who knows the account would try first. */
export interface PasswordContext {
  username?: string;
  /** The clinic's code and name, for a clinic user (or any other words of the account). */
  words?: readonly string[];
}

/** Context words: the given ones and the words inside them (`Hangzhou First Hospital` -> `hangzhou`, ...), and the product's name. */
function contextWords(context: PasswordContext): string[] {
  const words = new Set(['yunying', '云影']);
  for (const raw of context.words ?? []) {
    const lower = raw.toLowerCase().trim();
    if (lower.length === 0) continue;
    words.add(lower);
    for (const part of lower.split(/[\s\p{P}\p{S}]+/u)) words.add(part);
  }
  // Short words (a clinic code "hz", a word like "of") would refuse passwords by accident; CJK names are short but specific.
  return [...words].filter((w) => w.length >= 4 || (/\p{Script=Han}/u.test(w) && w.length >= 2));
}

export type PasswordProblem =
  | { code: 'too-short' | 'too-long' | 'too-few-characters' | 'repeated-pattern' | 'common-password' | 'contains-user-name' | 'contains-context-word'; message: string };

/** Why a password is refused, or null when it is acceptable. */
export function checkPassword(password: string, context: PasswordContext = {}): PasswordProblem | null {
  if (password.length < MIN_PASSWORD_LENGTH) return { code: 'too-short', message: `at least ${MIN_PASSWORD_LENGTH} characters` };
  if (password.length > 1024) return { code: 'too-long', message: 'at most 1024 characters' };
  const lower = password.toLowerCase();
  if (new Set(lower).size < 5) return { code: 'too-few-characters', message: 'too few different characters' };
  if (period(lower) <= 5) return { code: 'repeated-pattern', message: 'a short repeated pattern' };
  const list = common();
  const [letters = '', leet = ''] = cores(password);
  const commonMessage = 'a commonly used or breached password (or one with only digits and symbols added)';
  if (list.has(lower) || list.has(letters) || list.has(leet) || (letters.length <= 3 && /\d{6,}/.test(password))) return { code: 'common-password', message: commonMessage };
  if (/^(?:0123456789|1234567890|9876543210)+/.test(password.replace(/\D/g, '')) && letters.length < 4) return { code: 'common-password', message: commonMessage };
  const username = context.username?.toLowerCase();
  if (username !== undefined && username.length >= 3 && lower.includes(username)) return { code: 'contains-user-name', message: 'contains the user name' };
  const word = contextWords(context).find((w) => lower.includes(w) || leet.includes(w));
  if (word !== undefined) return { code: 'contains-context-word', message: 'contains the name of the clinic or of this system' };
  return null;
}

/** Why a password is refused (the message), or null when it is acceptable. */
export function passwordProblem(password: string, username?: string): string | null {
  return checkPassword(password, username !== undefined ? { username } : {})?.message ?? null;
}

/** Throws a 400 problem+json (`passwordProblem`: the rule's code) when the password is refused. */
export function assertPasswordAcceptable(password: string, context: PasswordContext | string = {}): void {
  const problem = checkPassword(password, typeof context === 'string' ? { username: context } : context);
  if (problem !== null) throw new AppError('bad_request', `Password refused: ${problem.message}`, { details: { passwordProblem: problem.code } });
}
