import pg from 'pg';
import { runWithContext } from '@yunying/core';
import { createTestCatalog, type TestCatalog } from '@yunying/catalog/testing';
import { AuditLog } from './audit.repository';
import type { AuditEventInput } from './event-types';
import { verifyAuditChain } from './verify';

const actor = { userId: '7f0c5f5e-1a51-4a8f-9a54-6a3d1c1e2b10', username: 'radiologist', role: 'radiologist' };

function read(tag: string, i: number): AuditEventInput {
  return { type: 'DICOM Instances Accessed', actor, sourceIp: '10.0.0.1', studyInstanceUid: `1.2.826.0.1.3680043.8.498.${i}`, details: { what: tag, i } };
}

/**
 * AuditLog's group commit on the real PostgreSQL: appends that arrive while a commit waits share the next
 * transaction (one lock hold, one WAL flush), each keeping its own request id; the chain stays linear.
 */
describe('audit log: group commit (real PostgreSQL)', () => {
  let catalog: TestCatalog;
  let holder: pg.Client;
  beforeAll(async () => {
    catalog = await createTestCatalog('auditlog');
    holder = new pg.Client({ connectionString: catalog.url, options: `-c search_path=${catalog.schema}` });
    await holder.connect();
  });
  afterAll(async () => {
    await holder.end();
    await catalog.drop();
  });

  /** Holds the audit chain's lock (as another process's long append would) until `release`. */
  async function holdChainLock(): Promise<{ release: () => Promise<void> }> {
    await holder.query('BEGIN');
    await holder.query('SELECT pg_advisory_xact_lock(7007, hashtext(current_schema()))');
    return { release: async () => void (await holder.query('COMMIT')) };
  }

  async function waitersOnChainLock(): Promise<number> {
    const { rows } = await catalog.pool.query<{ n: number }>(
      "SELECT count(*)::int AS n FROM pg_locks WHERE locktype = 'advisory' AND classid = 7007 AND NOT granted",
    );
    return rows[0]?.n ?? 0;
  }

  async function until(condition: () => Promise<boolean>): Promise<void> {
    for (let tries = 0; !(await condition()); tries += 1) {
      if (tries > 400) throw new Error('condition never held');
      await new Promise((resolve) => setTimeout(resolve, 25));
    }
  }

  it('commits the appends that arrive during a commit together, each with its own request id', async () => {
    const log = new AuditLog(catalog.pool);
    const lock = await holdChainLock();
    const first = runWithContext({ requestId: 'grp-0' }, () => log.append(read('group', 0)));
    await until(async () => (await waitersOnChainLock()) === 1);
    // Nineteen reads from other requests while the first one's commit waits for the lock.
    const rest = Array.from({ length: 19 }, (_, k) => runWithContext({ requestId: `grp-${k + 1}` }, () => log.append(read('group', k + 1))));
    await new Promise((resolve) => setTimeout(resolve, 100));
    expect(await waitersOnChainLock()).toBe(1); // the others wait in the log, not in PostgreSQL
    await lock.release();
    const records = await Promise.all([first, ...rest]);
    expect(records.map((r) => r.requestId)).toEqual(Array.from({ length: 20 }, (_, i) => `grp-${i}`));
    const { rows } = await catalog.pool.query<{ transactions: number; rows: number }>(
      "SELECT count(DISTINCT xmin::text)::int AS transactions, count(*)::int AS rows FROM audit_events WHERE details->>'what' = 'group'",
    );
    expect(rows).toEqual([{ transactions: 2, rows: 20 }]);
    const seqs = records.map((r) => r.seq);
    expect(seqs).toEqual([...seqs].sort((a, b) => a - b));
    await expect(verifyAuditChain(catalog.pool)).resolves.toMatchObject({ ok: true });
  });

  it('fails a malformed record alone, before it joins a group', async () => {
    const log = new AuditLog(catalog.pool);
    const bad = { ...read('alone', 1), details: { PatientName: 'not allowed' } };
    const results = await Promise.allSettled([log.append(read('alone', 0)), log.append(bad), log.append(read('alone', 2))]);
    expect(results.map((r) => r.status)).toEqual(['fulfilled', 'rejected', 'fulfilled']);
    expect(results[1]).toMatchObject({ reason: expect.objectContaining({ message: expect.stringMatching(/would store a patient identifier/) }) });
    const { rows } = await catalog.pool.query<{ n: number }>("SELECT count(*)::int AS n FROM audit_events WHERE details->>'what' = 'alone'");
    expect(rows).toEqual([{ n: 2 }]);
  });

  it('fails every append of a group whose commit fails, records none of them, and commits the next group', async () => {
    const log = new AuditLog(catalog.pool);
    const lock = await holdChainLock();
    const doomed = [log.append(read('lost', 0)), log.append(read('lost', 1)), log.append(read('lost', 2))];
    await until(async () => (await waitersOnChainLock()) === 1);
    // The group's connection is lost while it waits (a restarted server, a killed backend).
    await catalog.pool.query(
      "SELECT pg_terminate_backend(l.pid) FROM pg_locks l WHERE l.locktype = 'advisory' AND l.classid = 7007 AND NOT l.granted",
    );
    const settled = await Promise.allSettled(doomed);
    expect(settled.map((r) => r.status)).toEqual(['rejected', 'rejected', 'rejected']);
    await lock.release();
    await expect(log.append(read('after', 0))).resolves.toMatchObject({ eventType: 'DICOM Instances Accessed' });
    const { rows } = await catalog.pool.query<{ what: string; n: number }>(
      "SELECT details->>'what' AS what, count(*)::int AS n FROM audit_events WHERE details->>'what' IN ('lost', 'after') GROUP BY 1",
    );
    expect(rows).toEqual([{ what: 'after', n: 1 }]);
    await expect(verifyAuditChain(catalog.pool)).resolves.toMatchObject({ ok: true });
  });
});
