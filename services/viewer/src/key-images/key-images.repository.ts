import { clinicCondition, type Principal } from '@yunying/auth';
import { kyselyOn, sql, type Pool, type PoolClient, type Tables } from '@yunying/catalog';
import type { KeyImageRef } from './key-images.kos';

/** A saved revision of a study's key images (key_image_selections). */
export interface SelectionRow {
  id: string;
  studyRef: string;
  revision: number;
  titleCode: string;
  images: KeyImageRef[];
  createdBy: string;
  readerName: string;
  createdAt: Date;
  kosSopInstanceUid: string | null;
  kosSha256: string | null;
  kosStoredAt: Date | null;
}

type Db = Pool | PoolClient;

/** The revision columns and the reader's name (display name, else username), as every selection read returns them. */
function selections(db: Db) {
  return kyselyOn(db)
    .selectFrom('keyImageSelections as k')
    .innerJoin('users as u', 'u.id', 'k.createdBy')
    .select(['k.id', 'k.studyRef', 'k.revision', 'k.titleCode', 'k.images', 'k.createdBy', 'k.createdAt', 'k.kosSopInstanceUid', 'k.kosSha256', 'k.kosStoredAt'])
    .select(sql<string>`coalesce(nullif(u.display_name, ''), u.username)`.as('readerName'));
}

/** The images column as the service wrote it (insert below); anything else is a row this code did not write, and fails here. */
function keyImageRefs(id: string, images: Tables.JsonValue): KeyImageRef[] {
  if (!Array.isArray(images)) throw new Error(`key_image_selections ${id}: images is not a list`);
  return images.map((i) => {
    if (typeof i !== 'object' || i === null || Array.isArray(i)) throw new Error(`key_image_selections ${id}: an image is not an object`);
    const { seriesInstanceUid, sopInstanceUid, sopClassUid, frameNumber } = i;
    if (typeof seriesInstanceUid !== 'string' || typeof sopInstanceUid !== 'string' || typeof sopClassUid !== 'string' || (frameNumber !== null && typeof frameNumber !== 'number')) {
      throw new Error(`key_image_selections ${id}: an image lacks its uids or frame number`);
    }
    return { seriesInstanceUid, sopInstanceUid, sopClassUid, frameNumber };
  });
}

function toSelection(r: Omit<SelectionRow, 'images'> & { images: Tables.JsonValue }): SelectionRow {
  return { ...r, images: keyImageRefs(r.id, r.images) };
}

export class KeyImageRepository {
  constructor(private readonly pool: Pool) {}

  /** The study's row id and clinic, within the caller's clinics; `forUpdate` locks the study row (FOR UPDATE OF s). */
  async studyInScope(db: PoolClient, studyUid: string, principal: Principal, forUpdate: boolean): Promise<{ studyRef: string; clinicId: string } | null> {
    const query = kyselyOn(db)
      .selectFrom('studies as s')
      .select(['s.id as studyRef', 's.clinicId'])
      .where('s.studyInstanceUid', '=', studyUid)
      .where(clinicCondition(principal, 's.clinic_id'));
    return (await (forUpdate ? query.forUpdate('s') : query).executeTakeFirst()) ?? null;
  }

  async latest(db: Db, studyRef: string): Promise<SelectionRow | null> {
    const row = await selections(db).where('k.studyRef', '=', studyRef).orderBy('k.revision', 'desc').limit(1).executeTakeFirst();
    return row === undefined ? null : toSelection(row);
  }

  async byId(db: Db, id: string): Promise<SelectionRow | null> {
    const row = await selections(db).where('k.id', '=', id).executeTakeFirst();
    return row === undefined ? null : toSelection(row);
  }

  async insert(
    db: PoolClient,
    s: { id: string; studyRef: string; revision: number; titleCode: string; images: KeyImageRef[]; createdBy: string; createdAt: Date; kos: { sopInstanceUid: string; sha256: string } | null },
  ): Promise<void> {
    await kyselyOn(db)
      .insertInto('keyImageSelections')
      .values({
        id: s.id,
        studyRef: s.studyRef,
        revision: s.revision,
        titleCode: s.titleCode,
        images: JSON.stringify(s.images),
        createdBy: s.createdBy,
        createdAt: s.createdAt,
        kosSopInstanceUid: s.kos?.sopInstanceUid ?? null,
        kosSha256: s.kos?.sha256 ?? null,
      })
      .execute();
  }

  async readerName(db: PoolClient, userId: string): Promise<string> {
    const row = await kyselyOn(db)
      .selectFrom('users')
      .select(sql<string>`coalesce(nullif(display_name, ''), username)`.as('name'))
      .where('id', '=', userId)
      .executeTakeFirst();
    return row?.name ?? 'unknown';
  }

  async markStored(id: string): Promise<void> {
    await kyselyOn(this.pool).updateTable('keyImageSelections').set({ kosStoredAt: sql<Date>`now()` }).where('id', '=', id).where('kosStoredAt', 'is', null).execute();
  }

  /**
   * The object key of the stored KOS of the study's latest complete revision: stored, or empty (the reader
   * removed every mark, key null). Null also when nothing was ever saved.
   */
  async latestCompleteKosKey(db: Db, studyRef: string): Promise<string | null> {
    const row = await kyselyOn(db)
      .selectFrom('keyImageSelections as k')
      .leftJoin('instances as i', (join) => join.onRef('i.sopInstanceUid', '=', 'k.kosSopInstanceUid').on('i.isCurrent', '=', true))
      .leftJoin('objects as o', 'o.sha256', 'i.sha256')
      .select('o.objectKey')
      .where('k.studyRef', '=', studyRef)
      .where((eb) => eb.or([eb('k.kosStoredAt', 'is not', null), eb('k.kosSopInstanceUid', 'is', null)]))
      .orderBy('k.revision', 'desc')
      .limit(1)
      .executeTakeFirst();
    return row?.objectKey ?? null;
  }

  /** The first image instance of each series (SR, SEG and KOS have no rows), in series order, at most `limit`. */
  async firstImageOfEachSeries(db: Db, studyRef: string, limit: number): Promise<{ seriesInstanceUid: string; sopInstanceUid: string }[]> {
    const firsts = kyselyOn(db)
      .selectFrom('instances as i')
      .innerJoin('series as se', 'se.id', 'i.seriesRef')
      .distinctOn('se.id')
      .select(['se.seriesInstanceUid', 'i.sopInstanceUid', 'se.seriesNumber', 'se.id as seriesId'])
      .where('i.studyRef', '=', studyRef)
      .where('i.isCurrent', '=', true)
      .where('i.rows', '>', 0)
      .where('i.columns', '>', 0)
      .orderBy('se.id')
      .orderBy(sql`i.instance_number NULLS LAST`)
      .orderBy('i.id');
    return kyselyOn(db)
      .selectFrom(firsts.as('k'))
      .select(['k.seriesInstanceUid', 'k.sopInstanceUid'])
      .orderBy(sql`k.series_number NULLS LAST`)
      .orderBy('k.seriesId')
      .limit(limit)
      .execute();
  }
}
