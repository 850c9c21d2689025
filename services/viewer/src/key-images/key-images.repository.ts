import type { Pool, PoolClient } from '@yunying/catalog';
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

interface Row {
  id: string;
  study_ref: string;
  revision: number;
  title_code: string;
  images: KeyImageRef[];
  created_by: string;
  reader_name: string;
  created_at: Date;
  kos_sop_instance_uid: string | null;
  kos_sha256: string | null;
  kos_stored_at: Date | null;
}

const COLUMNS = `k.id, k.study_ref::text, k.revision, k.title_code, k.images, k.created_by::text,
  coalesce(nullif(u.display_name, ''), u.username) AS reader_name, k.created_at, k.kos_sop_instance_uid, k.kos_sha256, k.kos_stored_at`;

function toSelection(r: Row): SelectionRow {
  return {
    id: r.id,
    studyRef: r.study_ref,
    revision: r.revision,
    titleCode: r.title_code,
    images: r.images,
    createdBy: r.created_by,
    readerName: r.reader_name,
    createdAt: r.created_at,
    kosSopInstanceUid: r.kos_sop_instance_uid,
    kosSha256: r.kos_sha256,
    kosStoredAt: r.kos_stored_at,
  };
}

/** The instance a reader marks, as the catalog holds it: only current image instances of the study. */
export interface MarkableInstance {
  seriesInstanceUid: string;
  sopInstanceUid: string;
  sopClassUid: string;
  numberOfFrames: number | null;
}

export class KeyImageRepository {
  constructor(private readonly pool: Pool) {}

  async studyInScope(db: PoolClient, studyUid: string, tenancySql: string, params: unknown[], forUpdate: boolean): Promise<{ studyRef: string; clinicId: string } | null> {
    const { rows } = await db.query<{ id: string; clinic_id: string }>(
      `SELECT s.id::text, s.clinic_id FROM studies s WHERE s.study_instance_uid = $${params.length + 1} AND ${tenancySql}${forUpdate ? ' FOR UPDATE OF s' : ''}`,
      [...params, studyUid],
    );
    const row = rows[0];
    return row === undefined ? null : { studyRef: row.id, clinicId: row.clinic_id };
  }

  /** The study's current image instances among `sopInstanceUids` (SR, SEG and KOS have no rows). */
  async markable(db: PoolClient, studyRef: string, sopInstanceUids: readonly string[]): Promise<Map<string, MarkableInstance>> {
    const { rows } = await db.query<{ series_instance_uid: string; sop_instance_uid: string; sop_class_uid: string; number_of_frames: number | null }>(
      `SELECT se.series_instance_uid, i.sop_instance_uid, i.sop_class_uid, i.number_of_frames
         FROM instances i JOIN series se ON se.id = i.series_ref
        WHERE i.study_ref = $1 AND i.is_current AND i.rows > 0 AND i.columns > 0 AND i.sop_instance_uid = ANY($2::text[])`,
      [studyRef, sopInstanceUids],
    );
    return new Map(rows.map((r) => [r.sop_instance_uid, { seriesInstanceUid: r.series_instance_uid, sopInstanceUid: r.sop_instance_uid, sopClassUid: r.sop_class_uid, numberOfFrames: r.number_of_frames }]));
  }

  async latest(db: Pool | PoolClient, studyRef: string): Promise<SelectionRow | null> {
    const { rows } = await db.query<Row>(
      `SELECT ${COLUMNS} FROM key_image_selections k JOIN users u ON u.id = k.created_by WHERE k.study_ref = $1 ORDER BY k.revision DESC LIMIT 1`,
      [studyRef],
    );
    return rows[0] === undefined ? null : toSelection(rows[0]);
  }

  async byId(db: Pool | PoolClient, id: string): Promise<SelectionRow | null> {
    const { rows } = await db.query<Row>(`SELECT ${COLUMNS} FROM key_image_selections k JOIN users u ON u.id = k.created_by WHERE k.id = $1`, [id]);
    return rows[0] === undefined ? null : toSelection(rows[0]);
  }

  async insert(
    db: PoolClient,
    s: { id: string; studyRef: string; revision: number; titleCode: string; images: KeyImageRef[]; createdBy: string; createdAt: Date; kos: { sopInstanceUid: string; sha256: string } | null },
  ): Promise<void> {
    await db.query(
      `INSERT INTO key_image_selections (id, study_ref, revision, title_code, images, created_by, created_at, kos_sop_instance_uid, kos_sha256)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)`,
      [s.id, s.studyRef, s.revision, s.titleCode, JSON.stringify(s.images), s.createdBy, s.createdAt, s.kos?.sopInstanceUid ?? null, s.kos?.sha256 ?? null],
    );
  }

  async readerName(db: PoolClient, userId: string): Promise<string> {
    const { rows } = await db.query<{ name: string }>(`SELECT coalesce(nullif(display_name, ''), username) AS name FROM users WHERE id = $1`, [userId]);
    return rows[0]?.name ?? 'unknown';
  }

  async markStored(id: string): Promise<void> {
    await this.pool.query('UPDATE key_image_selections SET kos_stored_at = now() WHERE id = $1 AND kos_stored_at IS NULL', [id]);
  }
}
