import { sql, type RawBuilder } from 'kysely';
import type { Principal } from './principal';

/**
 * A principal's clinic scope (principal.ts) as a SQL condition, for the repositories of every package to put in
 * their WHERE, so that rows of other clinics are excluded by the database, not after it. Not a repository (it
 * runs no query; the repositories of archive, audit and viewer compose it into theirs), so the "SQL only in
 * repositories" guard (#19, test/foundation/sql-in-repositories.unit.test.ts) lists this module by name as an
 * exception: one tenancy condition written once, rather than a copy in each repository.
 */

export interface ClinicFilter {
  /** A boolean SQL expression; `TRUE` for callers who see every clinic. */
  sql: string;
  /** The parameters it uses: empty, or one uuid[] at `$paramIndex`. */
  params: unknown[];
}

const COLUMN = /^([a-z_][a-z0-9_]*\.)?[a-z_][a-z0-9_]*$/;

/**
 * The tenancy condition of a query, so rows of other clinics are excluded by the database, not after it:
 *
 *   const f = clinicFilter(req.principal, 's.clinic_id', params.length + 1);
 *   params.push(...f.params);
 *   sql += ` AND ${f.sql}`;
 *
 * `column` is an identifier from code (never from a request).
 */
export function clinicFilter(principal: Principal, column: string, paramIndex: number): ClinicFilter {
  if (!COLUMN.test(column)) throw new Error(`clinicFilter: invalid column ${column}`);
  if (!Number.isInteger(paramIndex) || paramIndex < 1) throw new Error('clinicFilter: paramIndex must be a positive integer');
  if (principal.clinics.all) return { sql: 'TRUE', params: [] };
  return { sql: `${column} = ANY($${paramIndex}::uuid[])`, params: [[...principal.clinics.clinicIds]] };
}

/**
 * clinicFilter for a typed query (kyselyOn): the same condition, its clinic ids a bound parameter of the query,
 * e.g. `.where(clinicCondition(principal, 's.clinic_id'))`. `column` is the snake_case column, from code.
 */
export function clinicCondition(principal: Principal, column: string): RawBuilder<boolean> {
  if (!COLUMN.test(column)) throw new Error(`clinicCondition: invalid column ${column}`);
  if (principal.clinics.all) return sql<boolean>`TRUE`;
  return sql<boolean>`${sql.raw(column)} = ANY(${[...principal.clinics.clinicIds]}::uuid[])`;
}

/** Same as clinicFilter, pushing its parameter onto `params` and returning the SQL condition. */
export function addClinicFilter(principal: Principal, column: string, params: unknown[]): string {
  const filter = clinicFilter(principal, column, params.length + 1);
  params.push(...filter.params);
  return filter.sql;
}
