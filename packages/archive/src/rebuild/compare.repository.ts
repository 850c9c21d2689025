import type { Pool } from '@yunying/catalog';
import { streamRows } from './cursor';

/**
 * The rows `rebuild-catalog --compare` reads from either catalog, entity by entity, each streamed in key
 * order through a server-side cursor. Kept as SQL text: the rows are compared column by column under the
 * database's own column names (a difference names them), so they must not pass through the camelCase plugin.
 */

export type ComparedEntity = 'study' | 'series' | 'instance' | 'object' | 'copy';

interface EntityQuery {
  /** The key as text, compared in byte order on both sides (COLLATE "C" in SQL, code units in JS). */
  key: string;
  fields: string;
  from: string;
}

// Not studies.received_at: live, it is the arrival of the instance whose transaction created the study
// row, not always the earliest when one request's instances commit out of order; a rebuild sets the
// earliest. Instances' received_at is exact and compared.
const ENTITIES: Record<ComparedEntity, EntityQuery> = {
  study: {
    key: 's.study_instance_uid',
    fields: 's.clinic_id, s.number_of_series, s.number_of_instances, s.modalities, s.study_date, s.patient_id, s.accession_number, s.last_instance_at, s.legal_hold',
    from: 'studies s',
  },
  series: {
    key: 'se.series_instance_uid',
    fields: 's.study_instance_uid, se.modality, se.series_number, se.number_of_instances',
    from: 'series se JOIN studies s ON s.id = se.study_ref',
  },
  instance: {
    key: "i.sop_instance_uid || ' v' || i.version",
    fields: `i.clinic_id, s.study_instance_uid, se.series_instance_uid, i.is_current, i.sop_class_uid, i.transfer_syntax_uid, i.sha256,
      i.dataset_sha256, i.size_bytes, i.instance_number, i.number_of_frames, i.received_at`,
    from: 'instances i JOIN series se ON se.id = i.series_ref JOIN studies s ON s.id = i.study_ref',
  },
  object: { key: 'sha256', fields: 'object_key, size_bytes, retain_until, legal_hold', from: 'objects' },
  copy: { key: "sha256 || ' ' || target", fields: 'object_key, version_id, size_bytes, retain_until, lock_mode, state', from: 'copies' },
};

/** The compared entities, in the order they are compared. */
export const COMPARED_ENTITIES: readonly ComparedEntity[] = ['study', 'series', 'instance', 'object', 'copy'];

/** One row: its key (`k`) and the compared columns under their database names. */
export type ComparedRow = Record<string, unknown> & { k: string };

/** The entity's rows in key order (byte order of the key). */
export function entityRows(pool: Pool, name: ComparedEntity): AsyncGenerator<ComparedRow> {
  const entity = ENTITIES[name];
  return streamRows<ComparedRow>(pool, `SELECT ${entity.key} AS k, ${entity.fields} FROM ${entity.from} ORDER BY (${entity.key}) COLLATE "C"`);
}
