import { ApiError, getJson, rememberAccessToken, request, sendJson } from './api';
import { num, obj, str, strings } from './json';
import { t } from './i18n';

export type Role = 'clinic' | 'radiologist' | 'auditor' | 'admin';

export interface Me {
  username: string;
  displayName: string | null;
  role: Role;
  clinicId: string | null;
}

function toRole(value: unknown): Role | null {
  return value === 'clinic' || value === 'radiologist' || value === 'auditor' || value === 'admin' ? value : null;
}

/** The signed-in user, or null (GET /api/auth/me answers 401 after one refresh attempt). */
export async function currentUser(): Promise<Me | null> {
  try {
    const body = obj(await getJson('/api/auth/me'));
    const role = toRole(body.role);
    const username = str(body.username);
    if (!role || !username) return null;
    return { username, role, displayName: str(body.displayName), clinicId: str(body.clinicId) };
  } catch {
    return null;
  }
}

/** The code step of a sign-in (#17): the server's challenge, and for a first sign-in the key to set up. */
export interface CodeStep {
  challenge: string;
  enrolment: { secret: string; uri: string } | null;
}

/**
 * What a sign-in answered: signed in (with what the user must be told once: the recovery codes of a generator set
 * up just now, or how many are left after one was used), or a one-time code is needed first.
 */
export type SignInOutcome = { kind: 'signed-in'; recoveryCodes: string[] | null; recoveryCodesLeft: number | null } | ({ kind: 'code' } & CodeStep);

/** A 401 that asks for a code (its challenge and, when enrolling, the key), else null. */
export function codeStepOf(error: unknown): CodeStep | null {
  if (!(error instanceof ApiError) || error.status !== 401 || error.problem.totpRequired !== true) return null;
  const challenge = str(error.problem.challenge);
  if (challenge === null) return null;
  const secret = str(error.problem.secret);
  const uri = str(error.problem.uri);
  return { challenge, enrolment: secret !== null && uri !== null ? { secret, uri } : null };
}

async function signInWith(json: Record<string, unknown>): Promise<SignInOutcome> {
  try {
    const res = await request('POST', '/api/auth/sign-in', { json: { ...json, client: 'browser' }, noRefresh: true });
    const body = obj(await res.json());
    rememberAccessToken(str(body.accessToken));
    return { kind: 'signed-in', recoveryCodes: Array.isArray(body.recoveryCodes) ? strings(body.recoveryCodes) : null, recoveryCodesLeft: num(body.recoveryCodesLeft) };
  } catch (error) {
    // The password was right and a code is asked for: the next step, not a failure (a wrong code still throws).
    const step = codeStepOf(error);
    if (step !== null && json.totp === undefined) return { kind: 'code', ...step };
    throw error;
  }
}

export function signIn(username: string, password: string): Promise<SignInOutcome> {
  return signInWith({ username, password });
}

/** The second step: the challenge of the first and the current code (the password is not sent again). */
export function signInWithCode(challenge: string, code: string): Promise<SignInOutcome> {
  return signInWith({ challenge, totp: code });
}

/** A new set of recovery codes for the signed-in user (the current password required); the old set stops working. */
export async function newRecoveryCodes(currentPassword: string): Promise<string[]> {
  return strings(obj(await sendJson('POST', '/api/auth/recovery-codes', { currentPassword })).recoveryCodes);
}

export async function signOut(): Promise<void> {
  rememberAccessToken(null);
  await request('POST', '/api/auth/sign-out', { json: {}, noRefresh: true }).catch(() => undefined);
}

/** Where each role starts. */
export function homeOf(role: Role): string {
  switch (role) {
    case 'radiologist':
      return '/queue';
    case 'clinic':
      return '/clinic';
    case 'auditor':
    case 'admin':
      return '/audit';
  }
}

/** The role as the reader's language names it (the API's role codes stay as they are). */
export function roleLabel(role: Role): string {
  return { radiologist: t('radiologist', '放射科医师'), clinic: t('clinic', '机构'), auditor: t('auditor', '审计员'), admin: t('admin', '管理员') }[role];
}
