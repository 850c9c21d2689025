import { createHash } from 'node:crypto';
import type { RunningSystem } from '../support/system';

export const sha256 = (bytes: Uint8Array): string => createHash('sha256').update(bytes).digest('hex');

/** An access token of a seeded demo user (signed in at the viewer, which serves /api/auth). */
export async function signIn(system: RunningSystem, username: string): Promise<string> {
  const user = system.credentials.users.find((u) => u.username === username);
  if (!user) throw new Error(`no demo user ${username}`);
  const res = await fetch(`${system.urls.viewer}/api/auth/sign-in`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ username, password: user.password, client: 'api' }),
  });
  if (res.status !== 200) throw new Error(`sign-in of ${username} answered ${res.status}`);
  return ((await res.json()) as { accessToken: string }).accessToken;
}

export interface ApiResult<T> {
  status: number;
  body: T;
}

/** A JSON call to the ingest role with a bearer token (or an API key when it starts with yy_). */
export async function api<T = Record<string, unknown>>(system: RunningSystem, method: string, path: string, credential: string, body?: unknown): Promise<ApiResult<T>> {
  const res = await fetch(`${system.urls.ingest}${path}`, {
    method,
    headers: {
      authorization: credential.startsWith('yy_') ? `ApiKey ${credential}` : `Bearer ${credential}`,
      ...(body === undefined ? {} : { 'content-type': 'application/json' }),
    },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  const text = await res.text();
  return { status: res.status, body: (text ? JSON.parse(text) : {}) as T };
}

export interface ScrubSummary {
  verified: number;
  ok: number;
  unreachable: number;
  repaired: number;
  findings: { sha256: string | null; target: string; state: 'missing' | 'corrupt' | 'tampered' | 'unprotected'; problem: string; repaired: boolean | null }[];
}
