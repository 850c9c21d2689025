import { obj, str } from './json';
import { acceptLanguage, t } from './i18n';

/** An API answer that was not 2xx, with the server's safe message (problem+json `detail`/`title`). */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    message: string,
    /** The problem+json body's other members (e.g. a sign-in's `totpRequired` and `challenge`). */
    readonly problem: Record<string, unknown> = {},
  ) {
    super(message);
    this.name = 'ApiError';
  }
}

export interface RequestOptions {
  json?: unknown;
  body?: BodyInit;
  headers?: Record<string, string>;
  signal?: AbortSignal;
  /** For sign-in/refresh themselves: a 401 is an answer, not a reason to refresh. */
  noRefresh?: boolean;
}

let refreshing: Promise<boolean> | null = null;
let onSessionLost: () => void = () => undefined;
let lastAccessToken: string | null = null;

/** Called once by the app: where to go when the session cannot be refreshed. */
export function setSessionLostHandler(handler: () => void): void {
  onSessionLost = handler;
}

/**
 * Rotates the refresh cookie. Single flight: every caller that sees a 401 while a refresh is running
 * waits for that one, because two refreshes with the same token look like token theft to the server
 * and end the session (packages/auth, refresh token reuse detection).
 */
export function refreshSession(): Promise<boolean> {
  refreshing ??= fetch('/api/auth/refresh', { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}', credentials: 'same-origin' })
    .then(async (res) => {
      if (!res.ok) return false;
      lastAccessToken = str(obj(await res.json()).accessToken);
      return true;
    })
    .catch(() => false)
    .finally(() => {
      refreshing = null;
    });
  return refreshing;
}

/**
 * A bearer token for calls to another origin (the ingest service's STOW-RS), where the httpOnly cookie
 * cannot be used. Taken from the sign-in or refresh answer and kept in memory only.
 */
export async function accessTokenForOtherOrigin(): Promise<string | null> {
  if (lastAccessToken !== null) return lastAccessToken;
  return (await refreshSession()) ? lastAccessToken : null;
}

/** A new access token for another origin, after that origin answered 401 (the token had expired). */
export async function freshAccessTokenForOtherOrigin(): Promise<string | null> {
  return (await refreshSession()) ? lastAccessToken : null;
}

export function rememberAccessToken(token: string | null): void {
  lastAccessToken = token;
}

export async function request(method: string, path: string, options: RequestOptions = {}): Promise<Response> {
  const send = (): Promise<Response> =>
    fetch(path, {
      method,
      credentials: 'same-origin',
      // The server's messages (problem+json detail) in the reader's chosen language, not the browser's.
      headers: { 'accept-language': acceptLanguage(), ...(options.json !== undefined ? { 'content-type': 'application/json' } : {}), ...options.headers },
      body: options.json !== undefined ? JSON.stringify(options.json) : options.body,
      signal: options.signal ?? null,
    });
  let res = await send();
  if (res.status === 401 && !options.noRefresh) {
    if (await refreshSession()) res = await send();
    if (res.status === 401) {
      onSessionLost();
      throw new ApiError(401, t('Your session has ended; please sign in again.', '会话已结束，请重新登录。'));
    }
  }
  if (!res.ok) {
    const problem = await problemOf(res);
    throw new ApiError(res.status, str(problem.detail) ?? str(problem.title) ?? `Request failed (${res.status})`, problem);
  }
  return res;
}

export async function getJson(path: string, signal?: AbortSignal): Promise<unknown> {
  const res = await request('GET', path, { headers: { accept: 'application/json' }, ...(signal ? { signal } : {}) });
  return res.json() as Promise<unknown>;
}

export async function sendJson(method: 'POST' | 'PUT', path: string, json: unknown = {}): Promise<unknown> {
  const res = await request(method, path, { json, headers: { accept: 'application/json' } });
  const text = await res.text();
  return text ? (JSON.parse(text) as unknown) : null;
}

export async function problemOf(res: Response): Promise<Record<string, unknown>> {
  try {
    return obj(await res.json());
  } catch {
    return {};
  }
}

export function errorText(error: unknown): string {
  if (error instanceof ApiError) return error.message;
  if (error instanceof DOMException && error.name === 'AbortError') return t('Cancelled', '已取消');
  return error instanceof Error ? error.message : t('Something went wrong', '出错了');
}
