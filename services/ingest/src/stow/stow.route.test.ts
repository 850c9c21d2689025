import request from 'supertest';
import { AppError, createLogger } from '@yunying/core';
import { createMetricsRegistry, createServiceApp } from '@yunying/http';
import type { Authenticator, Principal } from '@yunying/auth';
import type { InstanceOutcome } from '../ingest.pipeline';
import { stowRoutes, type StowBatch } from './stow.route';

const failed: InstanceOutcome = { status: 'rejected', failureReason: 0x0110, reason: 'request_failed', message: 'failed', retryable: true };

/**
 * The STOW-RS route's part window (#14), with a stand-in for the pipeline that lets the test decide when
 * each part finishes (the real pipeline is exercised end to end in test/archive/stow.test.ts): at most six
 * parts in flight, two when their bytes pass 24 MiB, outcomes reported in part order whatever order they
 * finish in, and no response while a part is still being stored.
 */
const device: Principal = { kind: 'device', apiKeyId: 'k1', username: 'device:us-1', role: 'clinic', clinicId: 'c1', clinics: { all: false, clinicIds: ['c1'] } };
const authenticator: Authenticator = {
  authenticateAccessToken: () => Promise.reject(new AppError('unauthenticated', 'no tokens here')),
  authenticateApiKey: (key) => (key === 'good-key' ? Promise.resolve(device) : Promise.reject(new AppError('unauthenticated', 'API key invalid'))),
};

const BOUNDARY = 'b'.repeat(73);

/** Parts whose bodies are their UIDs, each padded after a space to `padTo` bytes. */
function stowBody(uids: string[], padTo = 0): Buffer {
  const pieces = uids.map((uid) => `--${BOUNDARY}\r\nContent-Type: application/dicom\r\n\r\n${`${uid} `.padEnd(padTo, 'x')}\r\n`);
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
    const uid = Buffer.from(bytes.subarray(0, 64)).toString().split(' ')[0] ?? '';
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
  const stow = stowRoutes({ pipeline, authenticator, maxInstanceBytes: 16 << 20, maxRequestBytes: 64 << 20, retrieveBase: 'http://viewer/dicomweb' });
  return createServiceApp({
    service: 'ingest-test',
    logger: createLogger({ level: 'silent', service: 'ingest-test' }),
    metrics: createMetricsRegistry(),
    readiness: [],
    routes: [stow.router],
    security: { trustedProxies: [] },
  });
}

function post(app: ReturnType<typeof appWith>, uids: string[], padTo = 0) {
  return request(app)
    .post('/dicomweb/studies')
    .set('X-Api-Key', 'good-key')
    .set('Content-Type', `multipart/related; type="application/dicom"; boundary=${BOUNDARY}`)
    .send(stowBody(uids, padTo));
}

function referencedUids(body: unknown): (string | undefined)[] {
  const referenced = (body as Record<string, { Value: Record<string, { Value: string[] }>[] }>)['00081199']?.Value ?? [];
  return referenced.map((item) => item['00081155']?.Value[0]);
}

async function settle(): Promise<void> {
  await new Promise((resolve) => setTimeout(resolve, 20));
}

describe('STOW-RS part window', () => {
  it('stores six small parts at a time, reads the next only when the oldest has finished, and reports them in part order', async () => {
    const pipeline = new GatedPipeline();
    const uids = ['1.1', '1.2', '1.3', '1.4', '1.5', '1.6', '1.7', '1.8'];
    const response = post(appWith(pipeline), uids).then((res) => res);
    await pipeline.release('1.2');
    await settle();
    // Part 2 finished before part 1: the window still waits for part 1 before reading part 7.
    expect(pipeline.started).toEqual(uids.slice(0, 6));
    await pipeline.release('1.1');
    await pipeline.release('1.8');
    expect(pipeline.started).toEqual(uids);
    for (const uid of ['1.3', '1.4', '1.5', '1.6', '1.7']) await pipeline.release(uid);
    const res = await response;
    expect(res.status).toBe(200);
    expect(pipeline.maxInFlight).toBe(6);
    expect(referencedUids(res.body)).toEqual(uids);
  });

  it('keeps two large parts in flight once their bytes pass 24 MiB', async () => {
    const pipeline = new GatedPipeline();
    const uids = ['2.1', '2.2', '2.3', '2.4'];
    const response = post(appWith(pipeline), uids, 12.5 * 1024 * 1024).then((res) => res);
    await pipeline.release('2.2');
    await settle();
    expect(pipeline.started).toEqual(['2.1', '2.2']);
    for (const uid of ['2.1', '2.3', '2.4']) await pipeline.release(uid);
    const res = await response;
    expect(res.status).toBe(200);
    expect(pipeline.maxInFlight).toBe(2);
    expect(referencedUids(res.body)).toEqual(uids);
  });

  it('keeps a second request to two parts while the first holds six: the route’s parts in flight are shared', async () => {
    const pipeline = new GatedPipeline();
    const app = appWith(pipeline);
    const first = ['3.1', '3.2', '3.3', '3.4', '3.5', '3.6', '3.7'];
    const second = ['4.1', '4.2', '4.3', '4.4'];
    const firstResponse = post(app, first).then((res) => res);
    while (pipeline.started.length < 6) await settle();
    const secondResponse = post(app, second).then((res) => res);
    await settle();
    await settle();
    expect(pipeline.started.filter((uid) => uid.startsWith('4.'))).toEqual(['4.1', '4.2']);
    // The second request's oldest part done: it reads one more and stays at two.
    await pipeline.release('4.1');
    await pipeline.release('4.3');
    await settle();
    expect(pipeline.started.filter((uid) => uid.startsWith('4.'))).toEqual(['4.1', '4.2', '4.3']);
    for (const uid of ['4.2', '4.4', '3.1', '3.2', '3.3', '3.4', '3.5', '3.6', '3.7']) await pipeline.release(uid);
    expect((await firstResponse).status).toBe(200);
    expect((await secondResponse).status).toBe(200);
    expect(pipeline.maxInFlight).toBe(8);
  });

  it('answers an error of one part only after the parts beside it have finished storing, and reads no further', async () => {
    const uids = ['1.1', '1.2', '1.3', '1.4', '1.5', '1.6', '1.7', '1.8'];
    const pipeline = new GatedPipeline('1.2');
    let answered = false;
    const response = post(appWith(pipeline), uids).then((res) => {
      answered = true;
      return res;
    });
    await pipeline.release('1.2');
    await pipeline.release('1.1');
    await settle();
    expect(pipeline.finished).toEqual(['1.2', '1.1']);
    expect(answered).toBe(false);
    for (const uid of ['1.3', '1.4', '1.5', '1.6']) await pipeline.release(uid);
    const res = await response;
    expect(res.status).toBe(403);
    expect(pipeline.finished).toEqual(['1.2', '1.1', '1.3', '1.4', '1.5', '1.6']);
    // Reading stopped at the error: the parts after the window were never stored.
    expect(pipeline.started).toEqual(uids.slice(0, 6));
  });
});
