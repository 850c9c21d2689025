import type { Pool } from '@yunying/catalog';
import { COMPARED_ENTITIES, entityRows, type ComparedRow } from './compare.repository';

/**
 * `rebuild-catalog --compare`: the rebuilt catalog against the live one, entity by entity. Each side is
 * streamed in key order (server-side cursors) and merged, so the cost is one sorted pass per table.
 * A difference names its key (UIDs, SHA-256, target) and the fields that differ, never their values:
 * some fields are patient data.
 */

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

export async function compareCatalogs(live: Pool, rebuilt: Pool, onDifference: (difference: Difference) => void): Promise<CompareSummary> {
  const summary: CompareSummary = { compared: {}, differences: {} };
  for (const entity of COMPARED_ENTITIES) {
    let compared = 0;
    let differences = 0;
    const report = (difference: Difference): void => {
      differences += 1;
      onDifference(difference);
    };
    const a = entityRows(live, entity)[Symbol.asyncIterator]();
    const b = entityRows(rebuilt, entity)[Symbol.asyncIterator]();
    let x = await a.next();
    let y = await b.next();
    while (!x.done || !y.done) {
      compared += 1;
      if (y.done || (!x.done && x.value.k < y.value.k)) {
        if (!x.done) report({ entity, key: x.value.k, kind: 'only_live' });
        x = await a.next();
      } else if (x.done || y.value.k < x.value.k) {
        report({ entity, key: y.value.k, kind: 'only_rebuilt' });
        y = await b.next();
      } else {
        const fields = differingFields(x.value, y.value);
        if (fields.length > 0) report({ entity, key: x.value.k, kind: 'differs', fields });
        x = await a.next();
        y = await b.next();
      }
    }
    summary.compared[entity] = compared;
    summary.differences[entity] = differences;
  }
  return summary;
}

function differingFields(live: ComparedRow, rebuilt: ComparedRow): string[] {
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
