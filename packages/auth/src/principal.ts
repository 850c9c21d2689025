import { AppError } from '@yunying/core';

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

/** The caller as the audit log records them (matches AuditActor of @yunying/audit). */
export function auditActor(principal: Principal): { userId: string | null; username: string; role: Role; clinicId: string | null } {
  return { userId: principal.userId ?? null, username: principal.username, role: principal.role, clinicId: principal.clinicId };
}
