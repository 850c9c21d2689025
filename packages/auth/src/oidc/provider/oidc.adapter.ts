import type { Pool } from '@yunying/catalog';
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
    await this.pool.query(
      `INSERT INTO oidc_payloads (model, id, payload, grant_id, user_code, uid, expires_at)
       VALUES ($1, $2, $3, $4, $5, $6, $7)
       ON CONFLICT (model, id) DO UPDATE SET payload = EXCLUDED.payload, grant_id = EXCLUDED.grant_id,
         user_code = EXCLUDED.user_code, uid = EXCLUDED.uid, expires_at = EXCLUDED.expires_at`,
      [this.model, id, JSON.stringify(payload), payload.grantId ?? null, payload.userCode ?? null, payload.uid ?? null, expiresAt],
    );
  }

  private async findWhere(column: 'id' | 'user_code' | 'uid', value: string): Promise<AdapterPayload | undefined> {
    const { rows } = await this.pool.query<{ payload: AdapterPayload; consumed_at: Date | null }>(
      `SELECT payload, consumed_at FROM oidc_payloads WHERE model = $1 AND ${column} = $2 AND (expires_at IS NULL OR expires_at > $3) LIMIT 1`,
      [this.model, value, this.now()],
    );
    const row = rows[0];
    if (row === undefined) return undefined;
    // `consumed` is how the provider sees a spent code or a rotated refresh token (reuse detection).
    return row.consumed_at === null ? row.payload : { ...row.payload, consumed: Math.floor(row.consumed_at.getTime() / 1000) };
  }

  find(id: string): Promise<AdapterPayload | undefined> {
    return this.findWhere('id', id);
  }

  findByUserCode(userCode: string): Promise<AdapterPayload | undefined> {
    return this.findWhere('user_code', userCode);
  }

  findByUid(uid: string): Promise<AdapterPayload | undefined> {
    return this.findWhere('uid', uid);
  }

  async consume(id: string): Promise<void> {
    await this.pool.query('UPDATE oidc_payloads SET consumed_at = $3 WHERE model = $1 AND id = $2', [this.model, id, this.now()]);
  }

  async destroy(id: string): Promise<void> {
    await this.pool.query('DELETE FROM oidc_payloads WHERE model = $1 AND id = $2', [this.model, id]);
  }

  async revokeByGrantId(grantId: string): Promise<void> {
    await this.pool.query('DELETE FROM oidc_payloads WHERE model = $1 AND grant_id = $2', [this.model, grantId]);
  }
}

/** Removes expired rows of every model; returns how many. Run now and then (the provider never needs them again). */
export async function sweepExpiredOidcPayloads(pool: Pool, now: Date = new Date()): Promise<number> {
  const { rowCount } = await pool.query('DELETE FROM oidc_payloads WHERE expires_at <= $1', [now]);
  return rowCount ?? 0;
}
