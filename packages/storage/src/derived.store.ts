import fs from 'node:fs/promises';
import path from 'node:path';
import type * as Minio from 'minio';
import { minio } from './minio.lazy';
import { AppError } from '@yunying/core';
import { ObjectEnvelope } from './envelope/object.envelope';
import { streamToBytes, unavailable } from './util';

/**
 * Derived objects (series thumbnails today): one copy, no retention lock, rebuildable from the archive at
 * any time. They live in object storage, not on a process's local disk, so every viewer process of a
 * scale-out deployment reads what any ingest process wrote (issue #18). Losing one is harmless: the
 * viewer renders from the archived instance instead.
 *
 * Writers (ingest, keeper) call prepare() to create the directory or bucket; readers (viewer) never do,
 * so they can run with read-only credentials.
 *
 * With an envelope that seals (#17), each object is stored sealed like the archive's copies (thumbnails
 * show patient images); objects written before are served as they are.
 */
export interface DerivedStore {
  readonly kind: 'fs' | 's3';
  /** Creates the directory / bucket (no Object Lock) when absent. Writers only. Idempotent. */
  prepare(): Promise<void>;
  put(key: string, bytes: Uint8Array, contentType: string): Promise<void>;
  /** The object, or null when it does not exist (or its bucket does not exist yet). */
  get(key: string): Promise<Buffer | null>;
  /**
   * Removes the object for good (every stored version): a study disposed of after its retention takes its
   * thumbnails with it, since they show the patient's images. Nothing there is not an error. Writers only.
   */
  remove(key: string): Promise<void>;
}

export type DerivedStoreSettings =
  | { backend: 'fs'; dir: string }
  | { backend: 's3'; endpoint: string; bucket: string; accessKey: string; secretKey: string; region: string };

/** The key of a series thumbnail: ingest writes it, the viewer reads it. */
export function seriesThumbnailKey(seriesInstanceUid: string): string {
  return `thumbnails/${seriesInstanceUid}.jpg`;
}

/** `thumbnails/<uid>.jpg` style keys: no absolute paths, no `..`, a small alphabet. */
export function assertDerivedKey(key: string): string {
  if (!/^[A-Za-z0-9_-]+(?:\/[A-Za-z0-9_.-]+)*$/.test(key) || key.split('/').some((part) => part === '..' || part === '.') || key.length > 512) {
    throw new AppError('internal', 'derived object key is not a plain relative key');
  }
  return key;
}

export function createDerivedStore(settings: DerivedStoreSettings, envelope: ObjectEnvelope = ObjectEnvelope.plain()): DerivedStore {
  return settings.backend === 'fs' ? new FsDerivedStore(settings.dir, envelope) : new S3DerivedStore(settings, envelope);
}

export class FsDerivedStore implements DerivedStore {
  readonly kind = 'fs' as const;

  constructor(
    readonly dir: string,
    private readonly envelope: ObjectEnvelope = ObjectEnvelope.plain(),
  ) {}

  async prepare(): Promise<void> {
    await fs.mkdir(this.dir, { recursive: true, mode: 0o750 });
  }

  async put(key: string, bytes: Uint8Array, _contentType: string): Promise<void> {
    const file = path.join(this.dir, assertDerivedKey(key));
    // Thumbnails show patient images: service user and group only (#17 finding 8: they were 0644 in 0755).
    await fs.mkdir(path.dirname(file), { recursive: true, mode: 0o750 });
    // Write then rename: a reader sees the whole object or none.
    const temp = `${file}.${process.pid}.${Date.now()}.tmp`;
    await fs.writeFile(temp, await this.envelope.seal(bytes), { mode: 0o640 });
    await fs.rename(temp, file);
  }

  async get(key: string): Promise<Buffer | null> {
    let stored: Buffer;
    try {
      stored = await fs.readFile(path.join(this.dir, assertDerivedKey(key)));
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return null;
      throw unavailable('derived', 'cannot read a derived object', error);
    }
    return asBuffer(await this.envelope.open(stored));
  }

