import type { Request, Response } from 'express';
import { AppError } from '@yunying/core';
import type { CatalogReader, Pool } from '@yunying/catalog';
import type { DerivedStore, ReplicatedStore } from '@yunying/storage';
import { SecureRouter, type AuthedRequest, type Authenticator } from '@yunying/auth';
import { AccessAudit, originOf, type AccessAuditSink } from './access-audit';
import { covers, parseAccept } from './media-types';
import type { QidoLevel } from './qido.attributes';
import { QidoService } from './qido.service';
import { parseQuality, parseViewport, parseWindow, type RenderOptions } from './render';
import { WadoService, planRendered } from './wado.service';
import { wadoUriHandler } from './wado-uri.route';

export interface DicomwebRoutesOptions {
  pool: Pool;
  /** QIDO and WADO lookups: a streaming replica with the primary as fallback, or the primary (ServiceContext.reads). */
  reads: CatalogReader;
  store: ReplicatedStore;
  authenticator: Authenticator;
  audit: AccessAuditSink;
  /** The viewer's public base URL (config.http.publicViewerUrl): RetrieveURLs and BulkDataURIs are absolute. */
  publicBaseUrl: string;
  /** Derived objects (series thumbnails), read only. */
  derived: DerivedStore;
}

/**
 * Who may use DICOMweb (issue #6/#7; see README.md "Access"): clinic users and devices (their own
 * clinic) and radiologists (granted clinics). Auditors and admins are refused every DICOMweb route,
 * metadata and QIDO included: both return patient names, which neither role needs (auditors have the
 * retention and access-history API, with UIDs only).
 */
const READ = { scope: 'clinic-data', roles: ['clinic', 'radiologist'], devices: true } as const;

const UID = /^[0-9]+(\.[0-9]+)*$/;

export function uidParam(req: Request, name: string): string {
  const value = req.params[name];
  if (typeof value !== 'string' || value.length > 64 || !UID.test(value)) throw new AppError('bad_request', `${name} is not a valid UID`);
  return value;
}

function assertJsonAccepted(req: Request): void {
  const ok = parseAccept(req.headers.accept).some((r) => covers(r.mediaType, 'application/dicom+json') || covers(r.mediaType, 'application/json'));
  if (!ok) throw new AppError('not_acceptable', 'QIDO-RS and metadata are served as application/dicom+json only');
}

function sendJson(res: Response, body: unknown): void {
  res.status(200).type('application/dicom+json').send(JSON.stringify(body));
}

/** 1-based frame numbers, comma-separated (PS3.18 8.3.3.1.1). */
function frameList(text: string | string[] | undefined): number[] {
  if (typeof text !== 'string' || !/^\d{1,9}(,\d{1,9})*$/.test(text)) throw new AppError('bad_request', 'Frame list must be comma-separated frame numbers');
  const numbers = text.split(',').map(Number);
  if (numbers.length > 10_000) throw new AppError('bad_request', 'Too many frames in one request');
  return numbers;
}

function queryString(req: Request, name: string): string | undefined {
  const value = (req.query as Record<string, unknown>)[name];
  if (value === undefined) return undefined;
  if (typeof value !== 'string') throw new AppError('bad_request', `${name} is given more than once or malformed`);
  return value;
}

const RENDER_PARAMS = new Set(['window', 'viewport', 'quality']);

function renderOptions(req: Request): Omit<RenderOptions, 'format'> {
  for (const name of Object.keys(req.query)) {
    if (!RENDER_PARAMS.has(name)) throw new AppError('bad_request', `Query parameter ${name} is not supported for rendered resources`);
  }
  const window = queryString(req, 'window');
  const viewport = queryString(req, 'viewport');
  const quality = queryString(req, 'quality');
  return {
    ...(window !== undefined ? { window: parseWindow(window) } : {}),
    ...(viewport !== undefined ? { viewport: parseViewport(viewport) } : {}),
    ...(quality !== undefined ? { quality: parseQuality(quality) } : {}),
  };
}

