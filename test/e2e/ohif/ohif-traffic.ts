import type { Page } from 'playwright-core';

/** One answered request of OHIF to Yunying, as the browser sent it (cross-origin, through CORS). */
export interface Exchange {
  /** Order of the answer among all recorded ones. */
  seq: number;
  method: string;
  url: URL;
  /** The bearer token sent, '' when none. */
  token: string;
  /** The OAuth grant_type of a token-endpoint request, '' otherwise. */
  grantType: string;
  status: number;
}

/**
 * Records what OHIF asks of Yunying (DICOMweb and the OIDC provider) in a page: the URL, the bearer token
 * it carried and the status it got. The browser's own view, so it shows what CORS let through.
 */
export class OhifTraffic {
  readonly exchanges: Exchange[] = [];

  constructor(page: Page, yunyingOrigin: string) {
    page.on('response', (response) => {
      const request = response.request();
      const url = new URL(request.url());
      if (url.origin !== yunyingOrigin || request.method() === 'OPTIONS') return;
      const authorization = request.headers().authorization ?? '';
      const grantType = url.pathname.endsWith('/oidc/token') ? (new URLSearchParams(request.postData() ?? '').get('grant_type') ?? '') : '';
      this.exchanges.push({
        seq: this.exchanges.length,
        method: request.method(),
        url,
        token: authorization.startsWith('Bearer ') ? authorization.slice(7) : '',
        grantType,
        status: response.status(),
      });
    });
  }

  /** Marks "now": exchanges answered after it are `since(mark)`. */
  mark(): number {
    return this.exchanges.length;
  }

  since(mark: number): Exchange[] {
    return this.exchanges.slice(mark);
  }

  dicomweb(from = 0): Exchange[] {
    return this.since(from).filter((e) => e.url.pathname.startsWith('/dicomweb/'));
  }

  /** Study-level QIDO-RS searches (the study list's queries). */
  studySearches(from = 0): Exchange[] {
    return this.dicomweb(from).filter((e) => e.url.pathname === '/dicomweb/studies');
  }
}

/** The claims of a JWT, unverified (the test reads what it was given; the server verifies). */
export function jwtClaims(token: string): Record<string, unknown> {
  const payload = token.split('.')[1] ?? '';
  return JSON.parse(Buffer.from(payload, 'base64url').toString('utf8')) as Record<string, unknown>;
}
