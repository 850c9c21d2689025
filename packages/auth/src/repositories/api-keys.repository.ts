import type { Queryable } from '../queryable';
import type { ApiKeyView } from '../auth.types';

interface ApiKeyRow {
  id: string;
  clinic_id: string;
  name: string;
  key_prefix: string;
  created_at: Date;
  last_used_at: Date | null;
  expires_at: Date | null;
  revoked_at: Date | null;
  replaced_by: string | null;
}

const API_KEY_COLUMNS = 'id::text, clinic_id::text, name, key_prefix, created_at, last_used_at, expires_at, revoked_at, replaced_by::text';

function apiKeyView(row: ApiKeyRow): ApiKeyView {
  return {
    id: row.id,
    clinicId: row.clinic_id,
    name: row.name,
    keyPrefix: row.key_prefix,
    createdAt: row.created_at,
    lastUsedAt: row.last_used_at,
    expiresAt: row.expires_at,
    revokedAt: row.revoked_at,
    replacedBy: row.replaced_by,
  };
}

export async function listApiKeys(db: Queryable, clinicId: string | null): Promise<ApiKeyView[]> {
  const { rows } = await db.query<ApiKeyRow>(`SELECT ${API_KEY_COLUMNS} FROM api_keys WHERE $1::uuid IS NULL OR clinic_id = $1::uuid ORDER BY created_at`, [clinicId]);
  return rows.map(apiKeyView);
}

export async function insertApiKey(
  db: Queryable,
  key: { clinicId: string; name: string; keyPrefix: string; keyHash: string; expiresAt: Date | null; createdBy: string | null },
): Promise<ApiKeyView | null> {
  const { rows } = await db.query<ApiKeyRow>(
    `INSERT INTO api_keys (clinic_id, name, key_prefix, key_hash, expires_at, created_by) VALUES ($1, $2, $3, $4, $5, $6) RETURNING ${API_KEY_COLUMNS}`,
    [key.clinicId, key.name, key.keyPrefix, key.keyHash, key.expiresAt, key.createdBy],
  );
  return rows[0] ? apiKeyView(rows[0]) : null;
}

export async function lockApiKey(db: Queryable, id: string): Promise<ApiKeyView | null> {
  const { rows } = await db.query<ApiKeyRow>(`SELECT ${API_KEY_COLUMNS} FROM api_keys WHERE id = $1 FOR UPDATE`, [id]);
  return rows[0] ? apiKeyView(rows[0]) : null;
}

export async function markApiKeyReplaced(db: Queryable, id: string, at: Date, replacedBy: string): Promise<void> {
  await db.query('UPDATE api_keys SET revoked_at = $2, replaced_by = $3 WHERE id = $1', [id, at, replacedBy]);
}

/** Revokes the key (a revoked key keeps its first revocation time); null when there is no such key. */
export async function revokeApiKey(db: Queryable, id: string, at: Date): Promise<ApiKeyView | null> {
  const { rows } = await db.query<ApiKeyRow>(`UPDATE api_keys SET revoked_at = coalesce(revoked_at, $2) WHERE id = $1 RETURNING ${API_KEY_COLUMNS}`, [id, at]);
  return rows[0] ? apiKeyView(rows[0]) : null;
}

export async function findApiKeyByPrefix(db: Queryable, prefix: string): Promise<(ApiKeyView & { keyHash: string }) | null> {
  const { rows } = await db.query<ApiKeyRow & { key_hash: string }>(`SELECT ${API_KEY_COLUMNS}, key_hash FROM api_keys WHERE key_prefix = $1`, [prefix]);
  const row = rows[0];
  return row ? { ...apiKeyView(row), keyHash: row.key_hash } : null;
}

/** At most one write a minute per key, so busy uploaders do not turn every request into an UPDATE. */
export async function touchApiKey(db: Queryable, id: string, at: Date): Promise<void> {
  await db.query("UPDATE api_keys SET last_used_at = $2::timestamptz WHERE id = $1 AND (last_used_at IS NULL OR last_used_at < $2::timestamptz - interval '1 minute')", [id, at]);
}
