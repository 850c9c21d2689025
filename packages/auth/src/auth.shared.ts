import { AppError } from '@yunying/core';
import type { Principal } from './principal';
import type { AuthAuditEvent, AuthAuditSink } from './auth.audit';
import type { AdminContext, RequestOrigin, UserView } from './auth.types';

/** What every concern of the auth services shares: the clock and the audit trail. */
export interface AuthContext {
  now: () => Date;
  audit: AuditRecorder;
}

export const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
export const USERNAME = /^[a-z0-9][a-z0-9._-]{1,62}$/;
export const CLINIC_CODE = /^[a-z0-9][a-z0-9-]{1,62}$/;
export const AE_TITLE = /^[\x20-\x5b\x5d-\x7e]{1,16}$/;

export function unauthenticated(message = 'Authentication required'): AppError {
  return new AppError('unauthenticated', message);
}

export function pgCode(error: unknown): string | undefined {
  const code = typeof error === 'object' && error !== null ? (error as { code?: unknown }).code : undefined;
  return typeof code === 'string' ? code : undefined;
}

export function normalizeUsername(username: string): string {
  return username.trim().toLowerCase();
}

export function principalOfUser(user: UserView, sessionId?: string): Principal {
  const base = { kind: 'user' as const, userId: user.id, username: user.username, role: user.role, ...(sessionId ? { sessionId } : {}) };
  switch (user.role) {
    case 'clinic':
      return { ...base, clinicId: user.clinicId, clinics: { all: false, clinicIds: user.clinicId ? [user.clinicId] : [] } };
    case 'radiologist':
      return { ...base, clinicId: null, clinics: { all: false, clinicIds: user.grants } };
    case 'auditor':
    case 'admin':
      return { ...base, clinicId: null, clinics: { all: true } };
  }
}

/** Writes the auth events to the audit sink, when there is one (tests may run without). */
export class AuditRecorder {
  constructor(private readonly sink: AuthAuditSink | undefined) {}

  async record(event: AuthAuditEvent): Promise<void> {
    if (this.sink) await this.sink.append(event);
  }

  async admin(context: AdminContext, change: string, details: Record<string, string | number | boolean | null | string[]>, clinicId?: string | null): Promise<void> {
    await this.record({
      type: 'Security Alert',
      outcome: 0,
      actor: { userId: context.actor.userId ?? null, username: context.actor.username, role: context.actor.role, clinicId: context.actor.clinicId },
      sourceIp: context.sourceIp ?? null,
      requestId: context.requestId ?? null,
      clinicId: clinicId ?? null,
      details: { subtype: 'Security Configuration', change, ...details },
    });
  }

  loginEvent(username: string, outcome: 0 | 4 | 8, reason: string | null, origin: RequestOrigin, method: 'password' | 'totp' | 'oidc', user?: UserView): AuthAuditEvent {
    return {
      type: 'User Authentication',
      outcome,
      actor: { userId: user?.id ?? null, username: username || 'unknown', role: user?.role ?? null, clinicId: user?.clinicId ?? null },
      sourceIp: origin.sourceIp ?? 'unknown',
      requestId: origin.requestId ?? null,
      details: { subtype: 'Login', method, ...(reason ? { reason } : {}) },
    };
  }
}
