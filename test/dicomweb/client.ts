/** Small DICOMweb client helpers for the system tests: authenticated GETs and a multipart/related parser. */

export type Credential = { kind: 'device'; key: string } | { kind: 'user'; token: string };

export function authHeader(credential: Credential): string {
  return credential.kind === 'device' ? `ApiKey ${credential.key}` : `Bearer ${credential.token}`;
}

export async function get(base: string, path: string, credential: Credential, accept?: string): Promise<Response> {
  return fetch(`${base}${path}`, { headers: { authorization: authHeader(credential), ...(accept ? { accept } : {}) } });
}

export async function signIn(viewerUrl: string, username: string, password: string): Promise<Credential> {
  const res = await fetch(`${viewerUrl}/api/auth/sign-in`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ username, password, client: 'api' }),
  });
  if (res.status !== 200) throw new Error(`sign-in of ${username} failed: ${res.status}`);
  const body = (await res.json()) as { accessToken: string };
  return { kind: 'user', token: body.accessToken };
}

export interface Part {
  headers: Record<string, string>;
  body: Buffer;
}

/** Parses a multipart/related body (RFC 2046 framing) into its parts. */
export function parseMultipart(contentType: string, body: Buffer): Part[] {
  const match = /boundary="?([^";]+)"?/i.exec(contentType);
  if (!match?.[1]) throw new Error(`no boundary in ${contentType}`);
  const delimiter = Buffer.from(`--${match[1]}`);
  const parts: Part[] = [];
  let position = body.indexOf(delimiter);
  while (position >= 0) {
    const afterDelimiter = position + delimiter.length;
    if (body.subarray(afterDelimiter, afterDelimiter + 2).toString() === '--') break;
    const headerEnd = body.indexOf('\r\n\r\n', afterDelimiter);
    const next = body.indexOf(Buffer.concat([Buffer.from('\r\n'), delimiter]), headerEnd);
    if (headerEnd < 0 || next < 0) throw new Error('truncated multipart body');
    const headers: Record<string, string> = {};
    for (const line of body.subarray(afterDelimiter + 2, headerEnd).toString().split('\r\n')) {
      const colon = line.indexOf(':');
      if (colon > 0) headers[line.slice(0, colon).trim().toLowerCase()] = line.slice(colon + 1).trim();
    }
    parts.push({ headers, body: body.subarray(headerEnd + 4, next) });
    position = next + 2;
  }
  return parts;
}

export type DicomJson = Record<string, { vr: string; Value?: unknown[]; BulkDataURI?: string }>;

export function value(item: DicomJson | undefined, tag: string): unknown {
  return item?.[tag]?.Value?.[0];
}
