import type { Response } from 'express';
import { AppError } from '@yunying/core';
import type { CatalogReader } from '@yunying/catalog';
import { seriesThumbnailKey, type DerivedStore, type ReplicatedStore } from '@yunying/storage';
import { TransferSyntax, isBulkDataPath, readBulkValue, type DicomJsonAttribute, type DicomJsonObject, type DicomJsonValue } from '@yunying/dicom';
import type { AccessAudit, AccessOrigin } from './access-audit';
import { rewriteBulkDataUris } from './dicom-json';
import { checkFrameNumbers, decodeStoredFrame, nativeFrame, readStoredFrame, withFrames, type FrameInstance } from './frames';
import { findInstances, type InstanceRow, type WadoScope } from './instance.repository';
import { covers, parseAccept, type MediaRange } from './media-types';
import { MultipartWriter, sendStream } from './multipart';
import { RENDER_MEDIA_TYPE, renderFrame, type RenderFormat, type RenderOptions } from './render';

export interface WadoServiceOptions {
  /** Read-only instance lookups: may be a streaming replica. */
  reads: CatalogReader;
  store: ReplicatedStore;
  audit: AccessAudit;
  /** `<public viewer URL>/dicomweb`, for BulkDataURIs. */
  baseUrl: string;
  /** Derived objects: the series thumbnails ingest made (read only here). */
  derived: DerivedStore;
}

/** The media type of each compressed transfer syntax for frames (PS3.18 Table 8.7.3-5). */
const COMPRESSED_MEDIA_TYPE: Record<string, string> = {
  [TransferSyntax.JPEGBaseline]: 'image/jpeg',
  [TransferSyntax.JPEGExtended]: 'image/jpeg',
  [TransferSyntax.JPEGLossless]: 'image/jpeg',
  [TransferSyntax.JPEGLosslessSV1]: 'image/jpeg',
  [TransferSyntax.JPEGLSLossless]: 'image/jls',
  [TransferSyntax.JPEGLSNearLossless]: 'image/jls',
  [TransferSyntax.JPEG2000Lossless]: 'image/jp2',
  [TransferSyntax.JPEG2000]: 'image/jp2',
  [TransferSyntax.RLELossless]: 'image/dicom-rle',
};

const OCTET = 'application/octet-stream';
const THUMBNAIL_SIZE = 160;

/** How frames are sent: as stored, or decompressed to Explicit VR Little Endian. */
interface FramePlan {
  mode: 'stored' | 'native';
  multipart: boolean;
  /** Content-Type of each part (or of the single body). */
  partType: string;
  /** The `type` parameter of the multipart body. */
  bodyType: string;
  transferSyntax: string;
}

function notAcceptable(what: string): never {
  throw new AppError('not_acceptable', `None of the accepted media types can be produced for ${what}`);
}

/** Negotiates frames (PS3.18 8.7.3.3-5): octet-stream at `*` (as stored) or 1.2.840.10008.1.2.1 (default), or the stored compressed media type. */
export function planFrames(ranges: MediaRange[], stored: string, frameCount: number): FramePlan {
  const storedMedia = COMPRESSED_MEDIA_TYPE[stored];
  for (const range of ranges) {
    const multipart = range.mediaType === 'multipart/related' || range.mediaType === '*/*';
    // A single-part body holds exactly one frame.
    if (!multipart && frameCount !== 1) continue;
    const type = range.mediaType === 'multipart/related' ? (range.params.type ?? OCTET) : range.mediaType === '*/*' ? OCTET : range.mediaType;
    const ts = range.params['transfer-syntax'];
    if (covers(type, OCTET)) {
      if (ts === '*' || ts === stored) {
        return { mode: 'stored', multipart, partType: `${storedMedia ?? OCTET}; transfer-syntax=${stored}`, bodyType: storedMedia ?? OCTET, transferSyntax: stored };
      }
      if (ts === undefined || ts === TransferSyntax.ExplicitVRLittleEndian) {
        const syntax = TransferSyntax.ExplicitVRLittleEndian;
        return { mode: 'native', multipart, partType: `${OCTET}; transfer-syntax=${syntax}`, bodyType: OCTET, transferSyntax: syntax };
      }
      continue;
    }
    if (storedMedia !== undefined && covers(type, storedMedia) && (ts === undefined || ts === '*' || ts === stored)) {
      return { mode: 'stored', multipart, partType: `${storedMedia}; transfer-syntax=${stored}`, bodyType: storedMedia, transferSyntax: stored };
    }
  }
  notAcceptable('these frames');
}

