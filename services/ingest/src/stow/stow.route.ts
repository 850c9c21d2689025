import type { Request, Response } from 'express';
import { AppError } from '@yunying/core';
import type { UploadBudget } from '@yunying/http';
import { SecureRouter, auditActor, type Authenticator, type AuthedRequest } from '@yunying/auth';
import { FailureReason } from '@yunying/dicom';
import type { IngestPipeline, InstanceOutcome, Sender } from '../ingest.pipeline';
import { parseContentType, readMultipart, type MultipartPart } from './multipart';
import { buildStowResponse, stowStatus, type StowPartResult } from './stow.response';

/**
 * STOW-RS (PS3.18 10.5): POST /dicomweb/studies[/{StudyInstanceUID}] with a multipart/related body of
 * application/dicom parts. Streamed part by part, at most PARTS_IN_FLIGHT parts at a time: the next part
 * is read, parsed and hashed while the one before waits for its copies and its commit (#14). The response
 * is sent when every part has its outcome, so an instance is reported stored only once its quorum is
 * durable and its catalog transaction committed. Only the Part 10 binary form is accepted; the metadata + bulk data form
 * (application/dicom+json / +xml parts) is refused with 415. The sender's clinic is the caller's.
 */
export interface StowRouteOptions {
  pipeline: Pick<IngestPipeline, 'ingest'>;
  authenticator: Authenticator;
  maxInstanceBytes: number;
  maxRequestBytes: number;
  /** Bounds the memory held by uploads in flight (503 + Retry-After beyond it). */
  uploadBudget?: UploadBudget;
  /** Base of RetrieveURLs, e.g. http://127.0.0.1:8042/dicomweb (the viewer service). */
  retrieveBase: string;
}

const MAX_PARTS = 10_000;
/** Parts stored concurrently within one request; also how many parts' bytes a request may hold. */
const PARTS_IN_FLIGHT = 2;
const UID = /^[0-9]+(\.[0-9]+)*$/;

export function stowRoutes(options: StowRouteOptions): SecureRouter {
  const routes = new SecureRouter('ingest.stow', options.authenticator);
  const policy = { scope: 'clinic-data', roles: ['clinic'], devices: true, description: 'Store instances (STOW-RS)' } as const;
  const handler = (req: AuthedRequest, res: Response): Promise<void> => handleStow(req, res, options);
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

async function handleStow(req: AuthedRequest, res: Response, options: StowRouteOptions): Promise<void> {
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
  // At most PARTS_IN_FLIGHT parts (and one network chunk) are held in memory at a time (see multipart.ts).
  const heldAtMost = PARTS_IN_FLIGHT * options.maxInstanceBytes;
  options.uploadBudget?.admit(Math.min(Number.isFinite(declared) ? declared : heldAtMost, heldAtMost), res);

  const sender = { clinicId, actor: auditActor(principal), sourceIp: req.ip ?? null, via: 'STOW-RS' as const };
  const results: StowPartResult[] = [];
  const parts = readMultipart(req, boundary, {
    maxPartBytes: options.maxInstanceBytes,
    maxTotalBytes: options.maxRequestBytes,
    maxParts: MAX_PARTS,
    maxHeaderBytes: 16 * 1024,
  });
  // Tasks never reject: the first error of a part is kept and thrown once nothing is in flight.
  const inFlight: Promise<void>[] = [];
  const failure: { failed: boolean; error?: unknown } = { failed: false };
  try {
    for await (const part of parts) {
      const index = results.length;
      results.push({ part: index + 1, outcome: pendingOutcome });
      inFlight.push(
        storePart(part, sender, studyUid, options).then(
          (outcome) => {
            results[index] = { part: index + 1, outcome };
          },
          (error: unknown) => {
            if (failure.failed) return;
            failure.failed = true;
            failure.error = error;
          },
        ),
      );
      // Bounded: the oldest part must finish before another is read (back-pressure to the socket).
      if (inFlight.length >= PARTS_IN_FLIGHT) await inFlight.shift();
      if (failure.failed) break;
    }
  } finally {
    // Nothing of this request keeps running after its response, whatever ended the loop.
    await Promise.all(inFlight);
  }
  if (failure.failed) throw failure.error;
  if (results.length === 0) throw new AppError('bad_request', 'The request contains no instances');

  const { status, retryAfterSeconds } = stowStatus(results);
  if (retryAfterSeconds !== undefined) res.setHeader('Retry-After', String(retryAfterSeconds));
  res.status(status).type('application/dicom+json').send(JSON.stringify(buildStowResponse(results, options.retrieveBase, studyUid)));
}

async function storePart(part: MultipartPart, sender: Sender, studyUid: string | undefined, options: StowRouteOptions): Promise<InstanceOutcome> {
  const type = parseContentType(part.headers['content-type'])?.mediaType;
  if (type !== undefined && type !== 'application/dicom') return refused(FailureReason.CannotUnderstand, 'unsupported_part_type', 'Part is not application/dicom');
  if (part.body === null) return refused(FailureReason.OutOfResources, 'too_large', `Instance exceeds ${options.maxInstanceBytes} bytes`);
  if (part.body.length === 0) return refused(FailureReason.CannotUnderstand, 'empty', 'Empty part');
  return options.pipeline.ingest(part.body, sender, studyUid);
}

/** Placeholder of a part still in flight; every one is replaced before the response is built. */
const pendingOutcome: InstanceOutcome = { status: 'rejected', failureReason: FailureReason.ProcessingFailure, reason: 'pending', message: 'not finished', retryable: true };

function refused(failureReason: number, reason: string, message: string): InstanceOutcome {
  return { status: 'rejected', failureReason, reason, message, retryable: false };
}
