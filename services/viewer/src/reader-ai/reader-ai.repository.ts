/** SQL of reader-guided scoring: the study and instance the reader points at (within their grants), and the result row. */
import { clinicCondition, type Principal } from '@yunying/auth';
import { kyselyOn, type PoolClient, type Tables } from '@yunying/catalog';
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

/**
 * The box and finding documents as insert below wrote them (a box of four numbers, the model's finding); the
 * box is checked, the finding is the model's own type and is passed on as stored.
 */
function stored(id: string, box: Tables.JsonValue, finding: Tables.JsonValue): Pick<ReaderAiRow, 'box' | 'finding'> {
  if (typeof box !== 'object' || box === null || Array.isArray(box)) throw new Error(`reader_ai_results ${id}: box is not an object`);
  const { x, y, width, height } = box;
  if (typeof x !== 'number' || typeof y !== 'number' || typeof width !== 'number' || typeof height !== 'number') throw new Error(`reader_ai_results ${id}: box lacks a coordinate`);
  if (typeof finding !== 'object' || finding === null || Array.isArray(finding)) throw new Error(`reader_ai_results ${id}: finding is not an object`);
  return { box: { x, y, width, height }, finding: finding as unknown as NoduleFinding };
}

export class ReaderAiRepository {
  /** The current instance of a study visible to the caller, or null. */
  async instance(db: PoolClient, studyUid: string, sopInstanceUid: string, principal: Principal): Promise<PointedInstance | null> {
    const row = await kyselyOn(db)
      .selectFrom('studies as s')
      .innerJoin('instances as i', (join) => join.onRef('i.studyRef', '=', 's.id').on('i.isCurrent', '=', true))
      .innerJoin('objects as o', 'o.sha256', 'i.sha256')
      .select(['s.id as studyRef', 's.clinicId', 'o.objectKey', 'i.sizeBytes'])
      .where('s.studyInstanceUid', '=', studyUid)
      .where('i.sopInstanceUid', '=', sopInstanceUid)
      .where(clinicCondition(principal, 's.clinic_id'))
      .executeTakeFirst();
    return row ? { studyRef: row.studyRef, clinicId: row.clinicId, objectKey: row.objectKey, sizeBytes: Number(row.sizeBytes) } : null;
  }

  /** The study's row id and clinic, when the caller may see it. */
  async studyRef(db: PoolClient, studyUid: string, principal: Principal): Promise<{ id: string; clinicId: string } | null> {
    const row = await kyselyOn(db)
      .selectFrom('studies as s')
      .select(['s.id', 's.clinicId'])
      .where('s.studyInstanceUid', '=', studyUid)
      .where(clinicCondition(principal, 's.clinic_id'))
      .executeTakeFirst();
    return row ?? null;
  }

  async insert(db: PoolClient, row: Omit<ReaderAiRow, 'id' | 'createdAt'> & { studyRef: string }): Promise<ReaderAiRow> {
    const r = await kyselyOn(db)
      .insertInto('readerAiResults')
      .values({
        studyRef: row.studyRef,
        sopInstanceUid: row.sopInstanceUid,
        frameNumber: row.frameNumber,
        requestedBy: row.requestedBy,
        modelId: row.model.id,
        modelVersion: row.model.version,
        modelSha256: row.model.sha256,
        box: JSON.stringify(row.box),
        finding: JSON.stringify(row.finding),
      })
      .returning(['id', 'createdAt'])
      .executeTakeFirstOrThrow(() => new Error('reader_ai_results insert returned nothing'));
    return { ...row, id: r.id, createdAt: r.createdAt.toISOString() };
  }

  async list(db: PoolClient, studyRef: string): Promise<ReaderAiRow[]> {
    const rows = await kyselyOn(db).selectFrom('readerAiResults').selectAll().where('studyRef', '=', studyRef).orderBy('createdAt').orderBy('id').execute();
    return rows.map((r) => ({
      id: r.id,
      sopInstanceUid: r.sopInstanceUid,
      frameNumber: r.frameNumber,
      requestedBy: r.requestedBy,
      model: { id: r.modelId, version: r.modelVersion, sha256: r.modelSha256 },
      ...stored(r.id, r.box, r.finding),
      createdAt: r.createdAt.toISOString(),
    }));
  }
}
