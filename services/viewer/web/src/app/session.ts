import { ApiError, getJson, rememberAccessToken, request } from './api';
import { obj, str } from './json';

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

/** What a sign-in answered: signed in, or a one-time code is needed first. */
export type SignInOutcome = { kind: 'signed-in' } | ({ kind: 'code' } & CodeStep);

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
    rememberAccessToken(str(obj(await res.json()).accessToken));
    return { kind: 'signed-in' };
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
