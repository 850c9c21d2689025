import type { Pool } from '@yunying/catalog';
import { naturalizedDataset } from '@yunying/dicom';
import type { ReplicatedStore } from '@yunying/storage';
import { keyImagesOfKos } from './key-images.kos';

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
  // The latest revision that is complete: stored, or empty (the reader removed every mark).
  const { rows } = await pool.query<{ object_key: string | null }>(
    `SELECT o.object_key FROM key_image_selections k
       LEFT JOIN instances i ON i.sop_instance_uid = k.kos_sop_instance_uid AND i.is_current
       LEFT JOIN objects o ON o.sha256 = i.sha256
      WHERE k.study_ref = $1 AND (k.kos_stored_at IS NOT NULL OR k.kos_sop_instance_uid IS NULL)
      ORDER BY k.revision DESC LIMIT 1`,
    [studyRef],
  );
  const key = rows[0]?.object_key ?? null;
  if (key === null) return [];
  const refs = keyImagesOfKos(naturalizedDataset(await store.read(key))).slice(0, limit);
  if (refs.length === 0) return [];
  // Only what the study still holds as current images: a KOS names UIDs, the catalog says what they are now.
  const found = await pool.query<{ series_instance_uid: string; sop_instance_uid: string; number_of_frames: number | null }>(
    `SELECT se.series_instance_uid, i.sop_instance_uid, i.number_of_frames FROM instances i JOIN series se ON se.id = i.series_ref
      WHERE i.study_ref = $1 AND i.is_current AND i.rows > 0 AND i.columns > 0 AND i.sop_instance_uid = ANY($2::text[])`,
    [studyRef, refs.map((r) => r.sopInstanceUid)],
  );
  const bySop = new Map(found.rows.map((r) => [r.sop_instance_uid, r]));
  return refs.flatMap((ref) => {
    const instance = bySop.get(ref.sopInstanceUid);
    const frame = ref.frameNumber ?? 1;
    if (instance === undefined || frame > (instance.number_of_frames ?? 1)) return [];
    return [{ seriesInstanceUid: instance.series_instance_uid, sopInstanceUid: ref.sopInstanceUid, frameNumber: frame }];
  });
}

/** Frame 1 of the first image instance of each series (SR, SEG and KOS have no rows). */
async function firstOfSeries(pool: Pool, studyRef: string, limit: number): Promise<ShownImage[]> {
  const { rows } = await pool.query<{ series_instance_uid: string; sop_instance_uid: string }>(
    `SELECT series_instance_uid, sop_instance_uid FROM (
       SELECT DISTINCT ON (se.id) se.series_instance_uid, i.sop_instance_uid, se.series_number, se.id AS series_id
         FROM instances i JOIN series se ON se.id = i.series_ref
        WHERE i.study_ref = $1 AND i.is_current AND i.rows > 0 AND i.columns > 0
        ORDER BY se.id, i.instance_number NULLS LAST, i.id) k
      ORDER BY series_number NULLS LAST, series_id LIMIT $2`,
    [studyRef, limit],
  );
  return rows.map((r) => ({ seriesInstanceUid: r.series_instance_uid, sopInstanceUid: r.sop_instance_uid, frameNumber: 1 }));
}
