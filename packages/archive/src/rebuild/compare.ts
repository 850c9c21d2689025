import type { Pool } from '@yunying/catalog';
import { streamRows } from './cursor';

/**
 * `rebuild-catalog --compare`: the rebuilt catalog against the live one, entity by entity. Each side is
 * streamed in key order (server-side cursors) and merged, so the cost is one sorted pass per table.
 * A difference names its key (UIDs, SHA-256, target) and the fields that differ, never their values:
 * some fields are patient data.
 */

interface Entity {
  name: string;
  /** The key as text, compared in byte order on both sides (COLLATE "C" in SQL, code units in JS). */
  key: string;
  fields: string;
  from: string;
}

// Not studies.received_at: live, it is the arrival of the instance whose transaction created the study
// row, not always the earliest when one request's instances commit out of order; a rebuild sets the
// earliest. Instances' received_at is exact and compared.
const ENTITIES: Entity[] = [
  {
    name: 'study',
    key: 's.study_instance_uid',
    fields: 's.clinic_id, s.number_of_series, s.number_of_instances, s.modalities, s.study_date, s.patient_id, s.accession_number, s.last_instance_at, s.legal_hold',
    from: 'studies s',
  },
  {
    name: 'series',
    key: 'se.series_instance_uid',
    fields: 's.study_instance_uid, se.modality, se.series_number, se.number_of_instances',
    from: 'series se JOIN studies s ON s.id = se.study_ref',
  },
  {
    name: 'instance',
    key: "i.sop_instance_uid || ' v' || i.version",
    fields: `i.clinic_id, s.study_instance_uid, se.series_instance_uid, i.is_current, i.sop_class_uid, i.transfer_syntax_uid, i.sha256,
      i.dataset_sha256, i.size_bytes, i.instance_number, i.number_of_frames, i.received_at`,
    from: 'instances i JOIN series se ON se.id = i.series_ref JOIN studies s ON s.id = i.study_ref',
  },
  { name: 'object', key: 'sha256', fields: 'object_key, size_bytes, retain_until, legal_hold', from: 'objects' },
  { name: 'copy', key: "sha256 || ' ' || target", fields: 'object_key, version_id, size_bytes, retain_until, lock_mode, state', from: 'copies' },
];

function entitySql(entity: Entity): string {
  return `SELECT ${entity.key} AS k, ${entity.fields} FROM ${entity.from} ORDER BY (${entity.key}) COLLATE "C"`;
}

export interface Difference {
  entity: string;
  key: string;
  kind: 'only_live' | 'only_rebuilt' | 'differs';
  fields?: string[];
}

export interface CompareSummary {
  /** Rows compared per entity (the larger side). */
  compared: Record<string, number>;
  differences: Record<string, number>;
}

type Row = Record<string, unknown> & { k: string };

export async function compareCatalogs(live: Pool, rebuilt: Pool, onDifference: (difference: Difference) => void): Promise<CompareSummary> {
  const summary: CompareSummary = { compared: {}, differences: {} };
  for (const entity of ENTITIES) {
    let compared = 0;
    let differences = 0;
    const report = (difference: Difference): void => {
      differences += 1;
      onDifference(difference);
    };
    const a = streamRows<Row>(live, entitySql(entity))[Symbol.asyncIterator]();
    const b = streamRows<Row>(rebuilt, entitySql(entity))[Symbol.asyncIterator]();
    let x = await a.next();
    let y = await b.next();
    while (!x.done || !y.done) {
      compared += 1;
      if (y.done || (!x.done && x.value.k < y.value.k)) {
        if (!x.done) report({ entity: entity.name, key: x.value.k, kind: 'only_live' });
        x = await a.next();
      } else if (x.done || y.value.k < x.value.k) {
        report({ entity: entity.name, key: y.value.k, kind: 'only_rebuilt' });
        y = await b.next();
      } else {
        const fields = differingFields(x.value, y.value);
        if (fields.length > 0) report({ entity: entity.name, key: x.value.k, kind: 'differs', fields });
        x = await a.next();
        y = await b.next();
      }
    }
    summary.compared[entity.name] = compared;
    summary.differences[entity.name] = differences;
  }
  return summary;
}

function differingFields(live: Row, rebuilt: Row): string[] {
  return Object.keys(live).filter((field) => field !== 'k' && comparable(live[field]) !== comparable(rebuilt[field]));
}

function comparable(value: unknown): string {
  if (value instanceof Date) return value.toISOString();
  return JSON.stringify(value ?? null);
}

export function formatDifference(d: Difference): string {
  if (d.kind === 'differs') return `${d.entity} ${d.key}: differs in ${(d.fields ?? []).join(', ')}`;
  return `${d.entity} ${d.key}: only in the ${d.kind === 'only_live' ? 'live' : 'rebuilt'} catalog`;
}
