import type { Pool } from '@yunying/catalog';

/** Which Yunying session each grant of the embedded OIDC provider belongs to (table oidc_grant_sessions). */
export class GrantSessions {
  constructor(private readonly pool: Pool) {}

  async link(grantId: string, sessionId: string): Promise<void> {
    await this.pool.query('INSERT INTO oidc_grant_sessions (grant_id, session_id) VALUES ($1, $2) ON CONFLICT (grant_id) DO UPDATE SET session_id = EXCLUDED.session_id', [
      grantId,
      sessionId,
    ]);
  }

  async sessionOf(grantId: string): Promise<string | null> {
    const { rows } = await this.pool.query<{ session_id: string }>('SELECT session_id::text FROM oidc_grant_sessions WHERE grant_id = $1', [grantId]);
    return rows[0]?.session_id ?? null;
  }
}