/** Bulk data other than Pixel Data: multipart/related octet-stream (the default) or a single octet-stream body. */
export function planBulkData(ranges: MediaRange[]): boolean {
  for (const range of ranges) {
    if (range.mediaType === '*/*') return true;
    if (range.mediaType === 'multipart/related' && covers(range.params.type ?? OCTET, OCTET)) return true;
    if (covers(range.mediaType, OCTET)) return false;
  }
  notAcceptable('bulk data (application/octet-stream)');
}

/** Whether the stored JSON has a BulkDataURI at `path` (`<tag>` or `<seq>/<item>/.../<tag>`). */
export function advertisesBulkData(json: DicomJsonObject, path: string): boolean {
  const parts = path.split('/');
  let current: DicomJsonObject | undefined = json;
  for (let i = 0; i < parts.length; i += 2) {
    const attribute: DicomJsonAttribute | undefined = current?.[parts[i] ?? ''];
    if (attribute === undefined) return false;
    if (i === parts.length - 1) return attribute.BulkDataURI !== undefined;
    const item: DicomJsonValue | undefined = attribute.Value?.[Number(parts[i + 1])];
    current = item !== null && typeof item === 'object' && !('Alphabetic' in item || 'Ideographic' in item || 'Phonetic' in item) ? (item as DicomJsonObject) : undefined;
  }
  return false;
}

/** image/jpeg (default) or image/png for rendered resources. */
export function planRendered(ranges: MediaRange[]): RenderFormat {
  for (const range of ranges) {
    if (covers(range.mediaType, 'image/jpeg')) return 'jpeg';
    if (covers(range.mediaType, 'image/png')) return 'png';
  }
  notAcceptable('a rendered image');
}

/**
 * WADO-RS (PS3.18 10.4) and the pixel part of WADO-URI (PS3.18 9): instances from storage (streamed),
 * metadata from the catalog, frames by their recorded byte ranges, rendered images and thumbnails.
 * Every method finds the instances with the caller's tenancy filter first (404 when none) and appends
 * one audit record before sending anything.
 */
export class WadoService {
  constructor(private readonly options: WadoServiceOptions) {}

  private async instances(origin: AccessOrigin, scope: WadoScope, include: { json?: boolean; frames?: boolean } = {}): Promise<InstanceRow[]> {
    const rows = await findInstances(this.options.reads, origin.principal, scope, include);
    if (rows.length === 0) {
      await this.options.audit.refusedIfForeign(origin, scope.studyInstanceUid, 'wado');
      throw new AppError('not_found', 'Not found');
    }
    return rows;
  }

  private async one(origin: AccessOrigin, scope: WadoScope & { sopInstanceUid: string }): Promise<FrameInstance> {
    const [row] = await this.instances(origin, scope, { json: true, frames: true });
    if (row === undefined) throw new AppError('not_found', 'Not found');
    return withFrames(row);
  }

  private async audit(origin: AccessOrigin, rows: readonly InstanceRow[], action: string, extra: Record<string, string | number | number[]> = {}): Promise<void> {
    const first = rows[0];
    if (first === undefined) return;
    const series = [...new Set(rows.map((r) => r.seriesInstanceUid))];
    await this.options.audit.accessed(origin, first.studyInstanceUid, first.clinicId, {
      action,
      instances: rows.length,
      ...(series.length === 1 ? { seriesInstanceUid: series[0] ?? '' } : { series: series.length }),
      ...(rows.length === 1 ? { sopInstanceUid: first.sopInstanceUid } : {}),
      ...extra,
    });
  }

