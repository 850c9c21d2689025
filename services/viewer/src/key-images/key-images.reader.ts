import { currentImagesOf, type Pool } from '@yunying/catalog';
import { naturalizedDataset } from '@yunying/dicom';
import type { ReplicatedStore } from '@yunying/storage';
import { keyImagesOfKos } from './key-images.kos';
import { KeyImageRepository } from './key-images.repository';

/** An image a share shows: an instance and its 1-based frame. */
export interface ShownImage {
  seriesInstanceUid: string;
  sopInstanceUid: string;
  frameNumber: number;
}

export interface ShownImages {
  /** 'marked': the reader's key images, read from the stored KOS; 'first-of-series': none are marked. */
  source: 'marked' | 'first-of-series';
  images: ShownImage[];
}

/**
 * The images a share shows (#20): the key images of the study's current Key Object Selection, read back
 * from the archived KOS itself (the record, not a copy of it); without one (never marked, every mark
 * removed, or its store not finished), the first image of each series, so a share still shows the study.
 */
export async function shownImages(pool: Pool, store: ReplicatedStore, studyRef: string, limit: number): Promise<ShownImages> {
  const marked = await markedImages(pool, store, studyRef, limit);
  if (marked.length > 0) return { source: 'marked', images: marked };
  return { source: 'first-of-series', images: await firstOfSeries(pool, studyRef, limit) };
}

async function markedImages(pool: Pool, store: ReplicatedStore, studyRef: string, limit: number): Promise<ShownImage[]> {
  const repo = new KeyImageRepository(pool);
  const key = await repo.latestCompleteKosKey(pool, studyRef);
  if (key === null) return [];
  const refs = keyImagesOfKos(naturalizedDataset(await store.read(key))).slice(0, limit);
  if (refs.length === 0) return [];
  // Only what the study still holds as current images: a KOS names UIDs, the catalog says what they are now.
  const bySop = await currentImagesOf(pool, studyRef, refs.map((r) => r.sopInstanceUid));
  return refs.flatMap((ref) => {
    const instance = bySop.get(ref.sopInstanceUid);
    const frame = ref.frameNumber ?? 1;
    if (instance === undefined || frame > (instance.numberOfFrames ?? 1)) return [];
    return [{ seriesInstanceUid: instance.seriesInstanceUid, sopInstanceUid: ref.sopInstanceUid, frameNumber: frame }];
  });
}

/** Frame 1 of the first image instance of each series (SR, SEG and KOS have no rows). */
async function firstOfSeries(pool: Pool, studyRef: string, limit: number): Promise<ShownImage[]> {
  const rows = await new KeyImageRepository(pool).firstImageOfEachSeries(pool, studyRef, limit);
  return rows.map((r) => ({ seriesInstanceUid: r.seriesInstanceUid, sopInstanceUid: r.sopInstanceUid, frameNumber: 1 }));
}
