/** SQL of reader-guided scoring: the study and instance the reader points at (within their grants), and the result row. */
import type { PoolClient } from '@yunying/catalog';
import type { NoduleFinding } from '@yunying/nodule-model';

export interface PointedInstance {
  studyRef: string;
  clinicId: string;
  objectKey: string;
  sizeBytes: number;
}

export interface ReaderAiRow {
  id: string;
  sopInstanceUid: string;
  frameNumber: number;
  requestedBy: string;
  model: { id: string; version: string; sha256: string };
  box: { x: number; y: number; width: number; height: number };
  finding: NoduleFinding;
  createdAt: string;
}

export class ReaderAiRepository {
  /** The current instance of a study visible to the caller (tenancySql filters s.clinic_id), or null. */
  async instance(db: PoolClient, studyUid: string, sopInstanceUid: string, tenancySql: string, params: unknown[]): Promise<PointedInstance | null> {
    const { rows } = await db.query<{ study_ref: string; clinic_id: string; object_key: string; size_bytes: string }>(
      `SELECT s.id AS study_ref, s.clinic_id, o.object_key, i.size_bytes
         FROM studies s JOIN instances i ON i.study_ref = s.id AND i.is_current JOIN objects o ON o.sha256 = i.sha256
        WHERE s.study_instance_uid = $${params.length + 1} AND i.sop_instance_uid = $${params.length + 2} AND ${tenancySql}`,
      [...params, studyUid, sopInstanceUid],
    );
    const r = rows[0];
    return r ? { studyRef: r.study_ref, clinicId: r.clinic_id, objectKey: r.object_key, sizeBytes: Number(r.size_bytes) } : null;
  }

  async studyRef(db: PoolClient, studyUid: string, tenancySql: string, params: unknown[]): Promise<{ id: string; clinicId: string } | null> {
    const { rows } = await db.query<{ id: string; clinic_id: string }>(
      `SELECT s.id, s.clinic_id FROM studies s WHERE s.study_instance_uid = $${params.length + 1} AND ${tenancySql}`,
      [...params, studyUid],
    );
    const r = rows[0];
    return r ? { id: r.id, clinicId: r.clinic_id } : null;
  }

  async insert(db: PoolClient, row: Omit<ReaderAiRow, 'id' | 'createdAt'> & { studyRef: string }): Promise<ReaderAiRow> {
    const { rows } = await db.query<{ id: string; created_at: Date }>(
      `INSERT INTO reader_ai_results (study_ref, sop_instance_uid, frame_number, requested_by, model_id, model_version, model_sha256, box, finding)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) RETURNING id, created_at`,
      [row.studyRef, row.sopInstanceUid, row.frameNumber, row.requestedBy, row.model.id, row.model.version, row.model.sha256, JSON.stringify(row.box), JSON.stringify(row.finding)],
    );
    const r = rows[0];
    if (!r) throw new Error('reader_ai_results insert returned nothing');
    return { ...row, id: r.id, createdAt: r.created_at.toISOString() };
  }

  async list(db: PoolClient, studyRef: string): Promise<ReaderAiRow[]> {
    const { rows } = await db.query<{
      id: string;
      sop_instance_uid: string;
      frame_number: number;
      requested_by: string;
      model_id: string;
      model_version: string;
      model_sha256: string;
      box: ReaderAiRow['box'];
      finding: NoduleFinding;
      created_at: Date;
    }>('SELECT * FROM reader_ai_results WHERE study_ref = $1 ORDER BY created_at, id', [studyRef]);
    return rows.map((r) => ({
      id: r.id,
      sopInstanceUid: r.sop_instance_uid,
      frameNumber: r.frame_number,
      requestedBy: r.requested_by,
      model: { id: r.model_id, version: r.model_version, sha256: r.model_sha256 },
      box: r.box,
      finding: r.finding,
      createdAt: r.created_at.toISOString(),
    }));
  }
}