  async remove(key: string): Promise<void> {
    try {
      await fs.unlink(path.join(this.dir, assertDerivedKey(key)));
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return;
      throw unavailable('derived', 'cannot remove a derived object', error);
    }
  }
}

function s3Code(error: unknown): string | undefined {
  const code = (error as { code?: unknown } | null)?.code;
  return typeof code === 'string' ? code : undefined;
}

export class S3DerivedStore implements DerivedStore {
  readonly kind = 's3' as const;
  readonly bucket: string;
  private readonly region: string;
  private readonly client: Minio.Client;

  private readonly envelope: ObjectEnvelope;

  constructor(settings: Extract<DerivedStoreSettings, { backend: 's3' }>, envelope: ObjectEnvelope = ObjectEnvelope.plain()) {
    this.envelope = envelope;
    let url: URL;
    try {
      url = new URL(settings.endpoint);
    } catch {
      throw new AppError('config_invalid', 'derived objects: S3 endpoint is not a URL');
    }
    const useSSL = url.protocol === 'https:';
    this.bucket = settings.bucket;
    this.region = settings.region;
    this.client = new (minio().Client)({
      endPoint: url.hostname,
      port: url.port === '' ? (useSSL ? 443 : 80) : Number(url.port),
      useSSL,
      accessKey: settings.accessKey,
      secretKey: settings.secretKey,
      region: settings.region,
      pathStyle: true,
    });
  }

  async prepare(): Promise<void> {
    try {
      if (await this.client.bucketExists(this.bucket)) return;
      // No Object Lock on purpose: derived objects are replaced when the renderer improves.
      await this.client.makeBucket(this.bucket, this.region);
    } catch (error) {
      const code = s3Code(error);
      if (code === 'BucketAlreadyOwnedByYou') return;
      throw unavailable('derived', 'cannot prepare the derived-objects bucket', error);
    }
  }

  async put(key: string, bytes: Uint8Array, contentType: string): Promise<void> {
    const buffer = asBuffer(await this.envelope.seal(bytes));
    try {
      await this.client.putObject(this.bucket, assertDerivedKey(key), buffer, buffer.length, { 'Content-Type': this.envelope.sealing === null ? contentType : 'application/octet-stream' });
    } catch (error) {
      throw unavailable('derived', 'cannot write a derived object', error);
    }
  }

  async get(key: string): Promise<Buffer | null> {
    let stored: Uint8Array;
    try {
      stored = await streamToBytes(await this.client.getObject(this.bucket, assertDerivedKey(key)));
    } catch (error) {
      const code = s3Code(error);
      if (code === 'NoSuchKey' || code === 'NotFound' || code === 'NoSuchBucket') return null;
      throw unavailable('derived', 'cannot read a derived object', error);
    }
    return asBuffer(await this.envelope.open(stored));
  }

  /**
   * The bucket is created without versioning; if an operator turned it on, a plain delete would only hide
   * the image behind a delete marker, so every version of the key (and marker) is removed by its id.
   */
  async remove(key: string): Promise<void> {
    type Listed = { name?: string; versionId?: string | null };
    const name = assertDerivedKey(key);
    try {
      await this.client.removeObject(this.bucket, name);
      const versions: string[] = [];
      for await (const item of this.client.listObjects(this.bucket, name, true, { IncludeVersion: true }) as AsyncIterable<Listed>) {
        if (item.name === name && typeof item.versionId === 'string' && item.versionId !== 'null') versions.push(item.versionId);
      }
      for (const versionId of versions) await this.client.removeObject(this.bucket, name, { versionId });
    } catch (error) {
      if (s3Code(error) === 'NoSuchBucket') return;
      throw unavailable('derived', 'cannot remove a derived object', error);
    }
  }
}

function asBuffer(bytes: Uint8Array): Buffer {
  return Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}
