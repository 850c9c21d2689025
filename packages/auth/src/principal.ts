import { AppError } from '@yunying/core';
import { sql, type RawBuilder } from 'kysely';

export const ROLES = ['clinic', 'radiologist', 'auditor', 'admin'] as const;
export type Role = (typeof ROLES)[number];

export function isRole(value: unknown): value is Role {
  return typeof value === 'string' && (ROLES as readonly string[]).includes(value);
}

/**
 * Which clinics' data a caller may see. Auditors and admins see every clinic (`all: true`); a clinic user
 * or device sees its own clinic; a radiologist the clinics granted to them (possibly none).
 */
export type ClinicScope = { readonly all: true } | { readonly all: false; readonly clinicIds: readonly string[] };

/** The authenticated caller of a request (`req.principal`). */
export interface Principal {
  kind: 'user' | 'device';
  /** Set for users. */
  userId?: string;
  /** Set for devices authenticated by an API key. */
  apiKeyId?: string;
  /** Set for sessions from a sign-in (browser or API). */
  sessionId?: string;
  /** A user's username; for a device `device:<key name>` or `ae:<AE title>`. */
  username: string;
  role: Role;
  /** The clinic of a clinic user or device; null for other roles. */
  clinicId: string | null;
  clinics: ClinicScope;
}

export function canAccessClinic(principal: Principal, clinicId: string): boolean {
  return principal.clinics.all || principal.clinics.clinicIds.includes(clinicId.toLowerCase());
}

/**
 * Throws not_found (404), not forbidden (403), when the caller may not see this clinic's resource: a 403
 * would confirm to a probing caller that a study with that UID exists in another clinic.
 */
export function assertCanAccessClinic(principal: Principal, clinicId: string): void {
  if (!canAccessClinic(principal, clinicId)) throw new AppError('not_found', 'Not found');
}

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

/** The caller as the audit log records them (matches AuditActor of @yunying/audit). */
export function auditActor(principal: Principal): { userId: string | null; username: string; role: Role; clinicId: string | null } {
  return { userId: principal.userId ?? null, username: principal.username, role: principal.role, clinicId: principal.clinicId };
}
