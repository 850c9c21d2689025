import { createHash, createHmac } from 'node:crypto';
import type { DigestAlgorithm } from '@yunying/core';
import { hashedValues, type AuditContent } from './audit.columns';
import type { JsonValue } from './event-types';
import type { AuditMacKey } from './keyring';

export const GENESIS_HASH = '0'.repeat(64);

/** JSON with object keys sorted at every depth, so the same value always serializes to the same bytes. */
export function canonicalJson(value: JsonValue): string {
  if (value === null || typeof value !== 'object') return JSON.stringify(value);
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  const keys = Object.keys(value).sort();
  return `{${keys.map((k) => `${JSON.stringify(k)}:${canonicalJson(value[k] ?? null)}`).join(',')}}`;
}

/**
 * The legacy (unkeyed) link of records written before migration 0900, still verified as such:
 * SHA-256 over a canonical serialization of the hashed fields (audit.columns.ts: every column but seq and
 * the link and its labels), including prev_hash.
 * Version tag "yy-audit-1" allows a later change of the serialization without ambiguity.
 */
export function hashAuditRecord(record: AuditContent): string {
  return createHash('sha256').update(canonicalJson(['yy-audit-1', ...hashedValues(record)])).digest('hex');
}

/**
 * The keyed link (migration 0900): HMAC (SM3 or SHA-256) under a key kept outside the database, over the
 * same fields plus the key id and algorithm (so a record cannot be re-labelled to another key or algorithm).
 * Without the key nobody, a database superuser included, can produce a link that verifies.
 */
export function macAuditRecord(record: AuditContent, key: AuditMacKey, algorithm: DigestAlgorithm): string {
  const message = canonicalJson(['yy-audit-2', ...hashedValues(record), key.id, algorithm]);
  return createHmac(algorithm, key.key).update(message).digest('hex');
}

export type { AuditContent };
