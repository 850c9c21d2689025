import type { AuthAuditEvent } from './auth.audit';

/** How long one alert covers the refusals that follow it from the same address and credential kind. */
const COALESCE_MS = 60_000;
/** Addresses remembered at most (a flood from many addresses only resets the memory, never grows it). */
const MAX_TRACKED = 10_000;

/**
 * Bad credentials presented to the HTTP API (an unknown, revoked or forged API key or access token) become
 * Security Alerts (#17 finding 5). An expired access token is routine (a page left open) and not recorded.
 * To keep an unauthenticated caller from filling the audit trail, one alert per source address and credential
 * kind per minute is written; the refusals it covers are counted in the next one (`refusedSinceLastAlert`).
 * Kept per process: each replica alerts on its own.
 */
export class CredentialAlerts {
  private readonly recent = new Map<string, { at: number; suppressed: number }>();

  constructor(
    private readonly append: (event: AuthAuditEvent) => Promise<void>,
    private readonly now: () => Date,
  ) {}

  async refused(credential: 'api-key' | 'access-token', reason: string, sourceIp: string | null): Promise<void> {
    if (/expired/i.test(reason)) return;
    const key = `${credential}|${sourceIp ?? ''}`;
    const now = this.now().getTime();
    const last = this.recent.get(key);
    if (last !== undefined && now - last.at < COALESCE_MS) {
      last.suppressed += 1;
      return;
    }
    if (this.recent.size >= MAX_TRACKED) this.recent.clear();
    this.recent.set(key, { at: now, suppressed: 0 });
    await this.append({
      type: 'Security Alert',
      outcome: 4,
      actor: { userId: null, username: 'unknown', role: null, clinicId: null },
      sourceIp,
      details: { kind: 'bad-credential', credential, reason, refusedSinceLastAlert: last?.suppressed ?? 0 },
    });
  }
}
