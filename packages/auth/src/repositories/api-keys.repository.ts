import { kyselyOn } from '@yunying/catalog';
import type { Queryable } from '../queryable';
import type { ApiKeyView } from '../auth.types';

/** What an API key shows (never its hash). */
const API_KEY_COLUMNS = ['id', 'clinicId', 'name', 'keyPrefix', 'createdAt', 'lastUsedAt', 'expiresAt', 'revokedAt', 'replacedBy'] as const;

/** last_used_at is written at most once a minute per key, so busy uploaders do not turn every request into an UPDATE. */
const LAST_USED_RESOLUTION_MS = 60_000;

export async function listApiKeys(db: Queryable, clinicId: string | null): Promise<ApiKeyView[]> {
  let query = kyselyOn(db).selectFrom('apiKeys').select(API_KEY_COLUMNS).orderBy('createdAt');
  if (clinicId !== null) query = query.where('clinicId', '=', clinicId);
  return query.execute();
}

export async function insertApiKey(
  db: Queryable,
  key: { clinicId: string; name: string; keyPrefix: string; keyHash: string; expiresAt: Date | null; createdBy: string | null },
): Promise<ApiKeyView | null> {
  const row = await kyselyOn(db).insertInto('apiKeys').values(key).returning(API_KEY_COLUMNS).executeTakeFirst();
  return row ?? null;
}

export async function lockApiKey(db: Queryable, id: string): Promise<ApiKeyView | null> {
  const row = await kyselyOn(db).selectFrom('apiKeys').select(API_KEY_COLUMNS).where('id', '=', id).forUpdate().executeTakeFirst();
  return row ?? null;
}

export async function markApiKeyReplaced(db: Queryable, id: string, at: Date, replacedBy: string): Promise<void> {
  await kyselyOn(db).updateTable('apiKeys').set({ revokedAt: at, replacedBy }).where('id', '=', id).execute();
}

/** Revokes the key (a revoked key keeps its first revocation time); null when there is no such key. */
export async function revokeApiKey(db: Queryable, id: string, at: Date): Promise<ApiKeyView | null> {
  const row = await kyselyOn(db)
    .updateTable('apiKeys')
    .set((eb) => ({ revokedAt: eb.fn.coalesce('revokedAt', eb.val(at)) }))
    .where('id', '=', id)
    .returning(API_KEY_COLUMNS)
    .executeTakeFirst();
  return row ?? null;
}

export async function findApiKeyByPrefix(db: Queryable, prefix: string): Promise<(ApiKeyView & { keyHash: string }) | null> {
  const row = await kyselyOn(db)
    .selectFrom('apiKeys')
    .select([...API_KEY_COLUMNS, 'keyHash'])
    .where('keyPrefix', '=', prefix)
    .executeTakeFirst();
  return row ?? null;
}

export async function touchApiKey(db: Queryable, id: string, at: Date): Promise<void> {
  await kyselyOn(db)
    .updateTable('apiKeys')
    .set({ lastUsedAt: at })
    .where('id', '=', id)
    .where((eb) => eb.or([eb('lastUsedAt', 'is', null), eb('lastUsedAt', '<', new Date(at.getTime() - LAST_USED_RESOLUTION_MS))]))
    .execute();
}
