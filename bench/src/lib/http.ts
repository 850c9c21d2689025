import http from 'node:http';
import { randomBytes } from 'node:crypto';
import { filesOf, type Corpus } from './corpus';

/**
 * The one HTTP client both systems get: node:http with a keep-alive agent sized to the concurrency,
 * Nagle off (TCP_NODELAY), a Content-Length on every body and never `Expect: 100-continue`
 * (../shared/docs/INTEROP-NOTES.md: curl's 1 s stall). Bodies are read fully so timings include the transfer.
 */
export class HttpClient {
  readonly agent: http.Agent;

  constructor(concurrency: number) {
    this.agent = new http.Agent({ keepAlive: true, maxSockets: concurrency, noDelay: true });
  }

  request(method: string, url: string, headers: Record<string, string>, body?: Buffer): Promise<HttpResponse> {
    const started = process.hrtime.bigint();
    return new Promise<HttpResponse>((resolve, reject) => {
      const req = http.request(url, { method, agent: this.agent, headers: { ...headers, ...(body ? { 'content-length': String(body.length) } : {}) } }, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => {
          resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks), ms: Number(process.hrtime.bigint() - started) / 1e6 });
        });
        res.on('error', reject);
      });
      req.on('error', reject);
      req.end(body);
    });
  }

  async json<T>(method: string, url: string, headers: Record<string, string>, payload?: unknown): Promise<T> {
    const body = payload === undefined ? undefined : Buffer.from(JSON.stringify(payload));
    const res = await this.request(method, url, { accept: 'application/json', ...(body ? { 'content-type': 'application/json' } : {}), ...headers }, body);
    if (res.status >= 300) throw new Error(`${method} ${url}: ${res.status} ${res.body.toString().slice(0, 300)}`);
    return JSON.parse(res.body.toString()) as T;
  }

  close(): void {
    this.agent.destroy();
  }
}

export interface HttpResponse {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: Buffer;
  ms: number;
}

/** A STOW-RS multipart/related body of application/dicom parts (PS3.18 10.5.1.2). */
export function stowBody(files: Buffer[]): { body: Buffer; contentType: string } {
  const boundary = `yy-bench-${randomBytes(8).toString('hex')}`;
  const pieces: Buffer[] = [];
  for (const file of files) pieces.push(Buffer.from(`--${boundary}\r\nContent-Type: application/dicom\r\n\r\n`), file, Buffer.from('\r\n'));
  pieces.push(Buffer.from(`--${boundary}--\r\n`));
  return { body: Buffer.concat(pieces), contentType: `multipart/related; type="application/dicom"; boundary=${boundary}` };
}

/**
 * Every study's STOW-RS body built before a timed window (`--prebuilt-bodies`): the benchmark's client then
 * only sends. Building a body (reading the study's files, joining them with the part headers) costs the
 * client about as much CPU per instance as a server's parse and hash, on the same two cores as the servers.
 */
export type StowBodies = ReadonlyMap<string, { body: Buffer; contentType: string }>;

export function prebuildStowBodies(corpus: Corpus): StowBodies {
  return new Map(corpus.studies.map((study) => [study.studyInstanceUid, stowBody(filesOf(corpus, study))]));
}

/** Runs `work(item)` over `items` with at most `concurrency` in flight; returns wall-clock seconds. */
export async function runPool<T>(items: readonly T[], concurrency: number, work: (item: T) => Promise<void>): Promise<number> {
  const started = process.hrtime.bigint();
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < items.length) {
      const item = items[next];
      next += 1;
      if (item !== undefined) await work(item);
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, concurrency) }, () => worker()));
  return Number(process.hrtime.bigint() - started) / 1e9;
}
