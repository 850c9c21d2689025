import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Pool, PoolClient } from '@yunying/catalog';
import { createTestCatalog, type TestCatalog } from '@yunying/catalog/testing';
import { AuditAnchor, ensureKeyedGenesis, writeCheckpoint } from './anchor.service';
import { readAuditRecords } from './audit-chain.repository';
import { AuditLog } from './audit.repository';
import { FileCheckpointStore, generateCheckpointSigningKeyPem, loadCheckpointPublicKeys, signerFromPrivateKey, type CheckpointSigner } from './checkpoint';
import { canonicalJson, GENESIS_HASH, hashAuditRecord, macAuditRecord, type AuditContent } from './hash';
import { installAuditKeyring, installedAuditKeyring, parseAuditKeyFile, type AuditKeyring } from './keyring';
import { testAuditKeyring } from './testing';
import { verifyAuditChain, type CheckpointVerification } from './verify';
import type { AuditEventInput } from './event-types';

const actor = { userId: '7f0c5f5e-1a51-4a8f-9a54-6a3d1c1e2b10', username: 'radiologist', role: 'radiologist' };

function event(i: number): AuditEventInput {
  return { type: 'DICOM Instances Accessed', actor, requestId: `req-${i}`, studyInstanceUid: `1.2.826.0.1.3680043.8.498.${i}`, details: { instances: i } };
}

async function appendMany(pool: Pool, from: number, n: number): Promise<void> {
  const log = new AuditLog(pool);
  for (let i = from; i < from + n; i += 1) await log.append(event(i));
}

/** Raw statements in the superuser's session; a row read back is only looked at for its place and link. */
type Query = (sql: string, params?: unknown[]) => Promise<{ rows: { seq: string; hash: string }[] }>;

/** As an attacker with superuser rights would: bypass the append-only triggers for one session. */
async function asSuperuser(pool: Pool, statements: (q: Query, client: PoolClient) => Promise<void>): Promise<void> {
  const client = await pool.connect();
  try {
    await client.query('SET session_replication_role = replica');
    await statements((sql, params) => client.query<{ seq: string; hash: string }>(sql, params), client);
  } finally {
    await client.query('RESET session_replication_role');
    client.release();
  }
}

/** A record as the code before migration 0900 wrote it: an unkeyed SHA-256 link. */
async function appendLegacy(pool: Pool, i: number): Promise<void> {
  const head = (await pool.query<{ last_seq: string; last_hash: string }>('SELECT last_seq, last_hash FROM audit_chain_head')).rows[0]!;
  const content: AuditContent = {
    id: crypto.randomUUID(),
    occurredAt: new Date(),
    eventType: 'Query',
    eventCode: '110112',
    action: 'E',
    outcome: 0,
    actorUserId: null,
    actorUsername: `legacy-${i}`,
    actorRole: null,
    actorClinic: null,
    sourceIp: null,
    requestId: null,
    studyInstanceUid: null,
    clinicId: null,
    details: { n: i },
    prevHash: head.last_hash,
  };
  await pool.query(
    `INSERT INTO audit_events (seq, id, occurred_at, event_type, event_code, action, outcome, actor_username, details, prev_hash, hash)
     VALUES ($1, $2, $3, 'Query', '110112', 'E', 0, $4, $5, $6, $7)`,
    [Number(head.last_seq) + 1, content.id, content.occurredAt, content.actorUsername, JSON.stringify(content.details), content.prevHash, hashAuditRecord(content)],
  );
}

