import { kyselyOn, type Pool } from '@yunying/catalog';

/** What oidc-provider stores per model instance, as the adapter hands it over (payload already JSON text). */
export interface OidcPayloadWrite {
  payload: string;
  grantId: string | null;
  userCode: string | null;
  uid: string | null;
  /** null: kept until destroyed (the provider gave no lifetime). */
  expiresAt: Date | null;
}

/** A stored payload as read back: the JSON column as parsed by pg, and when it was consumed (null: not yet). */
export interface OidcPayloadRow {
  payload: unknown;
  consumedAt: Date | null;
}

/** The columns a model instance is looked up by (oidc-provider's find, findByUserCode, findByUid). */
export type OidcPayloadKey = 'id' | 'userCode' | 'uid';

/** Table oidc_payloads: oidc-provider's model instances, one row per (model, id). */
export class OidcPayloadStore {
  constructor(private readonly pool: Pool) {}

  async upsert(model: string, id: string, write: OidcPayloadWrite): Promise<void> {
    await kyselyOn(this.pool)
      .insertInto('oidcPayloads')
      .values({ model, id, ...write })
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

  /** The model's row whose `key` is `value`, unless it expired by `now` (an expired row reads as absent). */
  async findLive(model: string, key: OidcPayloadKey, value: string, now: Date): Promise<OidcPayloadRow | undefined> {
    return kyselyOn(this.pool)
      .selectFrom('oidcPayloads')
      .select(['payload', 'consumedAt'])
      .where('model', '=', model)
      .where(key, '=', value)
      .where((eb) => eb.or([eb('expiresAt', 'is', null), eb('expiresAt', '>', now)]))
      .limit(1)
      .executeTakeFirst();
  }

  async consume(model: string, id: string, at: Date): Promise<void> {
    await kyselyOn(this.pool).updateTable('oidcPayloads').set({ consumedAt: at }).where('model', '=', model).where('id', '=', id).execute();
  }

  async destroy(model: string, id: string): Promise<void> {
    await kyselyOn(this.pool).deleteFrom('oidcPayloads').where('model', '=', model).where('id', '=', id).execute();
  }

  async destroyByGrantId(model: string, grantId: string): Promise<void> {
    await kyselyOn(this.pool).deleteFrom('oidcPayloads').where('model', '=', model).where('grantId', '=', grantId).execute();
  }
}

/** Removes expired rows of every model; returns how many. Run now and then (the provider never needs them again). */
export async function sweepExpiredOidcPayloads(pool: Pool, now: Date = new Date()): Promise<number> {
  const result = await kyselyOn(pool).deleteFrom('oidcPayloads').where('expiresAt', '<=', now).executeTakeFirst();
  return Number(result.numDeletedRows);
}
