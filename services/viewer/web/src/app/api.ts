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

/** How long a prefetched answer waits to be taken before it is dropped (and asked again if wanted). */
const PREFETCH_KEEP_MS = 10_000;
interface Prefetched {
  at: number;
  response: Promise<Response | null>;
  /** The answer's JSON for the early reads that follow from it (prefetchedJson); null if not asked for, or not 2xx. */
  json: Promise<unknown> | null;
}
const prefetched = new Map<string, Prefetched>();

export interface PrefetchRequest {
  path: string;
  accept: string;
  /** Also read the answer's JSON here (a copy), for the next early reads that depend on it. */
  peek?: boolean;
}

function prefetchKey(path: string, accept: string): string {
  return `${accept} ${path}`;
}

/**
 * Starts GET requests a page is about to make, while its code is still loading and evaluating (the viewer's
 * chunk takes a few hundred milliseconds to evaluate on a slow phone or a busy machine; the study's first
 * requests need none of it). `request` takes each answer once, for the same path and Accept header; an answer not
 * taken within PREFETCH_KEEP_MS is dropped. Only for reads the signed-in user is about to make anyway: each is
 * a real request, audited as such.
 */
export function prefetch(requests: readonly PrefetchRequest[]): void {
  const now = Date.now();
  for (const { path, accept, peek } of requests) {
    const response = fetch(path, { credentials: 'same-origin', headers: { 'accept-language': acceptLanguage(), accept } }).catch(() => null);
    // The copy is made as the answer arrives, before the page that takes it can have read its body.
    const json = peek ? response.then((res) => (res?.ok ? (res.clone().json() as Promise<unknown>) : null)).catch(() => null) : null;
    const key = prefetchKey(path, accept);
    const entry = { at: now, response, json };
    prefetched.set(key, entry);
    // An answer nobody takes (the reader left, the role hint was wrong) is let go, body and all.
    setTimeout(() => {
      if (prefetched.get(key) !== entry) return;
      prefetched.delete(key);
      void response.then((res) => res?.body?.cancel()).catch(() => undefined);
    }, PREFETCH_KEEP_MS);
  }
}

/** The JSON of a prefetched answer started with `peek`, without taking it; null when there is none or it failed. */
export function prefetchedJson(path: string, accept: string): Promise<unknown> {
  return prefetched.get(prefetchKey(path, accept))?.json ?? Promise.resolve(null);
}

/** The prefetched answer of this GET, once; null when there is none (or it failed on the network). */
async function takePrefetched(method: string, path: string, options: RequestOptions): Promise<Response | null> {
  const accept = options.headers?.accept;
  if (method !== 'GET' || accept === undefined || options.body !== undefined) return null;
  const key = prefetchKey(path, accept);
  const entry = prefetched.get(key);
  if (!entry) return null;
  prefetched.delete(key);
  if (Date.now() - entry.at > PREFETCH_KEEP_MS) return null;
  const response = await entry.response;
  if (options.signal?.aborted) throw new DOMException('The request was cancelled', 'AbortError');
  return response;
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
  let res = (await takePrefetched(method, path, options)) ?? (await send());
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
