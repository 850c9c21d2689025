import type { Request, Response } from 'express';
import { AppError } from '@yunying/core';
import type { UploadBudget } from '@yunying/http';
import { SecureRouter, auditActor, type Authenticator, type AuthedRequest } from '@yunying/auth';
import { FailureReason } from '@yunying/dicom';
import type { IngestBatch, IngestPipeline, InstanceOutcome } from '../ingest.pipeline';
import { parseContentType, readMultipart, type MultipartPart } from './multipart';
import { buildStowResponse, stowStatus, type StowPartResult } from './stow.response';

/**
 * STOW-RS (PS3.18 10.5): POST /dicomweb/studies[/{StudyInstanceUID}] with a multipart/related body of
 * application/dicom parts. Streamed part by part, a window of parts at a time (PARTS_IN_FLIGHT, bounded by
 * BYTES_IN_FLIGHT): the next part is read, parsed and hashed while those before wait for their copies (#14). The catalog rows of the
 * parts are written in one transaction per batch of parts (INGEST_BATCH_MAX_INSTANCES, or INGEST_BATCH_MAX_BYTES held), not one per part.
 * The response is sent when every part has its outcome, so an instance is reported stored only once its
 * quorum is durable and the catalog transaction holding its rows committed. Only the Part 10 binary form is accepted; the metadata + bulk data form
 * (application/dicom+json / +xml parts) is refused with 415. The sender's clinic is the caller's.
 */
export interface StowRouteOptions {
  pipeline: { openBatch(...args: Parameters<IngestPipeline['openBatch']>): StowBatch };
  authenticator: Authenticator;
  maxInstanceBytes: number;
  maxRequestBytes: number;
  /** Bounds the memory held by uploads in flight (503 + Retry-After beyond it). */
  uploadBudget?: UploadBudget;
  /** Base of RetrieveURLs, e.g. http://127.0.0.1:8042/dicomweb (the viewer service). */
  retrieveBase: string;
  /** Parts per catalog transaction and bytes held for it (INGEST_BATCH_MAX_*); defaults 64 and 32 MiB. */
  batch?: { maxInstances: number; maxBytes: number };
}

/** What the route uses of a request's batch (see IngestBatch). */
export type StowBatch = Pick<IngestBatch, 'add' | 'close'>;

const MAX_PARTS = 10_000;
/**
 * Parts stored concurrently within one request: always MIN_PARTS_IN_FLIGHT (a request of large instances
 * still reads one part while the one before is copied), and up to PARTS_IN_FLIGHT while their bytes stay
 * under BYTES_IN_FLIGHT and the route's parts in flight, all requests together, at most
 * SHARED_PARTS_IN_FLIGHT. Measured on the 2-core machine (docs/benchmarks.md, session 27): a window of six
 * took one STOW-RS client from ~16.6 to ~15.0 ms per instance (one client's request is a chain of waits for
 * the copies' file operations, and a wider window overlaps more of them), but four clients with six each
 * from ~12.6 to ~14.3 (more bytes held, more collection); with four requests the shared bound keeps each
 * to two.
 */
const PARTS_IN_FLIGHT = 6;
const MIN_PARTS_IN_FLIGHT = 2;
const BYTES_IN_FLIGHT = 24 * 1024 * 1024;
const SHARED_PARTS_IN_FLIGHT = 6;

/** The route's parts whose staging has not settled yet, all requests together. */
interface SharedWindow {
  parts: number;
}
/** Parts per catalog transaction: bounds a transaction's length and how long the audit chain lock is held. */
const DEFAULT_BATCH_INSTANCES = 64;
/** Bytes of copied parts a request holds until its batch commits (the thumbnail hook reads them after it). */
const DEFAULT_BATCH_BYTES = 32 * 1024 * 1024;
const UID = /^[0-9]+(\.[0-9]+)*$/;

export function stowRoutes(options: StowRouteOptions): SecureRouter {
  const routes = new SecureRouter('ingest.stow', options.authenticator);
  const policy = { scope: 'clinic-data', roles: ['clinic'], devices: true, description: 'Store instances (STOW-RS)' } as const;
  const shared: SharedWindow = { parts: 0 };
  const handler = (req: AuthedRequest, res: Response): Promise<void> => handleStow(req, res, options, shared);
  routes.post('/dicomweb/studies', policy, handler);
  routes.post('/dicomweb/studies/:study', policy, handler);
  return routes;
}

function acceptsDicomJson(req: Request): boolean {
  const accept = req.headers.accept;
  if (!accept) return true;
  return accept.split(',').some((entry) => {
    const type = entry.split(';')[0]?.trim().toLowerCase();
    return type === 'application/dicom+json' || type === 'application/json' || type === '*/*' || type === 'application/*';
  });
}

