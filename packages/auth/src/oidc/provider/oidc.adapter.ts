import { kyselyOn, type Pool } from '@yunying/catalog';
import type { Adapter, AdapterPayload } from 'oidc-provider' with { 'resolution-mode': 'import' };

/**
 * oidc-provider's storage (its Adapter interface) in PostgreSQL, table oidc_payloads: one row per model
 * instance (Session, Interaction, AuthorizationCode, Grant, AccessToken, RefreshToken, ...). In the
 * database rather than in memory so that a restart signs nobody out and several viewer replicas share one
 * provider state. Expired rows read as absent; `sweepExpired` removes them.
 */
export class PostgresOidcAdapter implements Adapter {
  constructor(
    private readonly pool: Pool,
    private readonly model: string,
    private readonly now: () => Date = () => new Date(),
  ) {}

  async upsert(id: string, payload: AdapterPayload, expiresIn?: number): Promise<void> {
    const expiresAt = expiresIn === undefined ? null : new Date(this.now().getTime() + expiresIn * 1000);
    await kyselyOn(this.pool)
      .insertInto('oidcPayloads')
      .values({ model: this.model, id, payload: JSON.stringify(payload), grantId: payload.grantId ?? null, userCode: payload.userCode ?? null, uid: payload.uid ?? null, expiresAt })
      .onConflict((conflict) =>
        conflict.columns(['model', 'id']).doUpdateSet((eb) => ({
          payload: eb.ref('excluded.payload'),
          grantId: eb.ref('excluded.grantId'),
          userCode: eb.ref('excluded.userCode'),
          uid: eb.ref('excluded.uid'),
          expiresAt: eb.ref('excluded.expiresAt'),
        })),
      )
      .execute();
  }

  private async findWhere(column: 'id' | 'userCode' | 'uid', value: string): Promise<AdapterPayload | undefined> {
    const row = await kyselyOn(this.pool)
      .selectFrom('oidcPayloads')
      .select(['payload', 'consumedAt'])
      .where('model', '=', this.model)
      .where(column, '=', value)
      .where((eb) => eb.or([eb('expiresAt', 'is', null), eb('expiresAt', '>', this.now())]))
      .limit(1)
      .executeTakeFirst();
    if (row === undefined) return undefined;
    const payload = adapterPayload(row.payload);
    // `consumed` is how the provider sees a spent code or a rotated refresh token (reuse detection).
    return row.consumedAt === null ? payload : { ...payload, consumed: Math.floor(row.consumedAt.getTime() / 1000) };
  }

  find(id: string): Promise<AdapterPayload | undefined> {
    return this.findWhere('id', id);
  }

  findByUserCode(userCode: string): Promise<AdapterPayload | undefined> {
    return this.findWhere('userCode', userCode);
  }

  findByUid(uid: string): Promise<AdapterPayload | undefined> {
    return this.findWhere('uid', uid);
  }

  async consume(id: string): Promise<void> {
    await kyselyOn(this.pool).updateTable('oidcPayloads').set({ consumedAt: this.now() }).where('model', '=', this.model).where('id', '=', id).execute();
  }

  async destroy(id: string): Promise<void> {
    await kyselyOn(this.pool).deleteFrom('oidcPayloads').where('model', '=', this.model).where('id', '=', id).execute();
  }

  async revokeByGrantId(grantId: string): Promise<void> {
    await kyselyOn(this.pool).deleteFrom('oidcPayloads').where('model', '=', this.model).where('grantId', '=', grantId).execute();
  }
}

/** Only upsert writes payload, from the provider's AdapterPayload (an object); anything else is not this adapter's row. */
function adapterPayload(value: unknown): AdapterPayload {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw new Error('oidc_payloads.payload is not an object');
  return value as AdapterPayload;
}

/** Removes expired rows of every model; returns how many. Run now and then (the provider never needs them again). */
export async function sweepExpiredOidcPayloads(pool: Pool, now: Date = new Date()): Promise<number> {
  const result = await kyselyOn(pool).deleteFrom('oidcPayloads').where('expiresAt', '<=', now).executeTakeFirst();
  return Number(result.numDeletedRows);
}
