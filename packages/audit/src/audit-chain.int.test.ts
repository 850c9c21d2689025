import { inTransaction, type Pool } from '@yunying/catalog';
import { createTestCatalog, type TestCatalog } from '@yunying/catalog/testing';
import { readAuditRecords, readChainHead } from './audit-chain.repository';
import { appendAuditEvent, AuditLog, queryAuditEvents } from './audit.repository';
import { hashAuditRecord, macAuditRecord } from './hash';
import { requireAuditKeyring } from './keyring';
import { verifyAuditChain } from './verify';
import type { AuditEventInput } from './event-types';

const actor = { userId: '7f0c5f5e-1a51-4a8f-9a54-6a3d1c1e2b10', username: 'radiologist', role: 'radiologist' };

function event(i: number): AuditEventInput {
  return {
    type: 'DICOM Instances Accessed',
    actor,
    sourceIp: '10.0.0.1',
    requestId: `req-${i}`,
    studyInstanceUid: `1.2.826.0.1.3680043.8.498.${i}`,
    details: { instances: i, frames: [1, 2], nested: { b: 2, a: 1 } },
  };
}

async function appendMany(pool: Pool, n: number): Promise<void> {
  const log = new AuditLog(pool);
  for (let i = 1; i <= n; i += 1) await log.append(event(i));
}

/** As an attacker with superuser rights would: bypass the append-only triggers for one session. */
async function asSuperuserBypassingTriggers(pool: Pool, statements: (q: (sql: string, params?: unknown[]) => Promise<unknown>) => Promise<void>): Promise<void> {
  const client = await pool.connect();
  try {
    await client.query('SET session_replication_role = replica');
    await statements((sql, params) => client.query(sql, params));
  } finally {
    await client.query('RESET session_replication_role');
    client.release();
  }
}

describe('audit chain', () => {
  let catalog: TestCatalog;
  beforeAll(async () => {
    catalog = await createTestCatalog('audit');
  });
  afterAll(async () => {
    await catalog.drop();
  });

  it('appends linked records and verifies them', async () => {
    await appendMany(catalog.pool, 10);
    await expect(verifyAuditChain(catalog.pool)).resolves.toMatchObject({ ok: true, count: 10, headSeq: 10 });
    const page = await queryAuditEvents(catalog.pool, { studyInstanceUid: '1.2.826.0.1.3680043.8.498.3' });
    expect(page.events).toHaveLength(1);
    expect(page.events[0]).toMatchObject({ eventType: 'DICOM Instances Accessed', eventCode: '110103', action: 'R', outcome: 0, requestId: 'req-3' });
  });

  it('keeps a linear chain under 50 concurrent appends', async () => {
    const before = await verifyAuditChain(catalog.pool);
    const log = new AuditLog(catalog.pool);
    await Promise.all(Array.from({ length: 50 }, (_, i) => log.append(event(100 + i))));
    const after = await verifyAuditChain(catalog.pool, { pageSize: 7 });
    expect(after).toMatchObject({ ok: true, count: (before.ok ? before.count : 0) + 50 });
  });

  it('appends inside the caller transaction: a rollback leaves no record and no gap', async () => {
    const before = await verifyAuditChain(catalog.pool);
    await expect(
      inTransaction(catalog.pool, async (client) => {
        await appendAuditEvent(client, event(999));
        throw new Error('ingest failed');
      }),
    ).rejects.toThrow('ingest failed');
    await new AuditLog(catalog.pool).append(event(1000));
    const after = await verifyAuditChain(catalog.pool);
    expect(after).toMatchObject({ ok: true, count: (before.ok ? before.count : 0) + 1 });
  });

  it('refuses to append outside a transaction and refuses patient identifiers in details', async () => {
    const client = await catalog.pool.connect();
    try {
      await expect(appendAuditEvent(client, event(1))).rejects.toThrow(/inside a transaction/);
    } finally {
      client.release();
    }
    await expect(new AuditLog(catalog.pool).append({ ...event(1), details: { study: { PatientName: 'X' } } })).rejects.toThrow(/patient identifier/);
  });

  it('refuses UPDATE, DELETE and TRUNCATE even for the table owner', async () => {
    await expect(catalog.pool.query("UPDATE audit_events SET actor_username = 'x' WHERE seq = 1")).rejects.toThrow(/append-only/);
    await expect(catalog.pool.query('DELETE FROM audit_events WHERE seq = 1')).rejects.toThrow(/append-only/);
    await expect(catalog.pool.query('TRUNCATE audit_events')).rejects.toThrow(/append-only/);
    await expect(catalog.pool.query('UPDATE audit_chain_head SET last_seq = 1')).rejects.toThrow(/append-only/);
    await expect(catalog.pool.query('DELETE FROM audit_chain_head')).rejects.toThrow(/append-only/);
  });

  it('lets the application role only INSERT and SELECT', async () => {
    const client = await catalog.pool.connect();
    try {
      await client.query('BEGIN');
      await client.query('SET LOCAL ROLE yunying_app');
      await appendAuditEvent(client, event(2000));
      await client.query('COMMIT');
      for (const sql of [
        "UPDATE audit_events SET actor_username = 'x' WHERE seq = 1",
        'DELETE FROM audit_events WHERE seq = 1',
        'TRUNCATE audit_events',
        'UPDATE audit_chain_head SET last_seq = 1',
      ]) {
        await client.query('BEGIN');
        await client.query('SET LOCAL ROLE yunying_app');
        await expect(client.query(sql)).rejects.toThrow(/permission denied/);
        await client.query('ROLLBACK');
      }
    } finally {
      client.release();
    }
    await expect(verifyAuditChain(catalog.pool)).resolves.toMatchObject({ ok: true });
  });

  it('refuses a record that does not extend the chain head', async () => {
    const head = (await readChainHead(catalog.pool))!;
    await expect(
      catalog.pool.query(
        `INSERT INTO audit_events (seq, id, occurred_at, event_type, event_code, action, outcome, actor_username, prev_hash, hash)
         VALUES ($1, gen_random_uuid(), now(), 'Query', '110112', 'E', 0, 'mallory', $2, $3)`,
        [head.seq + 5, head.hash, 'a'.repeat(64)],
      ),
    ).rejects.toThrow(/does not extend the chain head/);
  });
});

