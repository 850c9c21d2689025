import fs from 'node:fs/promises';
import path from 'node:path';
import sharp from 'sharp';
import { describeError, type Logger } from '@yunying/core';
import { setSeriesThumbnail, seriesHasThumbnail, type Pool } from '@yunying/catalog';
import { TransferSyntax, readFrame, type ParsedInstance } from '@yunying/dicom';

/**
 * A small JPEG thumbnail per series (ARCHITECTURE step 5), from the first frame of the first instance
 * that can be rendered. Thumbnails are derived files under DATA_DIR/derived: not retention copies, and
 * can be rebuilt from the archive at any time. Failures never affect ingest.
 */
export class ThumbnailService {
  private readonly inFlight = new Set<string>();

  constructor(
    private readonly pool: Pool,
    private readonly dir: string,
    private readonly logger: Logger,
  ) {}

  pathFor(seriesInstanceUid: string): string {
    return path.join(this.dir, `${seriesInstanceUid}.jpg`);
  }

  /** Fire-and-forget from the ingest path; returns the promise for tests. */
  schedule(parsed: ParsedInstance, bytes: Uint8Array): Promise<void> {
    const series = parsed.seriesInstanceUid;
    if (this.inFlight.has(series)) return Promise.resolve();
    this.inFlight.add(series);
    return this.make(parsed, bytes)
      .catch((error: unknown) => this.logger.warn({ err: describeError(error), series }, 'thumbnail not made'))
      .finally(() => this.inFlight.delete(series));
  }

  private async make(parsed: ParsedInstance, bytes: Uint8Array): Promise<void> {
    if (parsed.frames.length === 0 || (await seriesHasThumbnail(this.pool, parsed.seriesInstanceUid))) return;
    const image = this.sourceImage(parsed, bytes);
    if (!image) return;
    // Thumbnails show patient images: service user and group only (#17 finding 8: they were 0644).
    await fs.mkdir(this.dir, { recursive: true, mode: 0o750 });
    const target = this.pathFor(parsed.seriesInstanceUid);
    const temp = `${target}.${process.pid}.tmp`;
    await image.resize(160, 160, { fit: 'inside' }).jpeg({ quality: 80 }).toFile(temp);
    await fs.chmod(temp, 0o640);
    await fs.rename(temp, target);
    await setSeriesThumbnail(this.pool, parsed.seriesInstanceUid, path.basename(target));
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
