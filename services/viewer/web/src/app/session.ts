import { getJson, rememberAccessToken, request } from './api';
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

export async function signIn(username: string, password: string): Promise<void> {
  const res = await request('POST', '/api/auth/sign-in', { json: { username, password, client: 'browser' }, noRefresh: true });
  rememberAccessToken(str(obj(await res.json()).accessToken));
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
