import { AuthRefusedError, TransientError, asTransient } from './archive.errors';

/**
 * Which of these SOP Instance UIDs does the archive already hold for this clinic? QIDO-RS (PS3.18 10.6)
 * on the viewer service: GET /dicomweb/instances?SOPInstanceUID=a,b,c (a UID list, PS3.4 C.2.2.2.2),
 * answered from the clinic's own instances only.
 *
 * QIDO returns no checksum, so this is a check by UID: an instance with the same UID but other bytes (a
 * corrected re-export) counts as present. `yunying upload --check none` sends everything instead and lets
 * the archive tell ALREADY_STORED from NEW_VERSION.
 */
export interface QidoClientOptions {
  viewerUrl: string;
  apiKey: string;
  timeoutMs: number;
  userAgent: string;
}

/** UIDs per request: 64 characters each keeps the URL well under common 8 KiB limits. */
const CHUNK = 50;

export class QidoClient {
  constructor(private readonly options: QidoClientOptions) {}

  async existing(uids: readonly string[]): Promise<Set<string>> {
    const found = new Set<string>();
    for (let at = 0; at < uids.length; at += CHUNK) {
      const chunk = uids.slice(at, at + CHUNK);
      const url = new URL(`${this.options.viewerUrl.replace(/\/+$/, '')}/dicomweb/instances`);
      url.searchParams.set('SOPInstanceUID', chunk.join(','));
      url.searchParams.set('includefield', '00080018');
      url.searchParams.set('limit', String(CHUNK * 4));
      let res: Response;
      try {
        res = await fetch(url, {
          headers: { accept: 'application/dicom+json', authorization: `ApiKey ${this.options.apiKey}`, 'user-agent': this.options.userAgent },
          signal: AbortSignal.timeout(this.options.timeoutMs),
        });
      } catch (error) {
        const cause = error instanceof Error && 'cause' in error ? error.cause : error;
        const transient = asTransient(cause);
        throw transient instanceof TransientError ? transient : new TransientError(`QIDO failed: ${error instanceof Error ? error.message : String(error)}`);
      }
      if (res.status === 401 || res.status === 403) throw new AuthRefusedError(`the archive refused the API key for QIDO (${res.status})`);
      if (res.status === 204) continue;
      if (!res.ok) throw new TransientError(`QIDO answered ${res.status}`);
      const body: unknown = await res.json();
      if (!Array.isArray(body)) throw new TransientError('QIDO answer is not a JSON array');
      for (const entry of body as unknown[]) {
        if (typeof entry !== 'object' || entry === null) continue;
        const attr = (entry as Record<string, { Value?: unknown[] }>)['00080018'];
        const uid = attr?.Value?.[0];
        if (typeof uid === 'string') found.add(uid);
      }
    }
    return found;
  }
}
