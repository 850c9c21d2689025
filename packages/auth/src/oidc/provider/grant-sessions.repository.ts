import { kyselyOn, type Pool } from '@yunying/catalog';

/** Which Yunying session each grant of the embedded OIDC provider belongs to (table oidc_grant_sessions). */
export class GrantSessions {
  constructor(private readonly pool: Pool) {}

  async link(grantId: string, sessionId: string): Promise<void> {
    await kyselyOn(this.pool)
      .insertInto('oidcGrantSessions')
      .values({ grantId, sessionId })
      .onConflict((conflict) => conflict.column('grantId').doUpdateSet((eb) => ({ sessionId: eb.ref('excluded.sessionId') })))
      .execute();
  }

  async sessionOf(grantId: string): Promise<string | null> {
    const row = await kyselyOn(this.pool).selectFrom('oidcGrantSessions').select('sessionId').where('grantId', '=', grantId).executeTakeFirst();
    return row?.sessionId ?? null;
  }
}
