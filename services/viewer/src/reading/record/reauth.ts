import { appendAuditEvent } from '@yunying/audit';
import { auditActor, DEFAULT_SIGN_IN_LIMITS, SignInLimiter, verifyPassword } from '@yunying/auth';
import { inTransaction, type Pool } from '@yunying/catalog';
import { AppError } from '@yunying/core';
import type { Caller } from '../reading.audit';
import { ReportRecordsRepository } from './report-records.repository';

/**
 * Re-authentication before a signature (#20): the sign request carries the reader's password, checked
 * against their stored hash, so a session left open on a reading-room PC cannot sign in the reader's name.
 * Called inside the signing transaction once the report could be signed, on connections of its own, so
 * a failure's audit event and the limiter's count survive that transaction's rollback. Both outcomes are audited as User Authentication, subtype Re-authentication; a wrong password answers 403 (not
 * 401, which would make the web app drop the still-valid session).
 */
export async function reauthenticate(pool: Pool, caller: Caller, password: string | undefined): Promise<void> {
  // The sign-in limits apply: a session must not become a way to guess the reader's password.
  const limiter = new SignInLimiter(pool, DEFAULT_SIGN_IN_LIMITS, () => new Date());
  const ip = caller.sourceIp ?? 'unknown';
  await limiter.check(caller.principal.username, ip);
  if (password === undefined || password === '') throw new AppError('forbidden', 'Signing needs your password (re-authentication)', { details: { fields: ['password'] } });
  const userId = caller.principal.userId;
  const row = userId === undefined ? null : await new ReportRecordsRepository().credentials(pool, userId);
  const ok = row !== null && !row.disabled && (await verifyPassword(row.passwordHash, password));
  await inTransaction(pool, (client) =>
    appendAuditEvent(client, {
      type: 'User Authentication',
      outcome: ok ? 0 : 4,
      actor: auditActor(caller.principal),
      sourceIp: caller.sourceIp,
      details: { subtype: 'Re-authentication', method: 'password', purpose: 'report-signature', ...(ok ? {} : { reason: 'bad-password' }) },
    }),
  );
  if (ok) await limiter.reset(caller.principal.username, ip);
  else await limiter.recordFailure(caller.principal.username, ip);
  if (!ok) throw new AppError('forbidden', 'The password is not correct; the report was not signed', { details: { fields: ['password'] } });
}