async function handleStow(req: AuthedRequest, res: Response, options: StowRouteOptions, shared: SharedWindow): Promise<void> {
  const principal = req.principal;
  const clinicId = principal.clinicId;
  if (clinicId === null) throw new AppError('forbidden', 'Only a clinic account or device can store instances');
  const studyParam = req.params.study;
  const studyUid = typeof studyParam === 'string' ? studyParam : undefined;
  if (studyUid !== undefined && (!UID.test(studyUid) || studyUid.length > 64)) throw new AppError('bad_request', 'Invalid Study Instance UID in the URL');
  if (!acceptsDicomJson(req)) throw new AppError('not_acceptable', 'The STOW-RS response is available as application/dicom+json only');

  const contentType = parseContentType(req.headers['content-type']);
  if (!contentType || contentType.mediaType !== 'multipart/related') {
    throw new AppError('unsupported_media_type', 'Expected Content-Type multipart/related; type="application/dicom"');
  }
  const partType = contentType.params.type?.toLowerCase();
  if (partType !== undefined && partType !== 'application/dicom') {
    throw new AppError('unsupported_media_type', `Only application/dicom parts are accepted (got type="${partType.slice(0, 64)}")`);
  }
  const boundary = contentType.params.boundary;
  if (!boundary) throw new AppError('bad_request', 'multipart/related without a boundary parameter');
  const declared = Number(req.headers['content-length']);
  if (Number.isFinite(declared) && declared > options.maxRequestBytes) {
    throw new AppError('payload_too_large', `Request body exceeds ${options.maxRequestBytes} bytes`);
  }
  // The window's parts hold at most BYTES_IN_FLIGHT and the part that crossed it, or MIN_PARTS_IN_FLIGHT
  // parts (and one network chunk is read at a time, see multipart.ts); copied parts waiting for their batch's
  // commit hold up to the batch's bytes more (plus the part that crossed it), twice when one batch commits
  // while the next fills.
  const limits = options.batch ?? { maxInstances: DEFAULT_BATCH_INSTANCES, maxBytes: DEFAULT_BATCH_BYTES };
  const heldAtMost = (MIN_PARTS_IN_FLIGHT + 2) * options.maxInstanceBytes + BYTES_IN_FLIGHT + 2 * limits.maxBytes;
  options.uploadBudget?.admit(Math.min(Number.isFinite(declared) ? declared : heldAtMost, heldAtMost), res);

  const sender = { clinicId, actor: auditActor(principal), sourceIp: req.ip ?? null, via: 'STOW-RS' as const };
  const batch = options.pipeline.openBatch(sender, studyUid, { maxInstances: limits.maxInstances, maxBytes: limits.maxBytes });
  const outcomes: Promise<InstanceOutcome>[] = [];
  const parts = readMultipart(req, boundary, {
    maxPartBytes: options.maxInstanceBytes,
    maxTotalBytes: options.maxRequestBytes,
    maxParts: MAX_PARTS,
    maxHeaderBytes: 16 * 1024,
  });
  // Staging never rejects here: the first error of a part is kept and thrown once nothing is in flight.
  const inFlight: { staged: Promise<void>; bytes: number }[] = [];
  let bytesInFlight = 0;
  const failure: { failed: boolean; error?: unknown } = { failed: false };
  try {
    for await (const part of parts) {
      const started = startPart(part, batch, options);
      outcomes.push(started.outcome);
      const bytes = part.body?.length ?? 0;
      inFlight.push({
        staged: started.staged.catch((error: unknown) => {
          if (failure.failed) return;
          failure.failed = true;
          failure.error = error;
        }),
        bytes,
      });
      bytesInFlight += bytes;
      shared.parts += 1;
      void started.staged.then(
        () => (shared.parts -= 1),
        () => (shared.parts -= 1),
      );
      // Bounded: while the window is full, the oldest part must be copied before another is read
      // (back-pressure to the socket).
      while (inFlight.length >= PARTS_IN_FLIGHT || (inFlight.length >= MIN_PARTS_IN_FLIGHT && (bytesInFlight >= BYTES_IN_FLIGHT || shared.parts > SHARED_PARTS_IN_FLIGHT))) {
        const oldest = inFlight.shift();
        if (oldest === undefined) break;
        await oldest.staged;
        bytesInFlight -= oldest.bytes;
      }
      if (failure.failed) break;
    }
  } finally {
    // Nothing of this request keeps running after its response, whatever ended the loop: every part
    // staged is committed (or refused) before the response, including on a request-level error.
    await Promise.all(inFlight.map((entry) => entry.staged));
    await batch.close();
  }
  if (failure.failed) throw failure.error;
  if (outcomes.length === 0) throw new AppError('bad_request', 'The request contains no instances');
  const results: StowPartResult[] = (await Promise.all(outcomes)).map((outcome, index) => ({ part: index + 1, outcome }));

  const { status, retryAfterSeconds } = stowStatus(results);
  if (retryAfterSeconds !== undefined) res.setHeader('Retry-After', String(retryAfterSeconds));
  res.status(status).type('application/dicom+json').send(JSON.stringify(buildStowResponse(results, options.retrieveBase, studyUid)));
}

/** A part's own refusals (type, size) are answered at once; a DICOM part goes into the request's batch. */
function startPart(part: MultipartPart, batch: StowBatch, options: StowRouteOptions): { staged: Promise<void>; outcome: Promise<InstanceOutcome> } {
  const type = parseContentType(part.headers['content-type'])?.mediaType;
  const now = (outcome: InstanceOutcome): { staged: Promise<void>; outcome: Promise<InstanceOutcome> } => ({ staged: Promise.resolve(), outcome: Promise.resolve(outcome) });
  if (type !== undefined && type !== 'application/dicom') return now(refused(FailureReason.CannotUnderstand, 'unsupported_part_type', 'Part is not application/dicom'));
  if (part.body === null) return now(refused(FailureReason.OutOfResources, 'too_large', `Instance exceeds ${options.maxInstanceBytes} bytes`));
  if (part.body.length === 0) return now(refused(FailureReason.CannotUnderstand, 'empty', 'Empty part'));
  return batch.add(part.body);
}

function refused(failureReason: number, reason: string, message: string): InstanceOutcome {
  return { status: 'rejected', failureReason, reason, message, retryable: false };
}
