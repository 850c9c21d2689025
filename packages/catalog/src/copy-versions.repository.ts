import type { Pool } from './database';

/**
 * The S3 version id recorded for each copy of an object (table `copies`), by target name: what the
 * replicated store reads, so that a version or delete marker written later at the same key, with a
 * leaked object-store key, is never served (#17). Copies in any state are listed: a read checks the
 * content address anyway, and the scrubber decides what is bad. The shape is @yunying/storage's
 * CopyVersionLookup (the catalog does not depend on storage; the services' type check keeps them equal).
 */
export function copyVersionLookup(pool: Pool): (sha256: string) => Promise<ReadonlyMap<string, string | null>> {
  return async (sha256) => {
    const { rows } = await pool.query<{ target: string; version_id: string | null }>('SELECT target, version_id FROM copies WHERE sha256 = $1', [sha256]);
    return new Map(rows.map((r) => [r.target, r.version_id]));
  };
}
