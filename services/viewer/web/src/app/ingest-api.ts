import { accessTokenForOtherOrigin, ApiError, freshAccessTokenForOtherOrigin, getJson, problemOf } from './api';
import { obj, str } from './json';

let base: Promise<string> | null = null;

/** The ingest service's root (uploads, DICOM settings): the viewer's /app-config.json says where, once per page load. */
export function ingestBase(signal?: AbortSignal): Promise<string> {
  base ??= getJson('/app-config.json', signal)
    .then((config) => (str(obj(obj(config).ingest).url) ?? location.origin).replace(/\/+$/, ''))
    .catch((error: unknown) => {
      base = null;
      throw error;
    });
  return base;
}

/**
 * A JSON call to the ingest service, usually another origin: there the httpOnly cookie is not sent, so the call
 * carries the access token as a Bearer (kept in memory only) and, when it has expired, a fresh one once.
 * Refusals come back as ApiError with the server's problem+json message, as from the viewer's own API.
 */
export async function ingestJson(method: 'GET' | 'PUT' | 'POST' | 'DELETE', path: string, json?: unknown, signal?: AbortSignal): Promise<unknown> {
  const url = `${await ingestBase(signal)}${path}`;
  const send = (token: string | null): Promise<Response> =>
    fetch(url, {
      method,
      credentials: 'same-origin',
      headers: { accept: 'application/json', ...(json !== undefined ? { 'content-type': 'application/json' } : {}), ...(token !== null ? { authorization: `Bearer ${token}` } : {}) },
      body: json !== undefined ? JSON.stringify(json) : null,
      signal: signal ?? null,
    });
  let res = await send(await accessTokenForOtherOrigin());
  if (res.status === 401) res = await send(await freshAccessTokenForOtherOrigin());
  if (!res.ok) {
    const problem = await problemOf(res);
    throw new ApiError(res.status, str(problem.detail) ?? str(problem.title) ?? `Request failed (${res.status})`, problem);
  }
  const text = await res.text();
  return text ? (JSON.parse(text) as unknown) : null;
}