  /** Study, series or instance retrieval: multipart/related; type="application/dicom" (PS3.18 10.4.1). */
  async retrieve(origin: AccessOrigin, scope: WadoScope, accept: string | undefined, res: Response): Promise<void> {
    const rows = await this.instances(origin, scope);
    let multipart: boolean | null = null;
    for (const range of parseAccept(accept)) {
      const ts = range.params['transfer-syntax'];
      // Instances are sent as stored: transcoding whole objects is not implemented (see README).
      const syntaxOk = ts === undefined || ts === '*' || rows.every((r) => r.transferSyntaxUid === ts);
      if (!syntaxOk) continue;
      if (range.mediaType === '*/*' || (range.mediaType === 'multipart/related' && (range.params.type === undefined || covers(range.params.type, 'application/dicom')))) {
        multipart = true;
        break;
      }
      if (range.mediaType === 'application/dicom' && rows.length === 1) {
        multipart = false;
        break;
      }
    }
    if (multipart === null) notAcceptable('these instances (multipart/related; type="application/dicom", as stored)');
    await this.audit(origin, rows, 'retrieve');
    if (!multipart) {
      const [row] = rows;
      if (row === undefined) return;
      res.status(200).setHeader('Content-Type', `application/dicom; transfer-syntax=${row.transferSyntaxUid}`);
      res.setHeader('Content-Length', String(row.sizeBytes));
      const { stream } = await this.options.store.readStream(row.objectKey, undefined, { expectedSize: row.sizeBytes });
      await sendStream(res, stream);
      return;
    }
    const writer = new MultipartWriter(res, 'application/dicom');
    for (const row of rows) {
      const { stream } = await this.options.store.readStream(row.objectKey, undefined, { expectedSize: row.sizeBytes });
      await writer.streamPart(
        {
          'Content-Type': `application/dicom; transfer-syntax=${row.transferSyntaxUid}`,
          'Content-Length': String(row.sizeBytes),
          'Content-Location': this.instanceUrl(row),
        },
        stream,
      );
    }
    await writer.end();
  }

  /** Metadata (PS3.18 10.4.1.1.2): the stored DICOM JSON with BulkDataURIs made absolute. */
  async metadata(origin: AccessOrigin, scope: WadoScope): Promise<DicomJsonObject[]> {
    const rows = await this.instances(origin, scope, { json: true });
    await this.audit(origin, rows, 'metadata');
    return rows.map((row) => {
      const base = `${this.instanceUrl(row)}/`;
      // Stored URIs are relative (`bulkdata/<tag path>`), resolved against the instance's URL.
      return rewriteBulkDataUris(row.dicomJson ?? {}, (uri) => (/^[a-z]+:/i.test(uri) ? uri : `${base}${uri}`));
    });
  }

  /** Frames (PS3.18 10.4.1.1.3): 1-based numbers, in the order asked. */
  async frames(origin: AccessOrigin, scope: WadoScope & { sopInstanceUid: string }, numbers: number[], accept: string | undefined, res: Response): Promise<void> {
    const instance = await this.one(origin, scope);
    checkFrameNumbers(instance, numbers);
    await this.sendFrames(origin, instance, numbers, accept, res, 'frames');
  }

  /**
   * Bulk data (PS3.18 10.4.1.1.4): top-level Pixel Data as all its frames (negotiated like frames);
   * any other value the metadata advertises by BulkDataURI as application/octet-stream, Little Endian.
   */
  async bulkdata(origin: AccessOrigin, scope: WadoScope & { sopInstanceUid: string }, tagPath: string, accept: string | undefined, res: Response): Promise<void> {
    const instance = await this.one(origin, scope);
    const path = tagPath.toUpperCase();
    if (path === '7FE00010' && instance.frames.length > 0) {
      await this.sendFrames(origin, instance, instance.frames.map((_, i) => i + 1), accept, res, 'bulkdata');
      return;
    }
    if (!isBulkDataPath(path) || !advertisesBulkData(instance.dicomJson, path)) throw new AppError('not_found', 'The instance has no bulk data at this path');
    const multipart = planBulkData(parseAccept(accept));
    const whole = await this.options.store.read(instance.objectKey, { expectedSize: instance.sizeBytes });
    const value = readBulkValue(whole, path);
    if (value === null) throw new AppError('not_found', 'The instance has no bulk data at this path');
    await this.audit(origin, [instance], 'bulkdata', { tagPath: path });
    if (!multipart) {
      res.status(200).setHeader('Content-Type', OCTET);
      res.end(Buffer.from(value.buffer, value.byteOffset, value.byteLength));
      return;
    }
    const writer = new MultipartWriter(res, OCTET);
    await writer.part({ 'Content-Type': OCTET, 'Content-Location': `${this.instanceUrl(instance)}/bulkdata/${path}` }, value);
    await writer.end();
  }