describe('audit chain tampering by a superuser', () => {
  let catalog: TestCatalog;
  beforeEach(async () => {
    catalog = await createTestCatalog('audtamper');
    await appendMany(catalog.pool, 10);
  });
  afterEach(async () => {
    await catalog.drop();
  });

  it('names an edited record', async () => {
    await asSuperuserBypassingTriggers(catalog.pool, async (q) => {
      await q("UPDATE audit_events SET actor_username = 'someone-else' WHERE seq = 5");
    });
    await expect(verifyAuditChain(catalog.pool)).resolves.toMatchObject({ ok: false, firstBadSeq: 5, problem: 'mac-mismatch' });
  });

  it('names an edited record whose plain hash was recomputed (the superuser has no MAC key)', async () => {
    await asSuperuserBypassingTriggers(catalog.pool, async (q) => {
      const [record] = await readAuditRecords(catalog.pool, 5, 5);
      const forged = { ...record!, details: { instances: 0 } };
      await q('UPDATE audit_events SET details = $1, hash = $2 WHERE seq = 5', [JSON.stringify(forged.details), hashAuditRecord(forged)]);
    });
    await expect(verifyAuditChain(catalog.pool)).resolves.toMatchObject({ ok: false, firstBadSeq: 5, problem: 'mac-mismatch' });
  });

  it('names a removed record', async () => {
    await asSuperuserBypassingTriggers(catalog.pool, async (q) => {
      await q('DELETE FROM audit_events WHERE seq = 4');
    });
    await expect(verifyAuditChain(catalog.pool)).resolves.toMatchObject({ ok: false, firstBadSeq: 4, problem: 'removed' });
  });

  it('names a removed last record', async () => {
    await asSuperuserBypassingTriggers(catalog.pool, async (q) => {
      await q('DELETE FROM audit_events WHERE seq = 10');
    });
    await expect(verifyAuditChain(catalog.pool)).resolves.toMatchObject({ ok: false, firstBadSeq: 10, problem: 'removed' });
  });

  it('names the break when a record was removed and later records renumbered', async () => {
    await asSuperuserBypassingTriggers(catalog.pool, async (q) => {
      await q('DELETE FROM audit_events WHERE seq = 6');
      await q('UPDATE audit_events SET seq = seq + 1000 WHERE seq > 6');
      await q('UPDATE audit_events SET seq = seq - 1001 WHERE seq > 1000');
      await q('UPDATE audit_chain_head SET last_seq = 9');
    });
    // Without the missing record the chain cannot tell this from a re-hashed record 5: it names the break.
    const result = await verifyAuditChain(catalog.pool);
    expect(result).toMatchObject({ ok: false, firstBadSeq: 5 });
    expect(result.ok ? '' : result.detail).toMatch(/removed and the rest renumbered/);
  });

  it('names swapped records as reordered', async () => {
    await asSuperuserBypassingTriggers(catalog.pool, async (q) => {
      const cols = 'id, occurred_at, event_type, event_code, action, outcome, actor_user_id, actor_username, actor_role, actor_clinic, source_ip, request_id, study_instance_uid, clinic_id, details, prev_hash, hash';
      const set = cols
        .split(', ')
        .map((c) => `${c} = o.${c}`)
        .join(', ');
      // Swap every column but seq between records 3 and 7 (ids and hashes are unique: park one first).
      await q(`CREATE TEMP TABLE swap AS SELECT * FROM audit_events WHERE seq IN (3, 7)`);
      await q(`UPDATE audit_events SET id = gen_random_uuid(), hash = repeat('f', 64) WHERE seq = 7`);
      await q(`UPDATE audit_events a SET ${set} FROM swap o WHERE a.seq = 3 AND o.seq = 7`);
      await q(`UPDATE audit_events a SET ${set} FROM swap o WHERE a.seq = 7 AND o.seq = 3`);
    });
    await expect(verifyAuditChain(catalog.pool)).resolves.toMatchObject({ ok: false, firstBadSeq: 3, problem: 'reordered' });
  });

  it('names adjacent swapped records as reordered', async () => {
    await asSuperuserBypassingTriggers(catalog.pool, async (q) => {
      await q('UPDATE audit_events SET seq = 100 WHERE seq = 8');
      await q('UPDATE audit_events SET seq = 8 WHERE seq = 9');
      await q('UPDATE audit_events SET seq = 9 WHERE seq = 100');
    });
    await expect(verifyAuditChain(catalog.pool)).resolves.toMatchObject({ ok: false, firstBadSeq: 8, problem: 'reordered' });
  });

  it('names a record inserted into the middle of the chain', async () => {
    await asSuperuserBypassingTriggers(catalog.pool, async (q) => {
      const [row] = await readAuditRecords(catalog.pool, 4, 4);
      await q('UPDATE audit_events SET seq = seq + 1000 WHERE seq >= 5');
      await q('UPDATE audit_events SET seq = seq - 999 WHERE seq > 1000');
      const forged = { ...row!, id: '5d2a4c1e-0000-4000-8000-000000000001', prevHash: row!.hash, details: { forged: true } };
      // Forged by someone who holds the MAC key (the chain's position checks must still catch it).
      const keyring = requireAuditKeyring();
      await q(
        `INSERT INTO audit_events (seq, id, occurred_at, event_type, event_code, action, outcome, actor_username, details, prev_hash, hash,
           actor_user_id, actor_role, actor_clinic, source_ip, request_id, study_instance_uid, clinic_id, mac_key_id, mac_alg)
         VALUES (5, $1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19)`,
        [forged.id, forged.occurredAt, forged.eventType, forged.eventCode, forged.action, forged.outcome, forged.actorUsername, JSON.stringify(forged.details),
          forged.prevHash, macAuditRecord(forged, keyring.current, keyring.algorithm), forged.actorUserId, forged.actorRole, forged.actorClinic, forged.sourceIp, forged.requestId,
          forged.studyInstanceUid, forged.clinicId, keyring.current.id, keyring.algorithm],
      );
      await q('UPDATE audit_chain_head SET last_seq = 11');
    });
    await expect(verifyAuditChain(catalog.pool)).resolves.toMatchObject({ ok: false, firstBadSeq: 5, problem: 'inserted' });
  });
});
