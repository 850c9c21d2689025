import fs from 'node:fs';
import path from 'node:path';
import { makeStudy } from '@yunying/dicom/testing';
import { readStoredFile, systemStorageKeyFile } from '@yunying/storage/testing';
import { firstValue, startSystem, stow, stowItems, type RunningSystem } from '../support/system';
import { waitFor } from '../support/wait';
import { sha256 } from './keep.support';

/**
 * #8: a replica target down during ingest. Quorum 3 (the default): STOW answers 503 with Retry-After and
 * nothing reaches the catalog. Quorum 2: accepted, the third copy recorded missing, and completed by the
 * repair worker when the target returns, without any client action.
 */

/** Takes the replica root away as an unmounted disk looks (cf. takeFsTargetOffline of @yunying/storage/testing). */
function takeOffline(root: string): () => void {
  const away = `${root}.offline`;
  fs.renameSync(root, away);
  return () => fs.renameSync(away, root);
}

describe('a replica target down during ingest, quorum 3 (system)', () => {
  let system: RunningSystem;
  beforeAll(async () => {
    system = await startSystem({ env: { REPAIR_RETRY_SECONDS: '1' } });
  });
  afterAll(async () => {
    await system?.stop();
  });

  it('refuses with a retryable 503 + Retry-After and writes nothing to the catalog', async () => {
    const restore = takeOffline(path.join(system.dataDir, 'replica-c'));
    const study = makeStudy(2);
    try {
      const result = await stow(system.urls.ingest ?? '', system.credentials.apiKey?.key ?? '', study.files);
      expect(result.status).toBe(503);
      expect(Number(result.headers.get('retry-after'))).toBeGreaterThan(0);
      const rows = await system.pool.query('SELECT count(*)::int AS n FROM objects WHERE sha256 = ANY($1)', [study.files.map(sha256)]);
      expect(rows.rows[0].n).toBe(0);
      const studies = await system.pool.query('SELECT count(*)::int AS n FROM studies WHERE study_instance_uid = $1', [study.studyInstanceUid]);
      expect(studies.rows[0].n).toBe(0);
    } finally {
      restore();
    }
    // The same upload succeeds once the target is back (the copies that landed are re-used).
    const retried = await stow(system.urls.ingest ?? '', system.credentials.apiKey?.key ?? '', study.files);
    expect(retried.status).toBe(200);
  });
});

describe('a replica target down during ingest, quorum 2 (system)', () => {
  let system: RunningSystem;
  beforeAll(async () => {
    system = await startSystem({ env: { WRITE_QUORUM: '2', REPAIR_RETRY_SECONDS: '1' } });
  });
  afterAll(async () => {
    await system?.stop();
  });

  it('accepts with two copies, records the third missing, and completes it when the target returns', async () => {
    const root = path.join(system.dataDir, 'replica-c');
    const restore = takeOffline(root);
    const study = makeStudy(3);
    const digests = study.files.map(sha256);
    let restored = false;
    try {
      const result = await stow(system.urls.ingest ?? '', system.credentials.apiKey?.key ?? '', study.files);
      expect(result.status).toBe(200);
      expect(stowItems(result, '00081199').map((i) => firstValue(i, '00991010'))).toEqual(['STORED', 'STORED', 'STORED']);
      const copies = await system.pool.query('SELECT sha256, target, state FROM copies WHERE sha256 = ANY($1) ORDER BY sha256, target', [digests]);
      expect(copies.rows).toHaveLength(9);
      for (const row of copies.rows) expect([row.target, row.state]).toEqual([row.target, row.target === 'fs-3' ? 'missing' : 'ok']);
      // While the target is down the repair worker keeps failing (and backing off), nothing else changes.
      await waitFor('a failed repair attempt', async () => {
        const r = await system.pool.query("SELECT min(repair_attempts)::int AS n FROM copies WHERE target = 'fs-3' AND sha256 = ANY($1)", [digests]);
        return r.rows[0].n >= 1 ? true : undefined;
      });
      restore();
      restored = true;
      // No client action: the repair worker completes the third copy.
      await waitFor(
        'the third copies to be completed',
        async () => {
          const r = await system.pool.query("SELECT count(*)::int AS n FROM copies WHERE target = 'fs-3' AND state = 'ok' AND sha256 = ANY($1)", [digests]);
          return r.rows[0].n === digests.length ? true : undefined;
        },
        60_000,
      );
      const keys = await system.pool.query<{ sha256: string; object_key: string; lock_mode: string }>(
        "SELECT sha256, object_key, lock_mode FROM copies WHERE target = 'fs-3' AND sha256 = ANY($1)",
        [digests],
      );
      for (const row of keys.rows) {
        expect(row.lock_mode).toBe('FS_READONLY');
        const file = path.join(root, row.object_key);
        expect(sha256(await readStoredFile(file, systemStorageKeyFile(system.dataDir)))).toBe(row.sha256);
        expect(fs.statSync(file).mode & 0o222).toBe(0);
      }
      const audit = await system.pool.query("SELECT count(*)::int AS n FROM audit_events WHERE event_type = 'Security Alert' AND details->>'event' = 'copy.repaired' AND details->>'target' = 'fs-3'");
      expect(audit.rows[0].n).toBe(digests.length);
    } finally {
      if (!restored) restore();
    }
  });
});
