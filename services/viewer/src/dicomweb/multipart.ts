import { once } from 'node:events';
import { randomBytes } from 'node:crypto';
import type { Readable } from 'node:stream';
import type { Response } from 'express';

/** Writes a stream into the response, honouring back-pressure; ends the response. */
export async function sendStream(res: Response, body: Readable): Promise<void> {
  for await (const chunk of body) {
    if (res.destroyed) throw new Error('client went away');
    if (!res.write(chunk as Uint8Array)) await once(res, 'drain');
  }
  res.end();
}

/**
 * A multipart/related response body (RFC 2387, PS3.18 8.7.3.2) written part by part, so instances
 * stream from storage without being held in memory. Headers are sent with the first part.
 */
export class MultipartWriter {
  readonly boundary = `yunying-${randomBytes(12).toString('hex')}`;
  private started = false;

  constructor(
    private readonly res: Response,
    /** The `type` parameter of the body: the media type of the root part. */
    private readonly type: string,
    private readonly extraParams: Record<string, string> = {},
  ) {}

  private start(): void {
    if (this.started) return;
    this.started = true;
    const params = Object.entries(this.extraParams).map(([k, v]) => `; ${k}=${v}`).join('');
    this.res.status(200);
    this.res.setHeader('Content-Type', `multipart/related; type="${this.type}"${params}; boundary=${this.boundary}`);
  }

  private async write(chunk: Uint8Array | string): Promise<void> {
    if (this.res.destroyed) throw new Error('client went away');
    if (!this.res.write(chunk)) await once(this.res, 'drain');
  }

  private async head(headers: Record<string, string>): Promise<void> {
    this.start();
    const lines = Object.entries(headers).map(([k, v]) => `${k}: ${v}\r\n`).join('');
    await this.write(`--${this.boundary}\r\n${lines}\r\n`);
  }

  async part(headers: Record<string, string>, body: Uint8Array): Promise<void> {
    await this.head({ ...headers, 'Content-Length': String(body.length) });
    await this.write(body);
    await this.write('\r\n');
  }

  async streamPart(headers: Record<string, string>, body: Readable): Promise<void> {
    await this.head(headers);
    for await (const chunk of body) await this.write(chunk as Uint8Array);
    await this.write('\r\n');
  }

  async end(): Promise<void> {
    this.start();
    await this.write(`--${this.boundary}--\r\n`);
    this.res.end();
  }
}
