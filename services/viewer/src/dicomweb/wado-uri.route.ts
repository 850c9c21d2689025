import type { Response } from 'express';
import { AppError } from '@yunying/core';
import type { AuthedRequest } from '@yunying/auth';
import { originOf } from './access-audit';
import type { RenderFormat } from './render';
import { parseQuality } from './render';
import type { WadoService } from './wado.service';

/**
 * WADO-URI (PS3.18 9, formerly Part 18 "WADO"): GET /wado?requestType=WADO&studyUID=&seriesUID=&objectUID=
 * with contentType application/dicom (the stored object) or image/jpeg (default) / image/png (rendered,
 * with frameNumber, rows, columns, windowCenter, windowWidth, imageQuality). Not implemented: anonymize,
 * region, presentationUID/presentationSeriesUID, annotation, charset, image/gif and video types (400).
 */
const SUPPORTED = new Set([
  'requestType',
  'studyUID',
  'seriesUID',
  'objectUID',
  'contentType',
  'frameNumber',
  'rows',
  'columns',
  'windowCenter',
  'windowWidth',
  'imageQuality',
  'transferSyntax',
]);

const UID = /^[0-9]+(\.[0-9]+)*$/;

function bad(message: string): never {
  throw new AppError('bad_request', message);
}

function param(query: Record<string, unknown>, name: string): string | undefined {
  const value = query[name];
  if (value === undefined) return undefined;
  if (typeof value !== 'string') bad(`${name} is given more than once or malformed`);
  return value;
}

function uid(query: Record<string, unknown>, name: string): string {
  const value = param(query, name);
  if (value === undefined || value.length > 64 || !UID.test(value)) bad(`${name} is required and must be a UID`);
  return value;
}

function positive(query: Record<string, unknown>, name: string): number | undefined {
  const value = param(query, name);
  if (value === undefined) return undefined;
  if (!/^\d{1,5}$/.test(value) || Number(value) < 1) bad(`${name} must be a positive integer`);
  return Number(value);
}

/** The first supported type of the contentType list (PS3.18 9.1.2.2: a list in preference order). */
function chooseContentType(text: string | undefined): 'dicom' | RenderFormat {
  const list = (text ?? 'image/jpeg').split(',').map((t) => t.split(';')[0]?.trim().toLowerCase() ?? '');
  for (const type of list) {
    if (type === 'application/dicom') return 'dicom';
    if (type === 'image/jpeg' || type === '*/*' || type === 'image/*') return 'jpeg';
    if (type === 'image/png') return 'png';
  }
  throw new AppError('not_acceptable', 'contentType must be application/dicom, image/jpeg or image/png');
}

export function wadoUriHandler(wado: WadoService) {
  return async (req: AuthedRequest, res: Response): Promise<void> => {
    const query = req.query as Record<string, unknown>;
    for (const name of Object.keys(query)) if (!SUPPORTED.has(name)) bad(`WADO-URI parameter ${name} is not supported`);
    if (param(query, 'requestType') !== 'WADO') bad('requestType must be WADO');
    const scope = { studyInstanceUid: uid(query, 'studyUID'), seriesInstanceUid: uid(query, 'seriesUID'), sopInstanceUid: uid(query, 'objectUID') };
    const type = chooseContentType(param(query, 'contentType'));
    if (type === 'dicom') {
      for (const name of ['frameNumber', 'rows', 'columns', 'windowCenter', 'windowWidth', 'imageQuality']) {
        if (query[name] !== undefined) bad(`${name} applies to image content types only`);
      }
      await wado.singleInstance(originOf(req), scope, param(query, 'transferSyntax'), res);
      return;
    }
    const rows = positive(query, 'rows');
    const columns = positive(query, 'columns');
    const center = param(query, 'windowCenter');
    const width = param(query, 'windowWidth');
    if ((center === undefined) !== (width === undefined)) bad('windowCenter and windowWidth go together');
    let window: { center: number; width: number } | undefined;
    if (center !== undefined && width !== undefined) {
      const c = Number(center);
      const w = Number(width);
      if (center.trim() === '' || width.trim() === '' || !Number.isFinite(c) || !Number.isFinite(w) || w < 1) bad('windowCenter/windowWidth must be numbers, width >= 1');
      window = { center: c, width: w };
    }
    const quality = param(query, 'imageQuality');
    // rows/columns bound the output; a missing one does not constrain (PS3.18 9.1.2.3.1).
    const viewport = rows !== undefined || columns !== undefined ? { width: columns ?? 8192, height: rows ?? 8192 } : undefined;
    const image = await wado.rendered(originOf(req), scope, positive(query, 'frameNumber') ?? 1, type, {
      ...(window ? { window } : {}),
      ...(viewport ? { viewport } : {}),
      ...(quality !== undefined ? { quality: parseQuality(quality) } : {}),
    });
    res.status(200).type(image.mediaType).send(image.body);
  };
}
