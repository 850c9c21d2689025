import sharp from 'sharp';
import { describeError, type Logger } from '@yunying/core';
import { setSeriesThumbnail, seriesHasThumbnail, type Pool } from '@yunying/catalog';
import { TransferSyntax, readFrame, type ParsedInstance } from '@yunying/dicom';
import { seriesThumbnailKey, type DerivedStore } from '@yunying/storage';

/**
 * A small JPEG thumbnail per series (ARCHITECTURE step 5), from the first frame of the first instance
 * that can be rendered. Thumbnails are derived objects in object storage (the derived store: one copy,
 * not a retention copy, rebuildable from the archive at any time), so any viewer process can serve what
 * any ingest process made. Failures never affect ingest.
 */
/** Series known to have a thumbnail: remembered so later instances skip the catalog lookup (#14). */
const REMEMBERED_SERIES = 10_000;

export class ThumbnailService {
  private readonly inFlight = new Set<string>();
  private readonly done = new Set<string>();

  constructor(
    private readonly pool: Pool,
    private readonly derived: DerivedStore,
    private readonly logger: Logger,
  ) {}

  /** Fire-and-forget from the ingest path; returns the promise for tests. */
  schedule(parsed: ParsedInstance, bytes: Uint8Array, known: { seriesHasThumbnail?: boolean } = {}): Promise<void> {
    const series = parsed.seriesInstanceUid;
    if (this.inFlight.has(series) || this.done.has(series)) return Promise.resolve();
    // The ingest transaction read the series row: a thumbnail it saw needs no lookup here (#14).
    if (known.seriesHasThumbnail === true) {
      this.remember(series);
      return Promise.resolve();
    }
    this.inFlight.add(series);
    return this.make(parsed, bytes, known.seriesHasThumbnail === false)
      .catch((error: unknown) => this.logger.warn({ err: describeError(error), series }, 'thumbnail not made'))
      .finally(() => this.inFlight.delete(series));
  }

  private async make(parsed: ParsedInstance, bytes: Uint8Array, knownWithout: boolean): Promise<void> {
    if (parsed.frames.length === 0) return;
    if (!knownWithout && (await seriesHasThumbnail(this.pool, parsed.seriesInstanceUid))) {
      this.remember(parsed.seriesInstanceUid);
      return;
    }
    const image = this.sourceImage(parsed, bytes);
    if (!image) return;
    const key = seriesThumbnailKey(parsed.seriesInstanceUid);
    const jpeg = await image.resize(160, 160, { fit: 'inside' }).jpeg({ quality: 80 }).toBuffer();
    // Object first, catalog second: the catalog never names a thumbnail that is not there.
    await this.derived.put(key, jpeg, 'image/jpeg');
    await setSeriesThumbnail(this.pool, parsed.seriesInstanceUid, key);
    this.remember(parsed.seriesInstanceUid);
  }

  /** A thumbnail, once there, is never removed with its series still stored, so this never goes stale. */
  private remember(series: string): void {
    // Bounded: the oldest is forgotten first, and a forgotten series costs one lookup again.
    if (this.done.size >= REMEMBERED_SERIES) {
      const oldest = this.done.values().next();
      if (oldest.done !== true) this.done.delete(oldest.value);
    }
    this.done.add(series);
  }

  /** Native 8-bit grey or RGB, and JPEG baseline; other encodings wait for the shared pixel decoder. */
  private sourceImage(parsed: ParsedInstance, bytes: Uint8Array): sharp.Sharp | null {
    const { Rows, Columns, BitsAllocated, PhotometricInterpretation } = parsed.attributes;
    const frame = readFrame(bytes, parsed, 0);
    if (parsed.transferSyntaxUid === TransferSyntax.JPEGBaseline) return sharp(frame);
    const native = parsed.transferSyntaxUid === TransferSyntax.ExplicitVRLittleEndian || parsed.transferSyntaxUid === TransferSyntax.ImplicitVRLittleEndian;
    if (!native || BitsAllocated !== 8 || !Rows || !Columns) return null;
    if (PhotometricInterpretation === 'MONOCHROME2') return sharp(frame, { raw: { width: Columns, height: Rows, channels: 1 } });
    if (PhotometricInterpretation === 'RGB' && frame.length === Rows * Columns * 3) return sharp(frame, { raw: { width: Columns, height: Rows, channels: 3 } });
    return null;
  }
}