  private async sendFrames(origin: AccessOrigin, instance: FrameInstance, numbers: number[], accept: string | undefined, res: Response, action: string): Promise<void> {
    const plan = planFrames(parseAccept(accept), instance.transferSyntaxUid, numbers.length);
    // Produce the first frame before auditing and sending headers, so a frame that cannot be decoded is a clean 406.
    const produce = (n: number): Promise<Uint8Array> =>
      plan.mode === 'stored' ? readStoredFrame(this.options.store, instance, n - 1) : nativeFrame(this.options.store, instance, n - 1);
    const firstNumber = numbers[0];
    if (firstNumber === undefined) throw new AppError('bad_request', 'No frame numbers');
    const firstBytes = await produce(firstNumber);
    await this.audit(origin, [instance], action, { frames: numbers.slice(0, 50), transferSyntax: plan.transferSyntax });
    if (!plan.multipart) {
      res.status(200).setHeader('Content-Type', plan.partType);
      res.end(Buffer.from(firstBytes.buffer, firstBytes.byteOffset, firstBytes.byteLength));
      return;
    }
    const writer = new MultipartWriter(res, plan.bodyType, { 'transfer-syntax': plan.transferSyntax });
    for (const [i, n] of numbers.entries()) {
      const bytes = i === 0 ? firstBytes : await produce(n);
      await writer.part({ 'Content-Type': plan.partType, 'Content-Location': `${this.instanceUrl(instance)}/frames/${n}` }, bytes);
    }
    await writer.end();
  }

  /** Rendered instance or frame (PS3.18 10.4.1.1.5, 8.3.5): frame 1 of an instance. */
  async rendered(
    origin: AccessOrigin,
    scope: WadoScope & { sopInstanceUid: string },
    frameNumber: number,
    format: RenderFormat,
    options: Omit<RenderOptions, 'format'>,
  ): Promise<{ mediaType: string; body: Buffer }> {
    const instance = await this.one(origin, scope);
    if (instance.frames.length === 0) throw new AppError('not_found', 'The instance has no image to render');
    checkFrameNumbers(instance, [frameNumber]);
    const frame = await decodeStoredFrame(this.options.store, instance, frameNumber - 1);
    const body = await renderFrame(frame, { format, ...options });
    await this.audit(origin, [instance], 'rendered', { frames: [frameNumber] });
    return { mediaType: RENDER_MEDIA_TYPE[format], body };
  }

  /**
   * Thumbnail of a study, series or instance (PS3.18 10.4.1.1.6): the series thumbnail ingest made
   * when there is one and JPEG is acceptable, else frame 1 of the first image rendered small.
   */
  async thumbnail(origin: AccessOrigin, scope: WadoScope, format: RenderFormat, viewport?: { width: number; height: number }): Promise<{ mediaType: string; body: Buffer }> {
    const rows = await this.instances(origin, scope);
    const image = rows.find((r) => (r.rows ?? 0) > 0 && (r.columns ?? 0) > 0);
    if (image === undefined) throw new AppError('not_found', 'No image to make a thumbnail of');
    if (format === 'jpeg' && viewport === undefined) {
      // A missing or unreachable derived object is not an error: the thumbnail is rendered instead.
      const file = await this.options.derived.get(seriesThumbnailKey(image.seriesInstanceUid)).catch(() => null);
      if (file !== null) {
        await this.audit(origin, [image], 'thumbnail');
        return { mediaType: 'image/jpeg', body: file };
      }
    }
    return this.rendered(origin, { ...scope, seriesInstanceUid: image.seriesInstanceUid, sopInstanceUid: image.sopInstanceUid }, 1, format, {
      viewport: viewport ?? { width: THUMBNAIL_SIZE, height: THUMBNAIL_SIZE },
    });
  }

  /** WADO-URI with contentType=application/dicom: the stored object, single part (PS3.18 9.4.1). */
  async singleInstance(origin: AccessOrigin, scope: WadoScope & { sopInstanceUid: string }, transferSyntax: string | undefined, res: Response): Promise<void> {
    const rows = await this.instances(origin, scope);
    const [row] = rows;
    if (row === undefined) throw new AppError('not_found', 'Not found');
    if (transferSyntax !== undefined && transferSyntax !== '*' && transferSyntax !== row.transferSyntaxUid) {
      notAcceptable(`transfer syntax ${transferSyntax} (the instance is sent as stored)`);
    }
    await this.audit(origin, rows, 'wado-uri');
    const { stream } = await this.options.store.readStream(row.objectKey, undefined, { expectedSize: row.sizeBytes });
    res.status(200).setHeader('Content-Type', 'application/dicom');
    res.setHeader('Content-Length', String(row.sizeBytes));
    await sendStream(res, stream);
  }

  private instanceUrl(row: InstanceRow): string {
    return `${this.options.baseUrl}/studies/${row.studyInstanceUid}/series/${row.seriesInstanceUid}/instances/${row.sopInstanceUid}`;
  }
}
