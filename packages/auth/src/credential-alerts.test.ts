import type { AuthAuditEvent } from './auth.service';
import { CredentialAlerts } from './credential-alerts';

describe('CredentialAlerts', () => {
  it('writes one alert per address and credential kind per minute and counts the rest into the next', async () => {
    const written: AuthAuditEvent[] = [];
    let now = Date.parse('2026-01-01T00:00:00Z');
    const alerts = new CredentialAlerts((e) => Promise.resolve(void written.push(e)), () => new Date(now));
    for (let i = 0; i < 5; i += 1) await alerts.refused('api-key', 'API key invalid', '203.0.113.9');
    await alerts.refused('api-key', 'API key invalid', '203.0.113.10');
    await alerts.refused('access-token', 'Access token expired', '203.0.113.9');
    expect(written.map((e) => [e.sourceIp, e.details?.refusedSinceLastAlert])).toEqual([
      ['203.0.113.9', 0],
      ['203.0.113.10', 0],
    ]);
    now += 60_000;
    await alerts.refused('api-key', 'API key revoked', '203.0.113.9');
    expect(written.at(-1)?.details).toEqual({ kind: 'bad-credential', credential: 'api-key', reason: 'API key revoked', refusedSinceLastAlert: 4 });
  });
});