/** QIDO-RS, WADO-RS and WADO-URI on one SecureRouter ('viewer.dicomweb'). */
export function createDicomwebRouter(options: DicomwebRoutesOptions): SecureRouter {
  const audit = new AccessAudit(options.audit, options.pool);
  const baseUrl = `${options.publicBaseUrl.replace(/\/+$/, '')}/dicomweb`;
  const qido = new QidoService(options.reads, audit, baseUrl);
  const wado = new WadoService({ reads: options.reads, store: options.store, audit, baseUrl, derived: options.derived });
  const routes = new SecureRouter('viewer.dicomweb', options.authenticator);

  routes.router.use(['/dicomweb', '/wado'], (_req, res, next) => {
    // Patient data: never stored by shared caches or the browser's disk cache.
    res.setHeader('Cache-Control', 'private, no-store');
    next();
  });

  // ---- QIDO-RS (PS3.18 10.6)
  const search = (level: QidoLevel, scoped: { study?: boolean; series?: boolean }) => async (req: AuthedRequest, res: Response) => {
    assertJsonAccepted(req);
    const scope = {
      ...(scoped.study ? { studyInstanceUid: uidParam(req, 'study') } : {}),
      ...(scoped.series ? { seriesInstanceUid: uidParam(req, 'series') } : {}),
    };
    const result = await qido.search(originOf(req), level, scope, req.query);
    // PS3.18 8.3.4.4: more matches than the server returns without a limit.
    if (result.truncated) res.setHeader('Warning', `299 ${req.hostname}: "There are additional results to be returned"`);
    sendJson(res, result.body);
  };
  routes.get('/dicomweb/studies', { ...READ, description: 'QIDO-RS studies' }, search('study', {}));
  routes.get('/dicomweb/series', { ...READ, description: 'QIDO-RS series' }, search('series', {}));
  routes.get('/dicomweb/instances', { ...READ, description: 'QIDO-RS instances' }, search('instance', {}));
  routes.get('/dicomweb/studies/:study/series', { ...READ, description: 'QIDO-RS series of a study' }, search('series', { study: true }));
  routes.get('/dicomweb/studies/:study/instances', { ...READ, description: 'QIDO-RS instances of a study' }, search('instance', { study: true }));
  routes.get('/dicomweb/studies/:study/series/:series/instances', { ...READ, description: 'QIDO-RS instances of a series' }, search('instance', { study: true, series: true }));

  // ---- WADO-RS retrieve (PS3.18 10.4)
  routes.get('/dicomweb/studies/:study', { ...READ, description: 'WADO-RS study' }, async (req, res) => {
    await wado.retrieve(originOf(req), { studyInstanceUid: uidParam(req, 'study') }, req.headers.accept, res);
  });
  routes.get('/dicomweb/studies/:study/series/:series', { ...READ, description: 'WADO-RS series' }, async (req, res) => {
    await wado.retrieve(originOf(req), { studyInstanceUid: uidParam(req, 'study'), seriesInstanceUid: uidParam(req, 'series') }, req.headers.accept, res);
  });
  routes.get('/dicomweb/studies/:study/series/:series/instances/:instance', { ...READ, description: 'WADO-RS instance' }, async (req, res) => {
    const scope = { studyInstanceUid: uidParam(req, 'study'), seriesInstanceUid: uidParam(req, 'series'), sopInstanceUid: uidParam(req, 'instance') };
    await wado.retrieve(originOf(req), scope, req.headers.accept, res);
  });

  // ---- metadata
  routes.get('/dicomweb/studies/:study/metadata', { ...READ, description: 'WADO-RS study metadata' }, async (req, res) => {
    assertJsonAccepted(req);
    sendJson(res, await wado.metadata(originOf(req), { studyInstanceUid: uidParam(req, 'study') }));
  });
  routes.get('/dicomweb/studies/:study/series/:series/metadata', { ...READ, description: 'WADO-RS series metadata' }, async (req, res) => {
    assertJsonAccepted(req);
    sendJson(res, await wado.metadata(originOf(req), { studyInstanceUid: uidParam(req, 'study'), seriesInstanceUid: uidParam(req, 'series') }));
  });
  routes.get('/dicomweb/studies/:study/series/:series/instances/:instance/metadata', { ...READ, description: 'WADO-RS instance metadata' }, async (req, res) => {
    assertJsonAccepted(req);
    const scope = { studyInstanceUid: uidParam(req, 'study'), seriesInstanceUid: uidParam(req, 'series'), sopInstanceUid: uidParam(req, 'instance') };
    sendJson(res, await wado.metadata(originOf(req), scope));
  });

  // ---- frames, bulk data, rendered, thumbnails
  const instanceScope = (req: Request) => ({
    studyInstanceUid: uidParam(req, 'study'),
    seriesInstanceUid: uidParam(req, 'series'),
    sopInstanceUid: uidParam(req, 'instance'),
  });
  routes.get('/dicomweb/studies/:study/series/:series/instances/:instance/frames/:frames', { ...READ, description: 'WADO-RS frames' }, async (req, res) => {
    await wado.frames(originOf(req), instanceScope(req), frameList(req.params.frames), req.headers.accept, res);
  });
  routes.get('/dicomweb/studies/:study/series/:series/instances/:instance/bulkdata/*path', { ...READ, description: 'WADO-RS bulk data (Pixel Data)' }, async (req, res) => {
    const raw = req.params.path;
    const tagPath = Array.isArray(raw) ? raw.join('/') : String(raw ?? '');
    await wado.bulkdata(originOf(req), instanceScope(req), tagPath, req.headers.accept, res);
  });
  const sendImage = (res: Response, image: { mediaType: string; body: Buffer }): void => {
    res.status(200).type(image.mediaType).send(image.body);
  };
  routes.get('/dicomweb/studies/:study/series/:series/instances/:instance/rendered', { ...READ, description: 'WADO-RS rendered instance' }, async (req, res) => {
    const format = planRendered(parseAccept(req.headers.accept));
    sendImage(res, await wado.rendered(originOf(req), instanceScope(req), 1, format, renderOptions(req)));
  });
  routes.get('/dicomweb/studies/:study/series/:series/instances/:instance/frames/:frame/rendered', { ...READ, description: 'WADO-RS rendered frame' }, async (req, res) => {
    const [frame, ...rest] = frameList(req.params.frame);
    if (frame === undefined || rest.length > 0) throw new AppError('bad_request', 'A rendered frame is one frame number');
    const format = planRendered(parseAccept(req.headers.accept));
    sendImage(res, await wado.rendered(originOf(req), instanceScope(req), frame, format, renderOptions(req)));
  });
  const thumbnail = (scopeOf: (req: Request) => { studyInstanceUid: string; seriesInstanceUid?: string; sopInstanceUid?: string }) => async (req: AuthedRequest, res: Response) => {
    const format = planRendered(parseAccept(req.headers.accept));
    const viewport = queryString(req, 'viewport');
    sendImage(res, await wado.thumbnail(originOf(req), scopeOf(req), format, viewport === undefined ? undefined : parseViewport(viewport)));
  };
  routes.get('/dicomweb/studies/:study/thumbnail', { ...READ, description: 'WADO-RS study thumbnail' }, thumbnail((req) => ({ studyInstanceUid: uidParam(req, 'study') })));
  routes.get(
    '/dicomweb/studies/:study/series/:series/thumbnail',
    { ...READ, description: 'WADO-RS series thumbnail' },
    thumbnail((req) => ({ studyInstanceUid: uidParam(req, 'study'), seriesInstanceUid: uidParam(req, 'series') })),
  );
  routes.get('/dicomweb/studies/:study/series/:series/instances/:instance/thumbnail', { ...READ, description: 'WADO-RS instance thumbnail' }, thumbnail(instanceScope));

  // ---- WADO-URI (PS3.18 9): at its historical path and under the one DICOMweb base URL.
  routes.get('/wado', { ...READ, description: 'WADO-URI' }, wadoUriHandler(wado));
  routes.get('/dicomweb/wado', { ...READ, description: 'WADO-URI under the DICOMweb base' }, wadoUriHandler(wado));

  return routes;
}