/** Re-forges every record from `fromSeq` on as plain SHA-256 links and moves the head, as a superuser could. */
async function reforgePlain(q: Query, client: PoolClient, fromSeq: number, edit: (r: AuditContent & { seq: number }) => AuditContent): Promise<void> {
  const records = await readAuditRecords(client, fromSeq, Number.MAX_SAFE_INTEGER);
  let prev = fromSeq === 1 ? GENESIS_HASH : (await q('SELECT * FROM audit_events WHERE seq = $1', [fromSeq - 1])).rows[0]!.hash;
  for (const record of records) {
    const content = { ...edit(record), prevHash: prev };
    const hash = hashAuditRecord(content);
    await q('UPDATE audit_events SET actor_username = $1, details = $2, prev_hash = $3, hash = $4, mac_key_id = NULL, mac_alg = NULL WHERE seq = $5', [
      content.actorUsername,
      JSON.stringify(content.details),
      prev,
      hash,
      record.seq,
    ]);
    prev = hash;
  }
  await q('UPDATE audit_chain_head SET last_hash = $1', [prev]);
}

describe('keyed audit chain (HMAC-SM3, key outside the database)', () => {
  let catalog: TestCatalog;
  let testKeyring: AuditKeyring | null;
  beforeEach(async () => {
    testKeyring = installedAuditKeyring();
    catalog = await createTestCatalog('audkey');
  });
  afterEach(async () => {
    if (testKeyring) installAuditKeyring(testKeyring);
    await catalog.drop();
  });

  it('writes HMAC-SM3 links under the installed key, never the key itself', async () => {
    const keyring = parseAuditKeyFile(`k1:${Buffer.alloc(32, 7).toString('base64')}\n`, 'sm3');
    installAuditKeyring(keyring);
    const record = await new AuditLog(catalog.pool).append(event(1));
    expect(record).toMatchObject({ macKeyId: 'k1', macAlg: 'sm3' });
    const { id, occurredAt, eventType, eventCode, action, outcome, actorUserId, actorUsername, actorRole, actorClinic, sourceIp, requestId, studyInstanceUid, clinicId, details, prevHash } = record;
    const message = canonicalJson(['yy-audit-2', id, occurredAt.toISOString(), eventType, eventCode, action, outcome, actorUserId, actorUsername, actorRole, actorClinic, sourceIp, requestId, studyInstanceUid, clinicId, details, prevHash, 'k1', 'sm3']);
    expect(record.hash).toBe(crypto.createHmac('sm3', Buffer.alloc(32, 7)).update(message).digest('hex'));
    const dump = JSON.stringify((await catalog.pool.query('SELECT * FROM audit_events')).rows);
    expect(dump).not.toContain(Buffer.alloc(32, 7).toString('base64'));
    await expect(verifyAuditChain(catalog.pool)).resolves.toMatchObject({ ok: true, count: 1, legacyCount: 0, keyedFromSeq: 1 });
  });

  it('detects a superuser UPDATE whose links were all recomputed as plain hashes', async () => {
    await appendMany(catalog.pool, 1, 8);
    await asSuperuser(catalog.pool, (q, client) => reforgePlain(q, client, 4, (r) => ({ ...r, actorUsername: 'someone-else' })));
    // Records 1-3 are keyed; record 4 now claims to be an unkeyed (legacy) link.
    await expect(verifyAuditChain(catalog.pool)).resolves.toMatchObject({ ok: false, firstBadSeq: 4, problem: 'unkeyed' });
  });

  it('detects a MAC recomputed under a key that is not the chain key', async () => {
    await appendMany(catalog.pool, 1, 5);
    const attacker = testAuditKeyring('test-key'); // same id, other bytes: what a guess at the key gives
    await asSuperuser(catalog.pool, async (q, client) => {
      const [record] = await readAuditRecords(client, 3, 3);
      const forged = { ...record!, details: { instances: 0 } };
      await q('UPDATE audit_events SET details = $1, hash = $2 WHERE seq = 3', [JSON.stringify(forged.details), macAuditRecord(forged, attacker.current, 'sm3')]);
    });
    const result = await verifyAuditChain(catalog.pool);
    expect(result).toMatchObject({ ok: false, firstBadSeq: 3, problem: 'mac-mismatch' });
    expect(result.ok ? '' : result.detail).not.toMatch(/radiologist|1\.2\.826/);
  });

  it('migrates legacy links: verified as legacy up to a keyed genesis, which then anchors them', async () => {
    for (let i = 1; i <= 6; i += 1) await appendLegacy(catalog.pool, i);
    await expect(verifyAuditChain(catalog.pool)).resolves.toMatchObject({ ok: true, count: 6, legacyCount: 6, keyedFromSeq: null });
    await expect(ensureKeyedGenesis(catalog.pool)).resolves.toBe(7);
    await expect(ensureKeyedGenesis(catalog.pool)).resolves.toBeNull(); // idempotent
    await appendMany(catalog.pool, 100, 3);
    await expect(verifyAuditChain(catalog.pool)).resolves.toMatchObject({ ok: true, count: 10, legacyCount: 6, keyedFromSeq: 7 });
  });

  it('anchors legacy records: re-hashing only the legacy part breaks the link into the keyed genesis', async () => {
    for (let i = 1; i <= 6; i += 1) await appendLegacy(catalog.pool, i);
    await ensureKeyedGenesis(catalog.pool);
    await appendMany(catalog.pool, 100, 2);
    await asSuperuser(catalog.pool, async (q, client) => {
      let prev = (await q('SELECT * FROM audit_events WHERE seq = 1')).rows[0]!.hash;
      for (let seq = 2; seq <= 6; seq += 1) {
        const [record] = await readAuditRecords(client, seq, seq);
        const content = { ...record!, prevHash: prev, ...(seq === 2 ? { actorUsername: 'someone-else' } : {}) };
        prev = hashAuditRecord(content);
        await q('UPDATE audit_events SET actor_username = $1, prev_hash = $2, hash = $3 WHERE seq = $4', [content.actorUsername, content.prevHash, prev, seq]);
      }
    });
    const result = await verifyAuditChain(catalog.pool);
    expect(result).toMatchObject({ ok: false, firstBadSeq: 6, problem: 'changed' });
    expect(result.ok ? '' : result.detail).toMatch(/record 7 links to a record that is not in the log/);
  });

  it('verifies across a key rotation and names a record under a key the verifier lacks', async () => {
    const k1 = `k1:${crypto.randomBytes(32).toString('base64')}\n`;
    installAuditKeyring(parseAuditKeyFile(k1, 'sm3'));
    await appendMany(catalog.pool, 1, 3);
    installAuditKeyring(parseAuditKeyFile(`${k1}k2:${crypto.randomBytes(32).toString('base64')}\n`, 'sha256'));
    await expect(ensureKeyedGenesis(catalog.pool)).resolves.toBe(4);
    await appendMany(catalog.pool, 10, 2);
    const rows = (await catalog.pool.query<{ mac_key_id: string; mac_alg: string; details: { kind?: string } }>('SELECT mac_key_id, mac_alg, details FROM audit_events ORDER BY seq')).rows;
    expect(rows.map((r) => `${r.mac_key_id}/${r.mac_alg}`)).toEqual(['k1/sm3', 'k1/sm3', 'k1/sm3', 'k2/sha256', 'k2/sha256', 'k2/sha256']);
    expect(rows[3]?.details.kind).toBe('audit-mac-key-changed');
    await expect(verifyAuditChain(catalog.pool)).resolves.toMatchObject({ ok: true, count: 6, keyedFromSeq: 1 });
    const withoutK1 = parseAuditKeyFile(`k2:${crypto.randomBytes(32).toString('base64')}\n`, 'sha256');
    await expect(verifyAuditChain(catalog.pool, { keyring: withoutK1 })).resolves.toMatchObject({ ok: false, firstBadSeq: 1, problem: 'unknown-key' });
  });
});

