import type { Pool } from '@yunying/catalog';
import type { Adapter, AdapterPayload } from 'oidc-provider' with { 'resolution-mode': 'import' };
import { OidcPayloadStore, type OidcPayloadKey } from './oidc-payloads.repository';

/**
 * oidc-provider's storage (its Adapter interface) in PostgreSQL, table oidc_payloads (queries in
 * oidc-payloads.repository.ts): one row per model instance (Session, Interaction, AuthorizationCode, Grant,
 * AccessToken, RefreshToken, ...). In the database rather than in memory so that a restart signs nobody out and
 * several viewer replicas share one provider state. Expired rows read as absent; `sweepExpiredOidcPayloads`
 * removes them.
 */
export class PostgresOidcAdapter implements Adapter {
  private readonly payloads: OidcPayloadStore;

  constructor(
    pool: Pool,
    private readonly model: string,
    private readonly now: () => Date = () => new Date(),
  ) {
    this.payloads = new OidcPayloadStore(pool);
  }

  async upsert(id: string, payload: AdapterPayload, expiresIn?: number): Promise<void> {
    const expiresAt = expiresIn === undefined ? null : new Date(this.now().getTime() + expiresIn * 1000);
    await this.payloads.upsert(this.model, id, {
      payload: JSON.stringify(payload),
      grantId: payload.grantId ?? null,
      userCode: payload.userCode ?? null,
      uid: payload.uid ?? null,
      expiresAt,
    });
  }

  private async findBy(key: OidcPayloadKey, value: string): Promise<AdapterPayload | undefined> {
    const row = await this.payloads.findLive(this.model, key, value, this.now());
    if (row === undefined) return undefined;
    const payload = adapterPayload(row.payload);
    // `consumed` is how the provider sees a spent code or a rotated refresh token (reuse detection).
    return row.consumedAt === null ? payload : { ...payload, consumed: Math.floor(row.consumedAt.getTime() / 1000) };
  }

  find(id: string): Promise<AdapterPayload | undefined> {
    return this.findBy('id', id);
  }

  findByUserCode(userCode: string): Promise<AdapterPayload | undefined> {
    return this.findBy('userCode', userCode);
  }

  findByUid(uid: string): Promise<AdapterPayload | undefined> {
    return this.findBy('uid', uid);
  }

  consume(id: string): Promise<void> {
    return this.payloads.consume(this.model, id, this.now());
  }

  destroy(id: string): Promise<void> {
    return this.payloads.destroy(this.model, id);
  }

  revokeByGrantId(grantId: string): Promise<void> {
    return this.payloads.destroyByGrantId(this.model, grantId);
  }
}

/** Only upsert writes payload, from the provider's AdapterPayload (an object); anything else is not this adapter's row. */
function adapterPayload(value: unknown): AdapterPayload {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw new Error('oidc_payloads.payload is not an object');
  return value as AdapterPayload;
}
