/** What the auth service writes to the audit log; structurally a subset of @yunying/audit's AuditEventInput. */
export interface AuthAuditEvent {
  type: 'User Authentication' | 'Security Alert';
  outcome: 0 | 4 | 8 | 12;
  actor: { userId?: string | null; username: string; role?: string | null; clinicId?: string | null };
  sourceIp?: string | null;
  requestId?: string | null;
  clinicId?: string | null;
  details?: Record<string, string | number | boolean | null | string[]>;
}

/** Where auth events go: an `AuditLog` of @yunying/audit (kept as an interface so auth does not depend on audit). */
export interface AuthAuditSink {
  append(event: AuthAuditEvent): Promise<unknown>;
}
