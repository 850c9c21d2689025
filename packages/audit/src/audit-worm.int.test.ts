import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import * as Minio from 'minio';
import type { Pool, PoolClient } from '@yunying/catalog';
import { createTestCatalog, type TestCatalog } from '@yunying/catalog/testing';
import { AppError } from '@yunying/core';
import { isSealed, newStorageKeyLine, ObjectEnvelope, parseStorageKeyFile, S3ReplicaTarget, type ReplicaTarget } from '@yunying/storage';
import { s3TestSettings, tempFsTargets, uniqueBucketName, type S3TestSettings } from '@yunying/storage/testing';
import { describeUnless } from '../../../test/support/skip';
import { AuditSegmentKeeper, completeAuditAnchorCopies } from './anchor.repair';
import { writeCheckpoint } from './anchor.service';
import { readAuditRecords } from './audit-chain.repository';
import { AuditLog } from './audit.repository';
import { FileCheckpointStore, generateCheckpointSigningKeyPem, signCheckpoint, signerFromPrivateKey, type CheckpointSigner } from './checkpoint';
import type { AuditEventInput } from './event-types';
import { GENESIS_HASH, hashAuditRecord, type AuditContent } from './hash';
import { ReplicaCheckpointStore } from './replica-checkpoint.store';
import { buildSegment, exportAuditSegment, segmentKey } from './segment';
import { verifyAuditSegments } from './segment.verify';
import { verifyAuditChain, type ChainVerification } from './verify';
import { auditRecordPrefix } from './worm';

/**
 * Issue #17, "an audit that cannot be forged quietly": signed checkpoints and exported audit segments as
 * write-once objects in the replica targets, verified against a database a superuser has rewritten. Runs on the
 * fs replica targets (the embedded default) and on three real Object Lock buckets (Ceph RGW, infra/ceph/up.sh),
 * where the store itself refuses to delete or overwrite a locked version. The targets seal what they store, as in
 * production (storage encryption on): records name users and studies, so they are ciphertext at rest too.
 */
const sealing = (): ObjectEnvelope => new ObjectEnvelope({ seal: 'aes-256-gcm', keys: parseStorageKeyFile(newStorageKeyLine()) });
const actor = { userId: '7f0c5f5e-1a51-4a8f-9a54-6a3d1c1e2b10', username: 'radiologist', role: 'radiologist' };
const STUDY = '1.2.826.0.1.3680043.8.498.';