describe('signed checkpoints (SM2) of the audit chain head', () => {
  let catalog: TestCatalog;
  let dir: string;
  let signer: CheckpointSigner;
  let store: FileCheckpointStore;
  let checkpoints: CheckpointVerification;
  beforeEach(async () => {
    catalog = await createTestCatalog('audckpt');
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'yy-ckpt-'));
    signer = signerFromPrivateKey(crypto.createPrivateKey(generateCheckpointSigningKeyPem()));
    store = new FileCheckpointStore(dir, `test/${catalog.schema}`);
    checkpoints = { store, publicKeys: [signer.publicKey] };
    await appendMany(catalog.pool, 1, 10);
  });
  afterEach(async () => {
    fs.rmSync(dir, { recursive: true, force: true });
    await catalog.drop();
  });

  it('writes a read-only signed checkpoint once per head and verifies the chain against it', async () => {
    const first = await writeCheckpoint(catalog.pool, signer, store);
    expect(first).toMatchObject({ written: true, checkpoint: { seq: 10, algorithm: 'SM2-SM3', signerKeyId: signer.keyId } });
    await expect(writeCheckpoint(catalog.pool, signer, store)).resolves.toEqual({ written: false, reason: 'unchanged' });
    const files = fs.readdirSync(path.join(dir, `test_${catalog.schema}`));
    expect(files).toHaveLength(1);
    expect(fs.statSync(path.join(dir, `test_${catalog.schema}`, files[0]!)).mode & 0o777).toBe(0o440);
    await appendMany(catalog.pool, 11, 2);
    await expect(writeCheckpoint(catalog.pool, signer, store)).resolves.toMatchObject({ written: true, checkpoint: { seq: 12 } });
    await expect(verifyAuditChain(catalog.pool, { checkpoints })).resolves.toMatchObject({ ok: true, count: 12, checkpointsChecked: 2, latestCheckpoint: { seq: 12 } });
  });

  it('detects the last records deleted and the head rewritten, against the checkpoint', async () => {
    await writeCheckpoint(catalog.pool, signer, store);
    await asSuperuser(catalog.pool, async (q) => {
      const row = (await q('SELECT * FROM audit_events WHERE seq = 7')).rows[0]!;
      await q('DELETE FROM audit_events WHERE seq > 7');
      await q('UPDATE audit_chain_head SET last_seq = 7, last_hash = $1', [row.hash]);
    });
    // The chain alone is consistent: only the checkpoint shows records are missing.
    await expect(verifyAuditChain(catalog.pool)).resolves.toMatchObject({ ok: true, count: 7 });
    const result = await verifyAuditChain(catalog.pool, { checkpoints });
    expect(result).toMatchObject({ ok: false, firstBadSeq: 8, problem: 'truncated' });
    expect(result.ok ? '' : result.detail).toMatch(/records 8\.\.10 are missing/);
  });

  it('detects the whole chain re-forged as plain (legacy-looking) links, against the checkpoint', async () => {
    await writeCheckpoint(catalog.pool, signer, store);
    await asSuperuser(catalog.pool, (q, client) => reforgePlain(q, client, 1, (r) => (r.seq === 3 ? { ...r, actorUsername: 'someone-else' } : r)));
    // Every link is now a valid SHA-256 link, as if never keyed: only a record kept outside the database
    // (the signed head) can tell.
    await expect(verifyAuditChain(catalog.pool)).resolves.toMatchObject({ ok: true, legacyCount: 10 });
    await expect(verifyAuditChain(catalog.pool, { checkpoints })).resolves.toMatchObject({ ok: false, firstBadSeq: 10, problem: 'checkpoint-mismatch' });
  });

  it('names a gap when the last records are deleted but the head is left', async () => {
    await asSuperuser(catalog.pool, (q) => q('DELETE FROM audit_events WHERE seq > 8').then(() => undefined));
    await expect(verifyAuditChain(catalog.pool, { checkpoints })).resolves.toMatchObject({ ok: false, firstBadSeq: 9, problem: 'removed' });
  });

  it('refuses a checkpoint whose signature does not verify, and one of an unknown signer', async () => {
    const written = await writeCheckpoint(catalog.pool, signer, store);
    if (!written.written) throw new Error('expected a checkpoint');
    const chainDir = path.join(dir, `test_${catalog.schema}`);
    const file = path.join(chainDir, fs.readdirSync(chainDir)[0]!);
    fs.chmodSync(file, 0o640);
    fs.writeFileSync(file, JSON.stringify({ ...written.checkpoint, seq: 5 }));
    await expect(verifyAuditChain(catalog.pool, { checkpoints })).resolves.toMatchObject({ ok: false, firstBadSeq: 5, problem: 'checkpoint-invalid' });
    const other = signerFromPrivateKey(crypto.createPrivateKey(generateCheckpointSigningKeyPem()));
    fs.writeFileSync(file, JSON.stringify(written.checkpoint));
    await expect(verifyAuditChain(catalog.pool, { checkpoints: { store, publicKeys: [other.publicKey] } })).resolves.toMatchObject({ problem: 'checkpoint-invalid' });
    await expect(verifyAuditChain(catalog.pool, { checkpoints })).resolves.toMatchObject({ ok: true });
  });

  it('verifies checkpoints of the current and a retired signer from a public-keys file, without any signing key', async () => {
    await writeCheckpoint(catalog.pool, signer, store);
    const next = signerFromPrivateKey(crypto.createPrivateKey(generateCheckpointSigningKeyPem()));
    await appendMany(catalog.pool, 11, 2);
    await expect(writeCheckpoint(catalog.pool, next, store)).resolves.toMatchObject({ written: true, checkpoint: { seq: 12, signerKeyId: next.keyId } });
    const file = path.join(dir, 'checkpoint-public-keys.pem');
    const pem = (k: CheckpointSigner): string => k.publicKey.export({ type: 'spki', format: 'pem' }).toString();
    fs.writeFileSync(file, `# retired\n${pem(signer)}# current\n${pem(next)}`);
    const publicKeys = loadCheckpointPublicKeys(file);
    expect(publicKeys).toHaveLength(2);
    await expect(verifyAuditChain(catalog.pool, { checkpoints: { store, publicKeys } })).resolves.toMatchObject({ ok: true, checkpointsChecked: 2 });
    // Without the retired signer's key its checkpoint cannot be trusted.
    fs.writeFileSync(file, pem(next));
    await expect(verifyAuditChain(catalog.pool, { checkpoints: { store, publicKeys: loadCheckpointPublicKeys(file) } })).resolves.toMatchObject({
      ok: false,
      firstBadSeq: 10,
      problem: 'checkpoint-invalid',
    });
  });

  it('raises one Security Alert per distinct break instead of signing', async () => {
    const anchor = new AuditAnchor(catalog.pool, () => signer, store);
    await expect(anchor.tick()).resolves.toMatchObject({ written: true });
    await appendMany(catalog.pool, 11, 2);
    await asSuperuser(catalog.pool, (q) => q("UPDATE audit_events SET actor_username = 'x' WHERE seq = 11").then(() => undefined));
    for (let i = 0; i < 3; i += 1) await expect(anchor.tick()).resolves.toMatchObject({ written: false, reason: 'chain-broken' });
    const { rows } = await catalog.pool.query<{ outcome: number; details: Record<string, unknown> }>("SELECT outcome, details FROM audit_events WHERE details->>'kind' = 'audit-chain-broken'");
    expect(rows).toEqual([{ outcome: 12, details: expect.objectContaining({ firstBadSeq: 11, problem: 'mac-mismatch' }) as unknown }]);
  });

  it('does not sign a head over a chain that does not verify', async () => {
    await writeCheckpoint(catalog.pool, signer, store);
    await appendMany(catalog.pool, 11, 3);
    await asSuperuser(catalog.pool, (q) => q("UPDATE audit_events SET actor_username = 'x' WHERE seq = 12").then(() => undefined));
    await expect(writeCheckpoint(catalog.pool, signer, store)).resolves.toMatchObject({
      written: false,
      reason: 'chain-broken',
      verification: { firstBadSeq: 12, problem: 'mac-mismatch' },
    });
  });
});
