import request from 'supertest';
import { AppError, createLogger } from '@yunying/core';
import { createMetricsRegistry, createServiceApp } from '@yunying/http';
import type { Authenticator, Principal } from '@yunying/auth';
import type { InstanceOutcome } from '../ingest.pipeline';
import { stowRoutes, type StowBatch } from './stow.route';

const failed: InstanceOutcome = { status: 'rejected', failureReason: 0x0110, reason: 'request_failed', message: 'failed', retryable: true };

/**
 * The STOW-RS route's part window (#14), with a stand-in for the pipeline that lets the test decide when
 * each part finishes (the real pipeline is exercised end to end in test/archive/stow.test.ts): at most two
 * parts in flight, outcomes reported in part order whatever order they finish in, and no response while a
 * part is still being stored.
 */
const device: Principal = { kind: 'device', apiKeyId: 'k1', username: 'device:us-1', role: 'clinic', clinicId: 'c1', clinics: { all: false, clinicIds: ['c1'] } };
const authenticator: Authenticator = {
  authenticateAccessToken: () => Promise.reject(new AppError('unauthenticated', 'no tokens here')),
  authenticateApiKey: (key) => (key === 'good-key' ? Promise.resolve(device) : Promise.reject(new AppError('unauthenticated', 'API key invalid'))),
};

const BOUNDARY = 'b'.repeat(73);

function stowBody(uids: string[]): Buffer {
  const pieces = uids.map((uid) => `--${BOUNDARY}\r\nContent-Type: application/dicom\r\n\r\n${uid}\r\n`);
  return Buffer.from(`${pieces.join('')}--${BOUNDARY}--\r\n`);
}

function stored(sopInstanceUid: string): InstanceOutcome {
  return { status: 'stored', studyInstanceUid: '1.2', seriesInstanceUid: '1.2.3', sopInstanceUid, sopClassUid: '1.2.840.10008.5.1.4.1.1.6.1', transferSyntaxUid: '1.2.840.10008.1.2.1', version: 1 };
}

/** A pipeline whose parts finish when the test says so. */
class GatedPipeline {
  readonly started: string[] = [];
  readonly finished: string[] = [];
  inFlight = 0;
  maxInFlight = 0;
  private readonly gates = new Map<string, () => void>();
  constructor(private readonly failing: string | null = null) {}

  /** The route's batch: each part finishes (is staged) at its gate; the stand-in has no catalog step. */
  openBatch(): StowBatch {
    return {
      add: (bytes) => {
        const outcome = this.ingest(bytes);
        return { staged: outcome.then(() => undefined), outcome: outcome.catch(() => failed) };
      },
      close: () => Promise.resolve(),
    };
  }

  ingest(bytes: Uint8Array): Promise<InstanceOutcome> {
    const uid = Buffer.from(bytes).toString();
    this.started.push(uid);
    this.inFlight += 1;
    this.maxInFlight = Math.max(this.maxInFlight, this.inFlight);
    return new Promise<void>((resolve) => this.gates.set(uid, resolve)).then(() => {
      this.inFlight -= 1;
      this.finished.push(uid);
      if (uid === this.failing) throw new AppError('forbidden', 'The sender is not bound to a known clinic');
      return stored(uid);
    });
  }

  /** Finishes `uid` once it has started. */
  async release(uid: string): Promise<void> {
    while (!this.gates.has(uid)) await new Promise((resolve) => setImmediate(resolve));
    this.gates.get(uid)?.();
  }
}

function appWith(pipeline: GatedPipeline) {
  const stow = stowRoutes({ pipeline, authenticator, maxInstanceBytes: 1 << 20, maxRequestBytes: 1 << 24, retrieveBase: 'http://viewer/dicomweb' });
  return createServiceApp({
    service: 'ingest-test',
    logger: createLogger({ level: 'silent', service: 'ingest-test' }),
    metrics: createMetricsRegistry(),
    readiness: [],
    routes: [stow.router],
    security: { trustedProxies: [] },
  });
}

function post(app: ReturnType<typeof appWith>, uids: string[]) {
  return request(app)
    .post('/dicomweb/studies')
    .set('X-Api-Key', 'good-key')
    .set('Content-Type', `multipart/related; type="application/dicom"; boundary=${BOUNDARY}`)
    .send(stowBody(uids));
}

describe('STOW-RS part window', () => {
  it('stores two parts at a time and reports them in part order, whatever order they finish in', async () => {
    const pipeline = new GatedPipeline();
    const uids = ['1.1', '1.2', '1.3', '1.4', '1.5'];
    const response = post(appWith(pipeline), uids).then((res) => res);
    // Part 2 finishes before part 1; the third part is read only when the first has finished.
    await pipeline.release('1.2');
    await new Promise((resolve) => setTimeout(resolve, 20));
    expect(pipeline.started).toEqual(['1.1', '1.2']);
    for (const uid of ['1.1', '1.3', '1.4', '1.5']) await pipeline.release(uid);
    const res = await response;
    expect(res.status).toBe(200);
    expect(pipeline.maxInFlight).toBe(2);
    const referenced = (res.body as Record<string, { Value: Record<string, { Value: string[] }>[] }>)['00081199']?.Value ?? [];
    expect(referenced.map((item) => item['00081155']?.Value[0])).toEqual(uids);
  });

  it('answers an error of one part only after the part beside it has finished storing', async () => {
    const pipeline = new GatedPipeline('1.2');
    const response = post(appWith(pipeline), ['1.1', '1.2', '1.3']).then((res) => res);
    await pipeline.release('1.2');
    await new Promise((resolve) => setTimeout(resolve, 20));
    expect(pipeline.finished).toEqual(['1.2']);
    await pipeline.release('1.1');
    const res = await response;
    expect(res.status).toBe(403);
    expect(pipeline.finished).toEqual(['1.2', '1.1']);
    // Reading stopped at the error: the third part was never stored.
    expect(pipeline.started).toEqual(['1.1', '1.2']);
  });
});