function event(i: number): AuditEventInput {
  return { type: 'DICOM Instances Accessed', actor, requestId: `req-${i}`, studyInstanceUid: `${STUDY}${i}`, details: { instances: i, patient: `PATIENT-${i}` } };
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

/** The whole chain re-forged as plain SHA-256 links (no MAC key needed), record `seq` edited. */
async function reforgePlain(q: Query, client: PoolClient, edit: (r: AuditContent & { seq: number }) => AuditContent): Promise<void> {
  let prev = GENESIS_HASH;
  for (const record of await readAuditRecords(client, 1, Number.MAX_SAFE_INTEGER)) {
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

async function rejection(promise: Promise<unknown>): Promise<unknown> {
  return promise.then(
    () => new Error('expected a rejection, got success'),
    (e: unknown) => e,
  );
}

interface Backend {
  targets: ReplicaTarget[];
  /** Removes a copy as an attacker with the target's credentials would try to (S3: delete marker; fs: unlink). */
  removeCopy(target: number, key: string): Promise<void>;
  /** Replaces a copy's content as such an attacker would try to (S3: a newer version; fs: chmod + rewrite). */
  replaceCopy(target: number, key: string, bytes: Buffer): Promise<void>;
  /** The bytes as stored (not opened), as whoever reads the disk or the bucket directly gets them. */
  storedBytes(target: number, key: string): Promise<Buffer>;
  cleanup(): Promise<void>;
}

const RETENTION_DAYS = 200;

function wormScenarios(kind: string, makeBackend: () => Promise<Backend>): void {
  let catalog: TestCatalog;
  let backend: Backend;
  let signer: CheckpointSigner;
  let chain: string;
  let store: ReplicaCheckpointStore;
  let localDir: string;
  const verify = (): Promise<ChainVerification> => verifyAuditChain(catalog.pool, { checkpoints: { store, publicKeys: [signer.publicKey] } });

  beforeEach(async () => {
    catalog = await createTestCatalog(`audworm${kind}`);
    backend = await makeBackend();
    signer = signerFromPrivateKey(crypto.createPrivateKey(generateCheckpointSigningKeyPem()));
    chain = `test/${catalog.schema}`;
    store = new ReplicaCheckpointStore(backend.targets, chain, RETENTION_DAYS);
    localDir = fs.mkdtempSync(path.join(os.tmpdir(), 'yy-ckpt-local-'));
    await appendMany(catalog.pool, 1, 10);
  });
  afterEach(async () => {
    fs.rmSync(localDir, { recursive: true, force: true });
    await backend.cleanup();
    await catalog.drop();
  });

  it('puts each checkpoint in every copy; truncation is caught after the local checkpoint files are deleted', async () => {
    const local = new FileCheckpointStore(localDir, chain);
    const written = await writeCheckpoint(catalog.pool, signer, store);
    expect(written).toMatchObject({ written: true, checkpoint: { seq: 10 } });
    if (!written.written) throw new Error('not written');
    await expect(writeCheckpoint(catalog.pool, signer, store)).resolves.toEqual({ written: false, reason: 'unchanged' });
    await local.put(written.checkpoint);
    for (const t of backend.targets) expect((await t.listRecords(`${auditRecordPrefix(chain)}checkpoints/`)).filter((v) => !v.deleteMarker)).toHaveLength(1);
    await expect(verify()).resolves.toMatchObject({ ok: true, checkpointsChecked: 1, anchorProblems: [] });

    await asSuperuser(catalog.pool, async (q) => {
      const row = (await q('SELECT * FROM audit_events WHERE seq = 7')).rows[0]!;
      await q('DELETE FROM audit_events WHERE seq > 7');
      await q('UPDATE audit_chain_head SET last_seq = 7, last_hash = $1', [row.hash]);
    });
    fs.rmSync(localDir, { recursive: true, force: true });
    // With the local files gone the file store has nothing to say: the residual risk this closes.
    await expect(verifyAuditChain(catalog.pool, { checkpoints: { store: local, publicKeys: [signer.publicKey] } })).resolves.toMatchObject({ ok: true, count: 7 });
    const result = await verify();
    expect(result).toMatchObject({ ok: false, firstBadSeq: 8, problem: 'truncated' });
  });

  it('reports checkpoint-mismatch when the superuser re-forges the chain with plain links', async () => {
    await writeCheckpoint(catalog.pool, signer, store);
    await asSuperuser(catalog.pool, (q, client) => reforgePlain(q, client, (r) => (r.seq === 3 ? { ...r, actorUsername: 'someone-else' } : r)));
    await expect(verifyAuditChain(catalog.pool)).resolves.toMatchObject({ ok: true, legacyCount: 10 });
    await expect(verify()).resolves.toMatchObject({ ok: false, firstBadSeq: 10, problem: 'checkpoint-mismatch' });
  });

  it('refuses to write other content under a checkpoint name; a removed or replaced copy is reported, the valid copies still decide', async () => {
    const written = await writeCheckpoint(catalog.pool, signer, store);
    if (!written.written) throw new Error('not written');
    const name = (await store.list())[0]!.name;
    const key = `${auditRecordPrefix(chain)}checkpoints/${name}`;
    const forged = signCheckpoint(signerFromPrivateKey(crypto.createPrivateKey(generateCheckpointSigningKeyPem())), { chain, seq: 10, hash: 'f'.repeat(64) });
    const forgedBytes = Buffer.from(JSON.stringify(forged));
    const refused = await rejection(backend.targets[0]!.putRecord(key, forgedBytes, new Date(Date.now() + 86_400_000)));
    expect(refused).toBeInstanceOf(AppError);
    expect((refused as AppError).code).toBe('conflict');

    await backend.removeCopy(0, key);
    await backend.replaceCopy(1, key, forgedBytes);
    const result = await verify();
    expect(result).toMatchObject({ ok: true, checkpointsChecked: 1 });
    const problems = (result.anchorProblems ?? []).map((p) => `${p.problem}:${p.targets.join('+')}`).sort();
    expect(problems).toEqual(kind === 's3' ? ['deleted:s3-1', 'invalid-copy:s3-2', 'overwritten:s3-2'] : ['invalid-copy:fs-2', 'missing:fs-1']);
  });

  it('passes over a forged newer checkpoint name when signing, and verification names it', async () => {
    await writeCheckpoint(catalog.pool, signer, store);
    const forged = signCheckpoint(signerFromPrivateKey(crypto.createPrivateKey(generateCheckpointSigningKeyPem())), { chain, seq: 99, hash: 'f'.repeat(64) });
    const newer = `${auditRecordPrefix(chain)}checkpoints/${'9'.repeat(15)}-forged.json`;
    await backend.targets[0]!.putRecord(newer, Buffer.from(JSON.stringify(forged)), new Date(Date.now() + 86_400_000));
    await expect(writeCheckpoint(catalog.pool, signer, store)).resolves.toEqual({ written: false, reason: 'unchanged' });
    const result = await verify();
    expect(result).toMatchObject({ ok: false, problem: 'checkpoint-invalid' });
    expect(result.ok ? '' : result.detail).toMatch(/999999999999999-forged\.json: the signature does not verify/);
  });

  it('exports segments that continue each other, and reports exported rows deleted or edited by number only', async () => {
    const first = await exportAuditSegment(catalog.pool, signer, backend.targets, chain, { retentionDays: RETENTION_DAYS });
    expect(first).toMatchObject({ exported: true, firstSeq: 1, lastSeq: 10, count: 10 });
    // Sealed at rest in every copy: no user, study or detail readable without the storage key.
    for (const t of [0, 1, 2]) {
      const stored = await backend.storedBytes(t, segmentKey(chain, 1, 10));
      expect(isSealed(stored)).toBe(true);
      expect(stored.toString('latin1')).not.toMatch(/PATIENT|radiologist|1\.2\.826/);
    }
    await expect(exportAuditSegment(catalog.pool, signer, backend.targets, chain, { retentionDays: RETENTION_DAYS })).resolves.toEqual({ exported: false, reason: 'up-to-date' });
    await appendMany(catalog.pool, 11, 5);
    await expect(exportAuditSegment(catalog.pool, signer, backend.targets, chain, { retentionDays: RETENTION_DAYS, maxRecords: 3 })).resolves.toMatchObject({
      exported: true,
      firstSeq: 11,
      lastSeq: 13,
    });
    await expect(verifyAuditSegments(catalog.pool, backend.targets, chain, [signer.publicKey])).resolves.toEqual({
      ok: true,
      segments: 2,
      recordsChecked: 13,
      exportedThrough: 13,
      problems: [],
    });

    await asSuperuser(catalog.pool, async (q) => {
      await q(`UPDATE audit_events SET details = '{"instances": 4, "patient": "SOMEONE-ELSE"}' WHERE seq = 4`);
      await q('DELETE FROM audit_events WHERE seq IN (8, 9, 12)');
    });
    const result = await verifyAuditSegments(catalog.pool, backend.targets, chain, [signer.publicKey]);
    expect(result.ok).toBe(false);
    expect(result.problems.map((p) => `${p.problem}:${p.seqs ?? ''}`).sort()).toEqual(['changed:4', 'removed:12', 'removed:8-9']);
    // Record numbers only: no record content, patient or study identifier in the report.
    expect(JSON.stringify(result)).not.toMatch(/PATIENT|SOMEONE|radiologist|1\.2\.826/);
    // Export goes on from the last segment's signed link: the damage is in what was already exported.
    await expect(exportAuditSegment(catalog.pool, signer, backend.targets, chain, { retentionDays: RETENTION_DAYS })).resolves.toMatchObject({
      exported: true,
      firstSeq: 14,
      lastSeq: 15,
    });
  });

  it('exports nothing over records that no longer verify', async () => {
    await asSuperuser(catalog.pool, (q) => q(`UPDATE audit_events SET details = '{"instances": 0}' WHERE seq = 6`).then(() => undefined));
    await expect(exportAuditSegment(catalog.pool, signer, backend.targets, chain, { retentionDays: RETENTION_DAYS })).resolves.toMatchObject({
      exported: false,
      reason: 'chain-broken',
      verification: { firstBadSeq: 6, problem: 'mac-mismatch' },
    });
    for (const t of backend.targets) expect(await t.listRecords(`${auditRecordPrefix(chain)}segments/`)).toEqual([]);
  });

  it('completes a copy that was not written (target down) from a valid one and records it; a hidden copy is left to the verifier', async () => {
    const two = backend.targets.slice(0, 2);
    await writeCheckpoint(catalog.pool, signer, new ReplicaCheckpointStore(two, chain, RETENTION_DAYS));
    await exportAuditSegment(catalog.pool, signer, two, chain, { retentionDays: RETENTION_DAYS });
    const third = backend.targets[2]!.name;
    expect((await verify()).anchorProblems).toEqual([expect.objectContaining({ problem: 'missing', targets: [third] })]);
    expect((await verifyAuditSegments(catalog.pool, backend.targets, chain, [signer.publicKey])).problems).toEqual([expect.objectContaining({ problem: 'missing', targets: [third] })]);
    const checkpointKey = (await backend.targets[0]!.listRecords(`${auditRecordPrefix(chain)}checkpoints/`))[0]!.key;
    await backend.removeCopy(0, checkpointKey);

    const repair = { pool: catalog.pool, targets: backend.targets, chain, publicKey: signer.publicKey, retentionDays: RETENTION_DAYS };
    const restored = await completeAuditAnchorCopies(repair);
    // fs: the deleted file is missing like a never-written one, so it is restored (and recorded); S3: the
    // delete marker is not "missing": the verifier keeps reporting it.
    expect(restored.map((r) => `${r.target}:${r.key.includes('/checkpoints/') ? 'checkpoint' : 'segment'}`).sort()).toEqual(
      kind === 's3' ? [`${third}:checkpoint`, `${third}:segment`] : ['fs-1:checkpoint', `${third}:checkpoint`, `${third}:segment`],
    );
    const after = await verify();
    expect(after).toMatchObject({ ok: true, anchorProblems: kind === 's3' ? [expect.objectContaining({ problem: 'deleted', targets: ['s3-1'] })] : [] });
    await expect(verifyAuditSegments(catalog.pool, backend.targets, chain, [signer.publicKey])).resolves.toMatchObject({ ok: true, problems: [] });
    const alert = await catalog.pool.query<{ details: { kind: string; count: number } }>("SELECT details FROM audit_events WHERE event_type = 'Security Alert' ORDER BY seq DESC LIMIT 1");
    expect(alert.rows[0]?.details).toMatchObject({ kind: 'audit-anchor-copies-restored', count: restored.length });
    await expect(completeAuditAnchorCopies(repair)).resolves.toEqual([]);
  });

  it('keeper step: exports the backlog, and raises one Security Alert when no recent segment verifies (forged names are never copied)', async () => {
    const keeper = new AuditSegmentKeeper({ pool: catalog.pool, targets: backend.targets, chain, retentionDays: RETENTION_DAYS, signer: () => signer, maxSegmentsPerTick: 10 });
    await expect(keeper.tick()).resolves.toMatchObject({ exported: [{ exported: true, firstSeq: 1, lastSeq: 10 }, { exported: false, reason: 'up-to-date' }], restored: [] });
    // Someone with one target's credentials piles forged newer names on it (more than the exporter tries).
    const other = signerFromPrivateKey(crypto.createPrivateKey(generateCheckpointSigningKeyPem()));
    const records = await readAuditRecords(catalog.pool, 1, Number.MAX_SAFE_INTEGER);
    for (let i = 0; i < 12; i += 1) {
      const { bytes } = buildSegment(other, chain, GENESIS_HASH, records, new Date());
      await backend.targets[0]!.putRecord(segmentKey(chain, 900 + i, 900 + i), bytes, new Date(Date.now() + 86_400_000));
    }
    const alerts = async (): Promise<number> =>
      Number((await catalog.pool.query<{ n: string }>("SELECT count(*) AS n FROM audit_events WHERE details->>'kind' = 'audit-segment-invalid'")).rows[0]?.n);
    await expect(keeper.tick()).resolves.toMatchObject({ exported: [{ exported: false, reason: 'last-segment-invalid' }], restored: [] });
    await expect(keeper.tick()).resolves.toMatchObject({ exported: [{ exported: false, reason: 'last-segment-invalid' }], restored: [] });
    expect(await alerts()).toBe(1);
    for (const t of backend.targets.slice(1)) expect((await t.listRecords(`${auditRecordPrefix(chain)}segments/`)).map((v) => v.key)).toEqual([segmentKey(chain, 1, 10)]);
  });

  it('locks segments at least the configured days; a re-put of the same bytes keeps the lock', async () => {
    await exportAuditSegment(catalog.pool, signer, backend.targets, chain, { retentionDays: RETENTION_DAYS });
    const key = segmentKey(chain, 1, 10);
    const bytes = Buffer.from(await backend.targets[0]!.readRecord(key, null));
    const receipt = await backend.targets[2]!.putRecord(key, bytes, new Date());
    expect(receipt.created).toBe(false);
    expect(receipt.retainUntil.getTime()).toBeGreaterThanOrEqual(Date.now() + (RETENTION_DAYS - 1) * 86_400_000);
  });
}

describe('audit anchors in the fs replica targets (embedded default)', () => {
  wormScenarios('fs', async () => {
    const temp = await tempFsTargets(3, sealing());
    const fileOf = (t: number, key: string): string => path.join(temp.targets[t]!.root, ...key.split('/'));
    return {
      targets: temp.targets,
      storedBytes: (t, key) => fs.promises.readFile(fileOf(t, key)),
      removeCopy: async (t, key) => fs.promises.unlink(fileOf(t, key)),
      replaceCopy: async (t, key, bytes) => {
        await fs.promises.chmod(fileOf(t, key), 0o640);
        await fs.promises.writeFile(fileOf(t, key), bytes);
      },
      cleanup: () => temp.cleanup(),
    };
  });
});

const s3 = s3TestSettings();

function rawClient(s: S3TestSettings): Minio.Client {
  const url = new URL(s.endpoint);
  return new Minio.Client({ endPoint: url.hostname, port: Number(url.port), useSSL: url.protocol === 'https:', accessKey: s.accessKey, secretKey: s.secretKey, region: s.region, pathStyle: true });
}

describeUnless(
  s3 === null ? 'no S3 endpoint: S3_ENDPOINT/S3_ACCESS_KEY/S3_SECRET_KEY unset (start one with infra/ceph/up.sh)' : null,
  'audit anchors in three Object Lock buckets (Ceph RGW)',
  () => {
    let n = 0;
    const run = uniqueBucketName('yy-audit');
    wormScenarios('s3', async () => {
      const s = s3!;
      const envelope = sealing();
      const targets = [1, 2, 3].map(
        (i) => new S3ReplicaTarget({ name: `s3-${i}`, endpoint: s.endpoint, accessKey: s.accessKey, secretKey: s.secretKey, region: s.region, bucket: `${run}-${++n}`, envelope }),
      );
      await Promise.all(targets.map((t) => t.init()));
      const raw = rawClient(s);
      return {
        targets,
        storedBytes: async (t, key) => {
          const chunks: Buffer[] = [];
          for await (const chunk of await raw.getObject(targets[t]!.bucket, key)) chunks.push(chunk as Buffer);
          return Buffer.concat(chunks);
        },
        removeCopy: async (t, key) => {
          const bucket = targets[t]!.bucket;
          const version = (await targets[t]!.listRecords(key)).find((v) => !v.deleteMarker)!;
          // The locked version itself cannot be deleted, by anyone: COMPLIANCE.
          const refused = await rejection(raw.removeObject(bucket, key, { versionId: version.versionId! }));
          expect((refused as { code?: string }).code).toBe('AccessDenied');
          await raw.removeObject(bucket, key); // only a delete marker
        },
        replaceCopy: async (t, key, bytes) => {
          await raw.putObject(targets[t]!.bucket, key, bytes, bytes.length);
        },
        cleanup: () => Promise.resolve(),
      };
    });
  },
);
