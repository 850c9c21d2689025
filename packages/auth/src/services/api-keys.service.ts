import { AppError } from '@yunying/core';
import { inTransaction, type Pool } from '@yunying/catalog';
import type { Principal } from '../principal';
import { formatApiKey, hashesEqual, keyedHash, parseApiKey, randomPrefix, randomSecret } from '../secrets';
import type { Queryable } from '../queryable';
import { pgCode, unauthenticated, UUID, type AuthContext } from '../auth.shared';
import type { AdminContext, ApiKeyView, CreatedApiKey } from '../auth.types';
import * as apiKeys from '../repositories/api-keys.repository';

/** Clinic API keys (devices and uploaders): issued once in plaintext, stored as peppered hashes, rotated, revoked. */
export class ApiKeysService {
  constructor(
    private readonly pool: Pool,
    private readonly pepper: Buffer,
    private readonly context: AuthContext,
  ) {}

  async list(clinicId?: string): Promise<ApiKeyView[]> {
    return apiKeys.listApiKeys(this.pool, clinicId && UUID.test(clinicId) ? clinicId : null);
  }

  async create(input: { clinicId: string; name: string; expiresAt?: Date | null }, context?: AdminContext, db: Queryable = this.pool): Promise<CreatedApiKey> {
    if (!UUID.test(input.clinicId)) throw new AppError('bad_request', 'clinicId must be a uuid');
    if (input.name.length < 1 || input.name.length > 100) throw new AppError('bad_request', 'Name: 1-100 characters');
    // A key born expired would be shown once and then refused at its first use: say so now instead.
    if (input.expiresAt && input.expiresAt.getTime() <= this.context.now().getTime()) throw new AppError('bad_request', 'expiresAt must be in the future');
    const created = await this.issue(db, input.clinicId, input.name, input.expiresAt ?? null, context?.actor.userId ?? null);
    if (context) await this.context.audit.admin(context, 'api-key-created', { apiKeyId: created.id, keyPrefix: created.keyPrefix }, input.clinicId);
    return created;
  }

  /** Issues a new key with the same clinic, name and expiry and revokes the old one, atomically. */
  async rotate(id: string, context?: AdminContext): Promise<CreatedApiKey> {
    if (!UUID.test(id)) throw new AppError('not_found', 'No such API key');
    const created = await inTransaction(this.pool, async (client) => {
      const old = await apiKeys.lockApiKey(client, id);
      if (!old) throw new AppError('not_found', 'No such API key');
      if (old.revokedAt !== null) throw new AppError('conflict', 'API key already revoked');
      // Rotation keeps the expiry; for an expired key that would hand out a key that never works.
      if (old.expiresAt !== null && old.expiresAt.getTime() <= this.context.now().getTime()) throw new AppError('conflict', 'API key expired: issue a new key with a new expiry');
      const next = await this.issue(client, old.clinicId, old.name, old.expiresAt, context?.actor.userId ?? null);
      await apiKeys.markApiKeyReplaced(client, id, this.context.now(), next.id);
      return next;
    });
    if (context) await this.context.audit.admin(context, 'api-key-rotated', { apiKeyId: id, newApiKeyId: created.id }, created.clinicId);
    return created;
  }

  async revoke(id: string, context?: AdminContext): Promise<ApiKeyView> {
    if (!UUID.test(id)) throw new AppError('not_found', 'No such API key');
    const revoked = await apiKeys.revokeApiKey(this.pool, id, this.context.now());
    if (!revoked) throw new AppError('not_found', 'No such API key');
    if (context) await this.context.audit.admin(context, 'api-key-revoked', { apiKeyId: id }, revoked.clinicId);
    return revoked;
  }

  async authenticate(key: string): Promise<Principal> {
    const parsed = parseApiKey(key.trim());
    if (!parsed) throw unauthenticated('API key invalid');
    const found = await apiKeys.findApiKeyByPrefix(this.pool, parsed.prefix);
    // The hash comparison runs even for an unknown prefix, so timing does not tell prefixes apart.
    const ok = hashesEqual(keyedHash(this.pepper, key.trim()), found?.keyHash ?? '0'.repeat(64));
    const now = this.context.now();
    if (!found || !ok) throw unauthenticated('API key invalid');
    if (found.revokedAt !== null) throw unauthenticated('API key revoked');
    if (found.expiresAt !== null && found.expiresAt <= now) throw unauthenticated('API key expired');
    await apiKeys.touchApiKey(this.pool, found.id, now);
    return {
      kind: 'device',
      apiKeyId: found.id,
      username: `device:${found.name}`,
      role: 'clinic',
      clinicId: found.clinicId,
      clinics: { all: false, clinicIds: [found.clinicId] },
    };
  }

  private async issue(db: Queryable, clinicId: string, name: string, expiresAt: Date | null, createdBy: string | null): Promise<CreatedApiKey> {
    const keyPrefix = randomPrefix();
    const key = formatApiKey(keyPrefix, randomSecret());
    try {
      const view = await apiKeys.insertApiKey(db, { clinicId, name, keyPrefix, keyHash: keyedHash(this.pepper, key), expiresAt, createdBy });
      if (!view) throw new Error('api key insert returned no row');
      return { ...view, key };
    } catch (error) {
      if (pgCode(error) === '23503') throw new AppError('bad_request', 'Unknown clinic');
      throw error;
    }
  }
}
