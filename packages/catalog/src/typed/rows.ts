import type { Selectable } from 'kysely';
import type { AiResults, RebuildCopies } from './database.types';

/**
 * Row types that more than one service reads, defined once from the generated tables (camelCase, as kyselyOn
 * returns them). A service narrows a row to its own shape (an enum, a JSON document) beside the query, never by
 * re-declaring the columns.
 */

/** One triage result (written by services/inference, served by services/viewer). */
export type AiResultRow = Selectable<AiResults>;

/** One replica copy as rebuild-catalog's scan recorded it (read again by its indexing and its report). */
export type RebuildCopyRow = Selectable<RebuildCopies>;
