/** The share page's two calls. The token and code go in headers, never in a URL (access logs, caches). */
export interface PublicShare {
  expiresAt: string;
  /** 'marked': the reader's key images; 'first-of-series': none marked, the first image of each series. */
  keyImages: 'marked' | 'first-of-series';
  images: { number: number }[];
  report: { kind: string; version: number; signedAt: string; tiradsCategory: string | null; findings: string; impression: string } | null;
}

export type ViewOutcome =
  | { kind: 'ok'; share: PublicShare }
  | { kind: 'code'; wrong: boolean }
  | { kind: 'locked' }
  | { kind: 'unavailable' }
  | { kind: 'error' };

function headers(token: string, code: string): Record<string, string> {
  return { Authorization: `Share ${token}`, ...(code !== '' ? { 'X-Share-Code': code } : {}) };
}

export async function loadShare(token: string, code: string): Promise<ViewOutcome> {
  let res: Response;
  try {
    res = await fetch('/api/share/view', { headers: headers(token, code), cache: 'no-store' });
  } catch {
    return { kind: 'error' };
  }
  if (res.ok) return { kind: 'ok', share: (await res.json()) as PublicShare };
  if (res.status === 401) return { kind: 'code', wrong: code !== '' };
  if (res.status === 429) return { kind: 'locked' };
  if (res.status === 404) return { kind: 'unavailable' };
  return { kind: 'error' };
}

/** A key image as an object URL, or the status that refused it (a revocation while the page is open). */
export async function loadImage(token: string, code: string, number: number): Promise<string | number> {
  const res = await fetch(`/api/share/images/${number}`, { headers: headers(token, code), cache: 'no-store' });
  if (!res.ok) return res.status;
  return URL.createObjectURL(await res.blob());
}
