import { execFile } from 'node:child_process';
import { AuditLog } from '@yunying/audit';
import fs from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import dcmjs from 'dcmjs';
import request from 'supertest';
import type { DemoCredentials } from '@yunying/auth';
import type { TestCatalog } from '@yunying/catalog/testing';
import { createLogger } from '@yunying/core';
import { newUid } from '@yunying/dicom/testing';
import { createMetricsRegistry, createServiceApp } from '@yunying/http';
import type { ReplicatedStore } from '@yunying/storage';
import type { TempFsTargets } from '@yunying/storage/testing';
import { readingRouters } from '../index';
import { readingWorld, type ReadingWorld } from '../reading.test-support';
import { ReaderKeys, signPayload, verifyPayload } from './signing-keys';

const run = promisify(execFile);
const SECRET = 'record-secret-record-secret-record-secret-0001';
const LOCATION = 'Right lobe, lower pole';
const reader = (code: string) => ({ code, source: 'reader', confirmed: true });
/** solid 2 + very hypoechoic 3 + taller 3 + smooth 0 + punctate 3 = 11 points, TR5; 14 mm: FNA. */
const TR5 = {
  location: LOCATION,
  composition: reader('solid'),
  echogenicity: reader('very-hypo'),
  shape: reader('taller'),
  margin: reader('smooth'),
  echogenicFoci: { codes: ['punctate'], source: 'reader', confirmed: true },
  size: { longMm: 14, shortMm: 9, source: 'reader', confirmed: true },
};

interface Check {
  valid: boolean;
  signed: boolean;
  reasons: string[];
  algorithm: string;
  keyId: string;
  signerUserId: string;
  sr: { sopInstanceUid: string; stored: boolean; copies: number; retainUntil: string };
}

/**
 * Reports as records (#20) on real PostgreSQL and the real write path (three fs targets): signing needs the
 * password, stores a TID 2000 SR with three locked copies that dcmtk's dsrdump reads, signs it with the
 * reader's key, verifies for the clinic and the auditor, detects tampering, and a retried sign stores one SR.
 */
describe('signed reports as DICOM SR records (real PostgreSQL, fs write path)', () => {
  let world: ReadingWorld;
  let catalog: TestCatalog;
  let storage: TempFsTargets;
  let store: ReplicatedStore;
  let demo: DemoCredentials;
  let app: ReturnType<typeof createServiceApp>;
  const tokens: Record<string, string> = {};
  let study = '';
  let password = '';

  const base = () => `/api/studies/${study}/report`;
  const as = (user: string) => ({ Authorization: `Bearer ${tokens[user] ?? ''}` });
  const post = (p: string, body: object) => request(app).post(`${base()}/${p}`).set(as('radiologist')).send(body);
  const verify = async (version: number, user = 'radiologist') => (await request(app).get(`${base()}/versions/${version}/signature`).set(as(user))).body as Check;
  const srCount = async () =>
    (await catalog.pool.query<{ n: number }>(`SELECT count(*)::int AS n FROM instances i JOIN studies s ON s.id = i.study_ref WHERE s.study_instance_uid = $1 AND i.sop_class_uid = '1.2.840.10008.5.1.4.1.1.88.22'`, [study])).rows[0]?.n;
  /** Runs SQL with triggers off, as someone with the database's superuser rights could: the tampering a signature must reveal. */
  const asSuperuser = async (sql: string, params: unknown[]) => {
    const client = await catalog.pool.connect();
    try {
      await client.query('SET session_replication_role = replica');
      await client.query(sql, params);
    } finally {
      await client.query('SET session_replication_role = origin');
      client.release();
    }
  };

  beforeAll(async () => {
    // The viewer's report pipeline: minimum retention raised to the (configured) medical-record retention.
    world = await readingWorld('records', SECRET, { retentionMinYears: 30 });
    ({ catalog, storage, store, demo } = world);
    const { auth, pipeline } = world;
    const logger = createLogger({ level: 'silent', service: 'records-test' });
    study = newUid();
    await world.ingestStudy(study, { name: 'Record^Patient', id: 'REC-1' });
    for (const user of ['radiologist', 'clinic', 'auditor']) tokens[user] = (await auth.signIn(user, world.password(user))).accessToken;
    password = world.password('radiologist');
    app = createServiceApp({
      service: 'viewer',
      logger,
      metrics: createMetricsRegistry(),
      readiness: [],
      routes: readingRouters({
        pool: catalog.pool,
        audit: new AuditLog(catalog.pool),
        authenticator: auth,
        reportPipeline: pipeline,
        reports: { signingAlgorithm: 'ecdsa-p256', signingSecretFile: path.join(storage.dir, 'secrets', 'report-signing.key'), generateMissingSecret: true },
        logger,
      }).map((r) => r.router),
    });
    expect((await request(app).post(`/api/queue/${study}/claim`).set(as('radiologist'))).status).toBe(200);
    const draft = await request(app)
      .put(`${base()}/draft`)
      .set(as('radiologist'))
      .send({ findings: 'Thyroid normal in size.', impression: 'TR5 nodule, FNA recommended.', nodules: [TR5] });
    expect(draft.status).toBe(200);
  }, 120_000);

  afterAll(async () => {
    await world?.close();
  });

  it('refuses to sign without the password, or with a wrong one, and audits the failed re-authentication', async () => {
    const none = await post('sign', {});
    expect(none.status).toBe(403);
    expect(JSON.stringify(none.body)).toContain('password');
    expect((await post('sign', { password: 'not-the-password' })).status).toBe(403);
    const { rows } = await catalog.pool.query<{ status: string }>('SELECT r.status FROM reports r JOIN studies s ON s.id = r.study_ref WHERE s.study_instance_uid = $1', [study]);
    expect(rows.map((r) => r.status)).toEqual(['draft']);
    expect(await srCount()).toBe(0);
    const audit = await catalog.pool.query<{ outcome: number }>(
      `SELECT outcome FROM audit_events WHERE event_type = 'User Authentication' AND details->>'subtype' = 'Re-authentication' ORDER BY seq`,
    );
    expect(audit.rows.map((r) => r.outcome)).toEqual([4]);
  });

  it('stores the signed report as a TID 2000 Enhanced SR with three locked copies and the medical-record retention', async () => {
    const signed = await post('sign', { password });
    expect(signed.status).toBe(200);
    expect(await srCount()).toBe(1);
    const { rows } = await catalog.pool.query<{ object_key: string; target: string; lock_mode: string; retain_until: Date; state: string }>(
      `SELECT o.object_key, c.target, c.lock_mode, c.retain_until, c.state
         FROM report_records rr JOIN instances i ON i.sop_instance_uid = rr.sr_sop_instance_uid AND i.is_current
         JOIN objects o ON o.sha256 = i.sha256 JOIN copies c ON c.sha256 = i.sha256 ORDER BY c.target`,
    );
    expect(rows.map((r) => [r.target, r.lock_mode, r.state])).toEqual([
      ['fs-1', 'FS_READONLY', 'ok'],
      ['fs-2', 'FS_READONLY', 'ok'],
      ['fs-3', 'FS_READONLY', 'ok'],
    ]);
    // 30 years (the report pipeline's minimum here) from the signing, not the archive's 15.
    for (const r of rows) expect(r.retain_until.getUTCFullYear()).toBeGreaterThanOrEqual(new Date().getUTCFullYear() + 29);

    const bytes = await store.read(rows[0]?.object_key ?? '');
    const file = path.join(storage.dir, 'report.dcm');
    fs.writeFileSync(file, bytes);
    // dcmtk parses the SR document and checks it against the Enhanced SR IOD's relationship content
    // constraints (on by default; a violation is an E:/W: line). The only note allowed is that its VR
    // checker skips UTF-8 strings.
    const dump = await run('dsrdump', ['-v', '+Pt', '+Pn', file]);
    const notes = dump.stderr.split('\n').filter((l) => l.trim() !== '' && !l.includes('VR checker does not support this Specific Character Set'));
    expect(notes).toEqual([]);
    expect(dump.stdout).toContain('# TID 2000 (DCMR)');
    expect(dump.stdout).toContain('Enhanced SR Document');
    expect(dump.stdout).toContain('Diagnostic Imaging Report');
    expect(dump.stdout).toContain('Thyroid nodule');
    expect(dump.stdout).toContain('ACR TI-RADS TR5');
    expect(dump.stdout).toContain('Punctate echogenic foci');
    expect(dump.stdout).toContain('Completion Flag');
    expect(dump.stdout).toMatch(/Verification Flag\s*:\s*VERIFIED/);
    expect(dump.stdout).toContain('Demo radiologist');

    const ab = bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength) as ArrayBuffer;
    const sr = dcmjs.data.DicomMetaDictionary.naturalizeDataset(dcmjs.data.DicomMessage.readFile(ab).dict);
    expect(sr.StudyInstanceUID).toBe(study);
    expect(sr.PatientID).toBe('REC-1');
    expect(JSON.stringify(sr.ContentTemplateSequence)).toContain('"TemplateIdentifier":"2000"');
    const json = JSON.stringify(sr.ContentSequence);
    for (const code of ['"121070"', '"121072"', '"237495005"', '"103339001"', '"ACR_TIRADS_LEVEL"', '"ACR_COMPOSITION_SOLID"', '"ACR_ECHOGENICFOCI_PUNCTATE"']) expect(json).toContain(code);
  });

  it('verifies the signature for the reader, the clinic and the auditor: signer, key, the SR and its copies', async () => {
    const reader = demo.users.find((u) => u.username === 'radiologist');
    expect(reader).toBeDefined();
    for (const user of ['radiologist', 'clinic', 'auditor']) {
      const check = await verify(1, user);
      expect(check).toMatchObject({ signed: true, valid: true, reasons: [], algorithm: 'ecdsa-p256-sha256', sr: { stored: true, copies: 3 } });
    }
    const check = await verify(1);
    const { rows } = await catalog.pool.query<{ id: string }>("SELECT id::text FROM users WHERE username = 'radiologist'");
    expect(check.signerUserId).toBe(rows[0]?.id);
    // The private key is stored encrypted: no PEM of it in the database.
    const key = await catalog.pool.query<{ enc: Buffer }>('SELECT private_key_enc AS enc FROM reader_signing_keys WHERE id = $1', [check.keyId]);
    expect(key.rows[0]?.enc.toString('latin1')).not.toContain('PRIVATE KEY');
  });

  it('fails verification after tampering with the report content or the signature', async () => {
    const reportId = (await catalog.pool.query<{ report_id: string }>('SELECT report_id::text FROM report_records')).rows[0]?.report_id;
    await asSuperuser("UPDATE reports SET impression = 'Benign, no follow-up.' WHERE id = $1", [reportId]);
    const changed = await verify(1);
    expect(changed.valid).toBe(false);
    expect(changed.reasons).toContain('report content differs from the signed content');
    await asSuperuser("UPDATE reports SET impression = 'TR5 nodule, FNA recommended.' WHERE id = $1", [reportId]);
    expect((await verify(1)).valid).toBe(true);

    await asSuperuser("UPDATE report_records SET signature = set_byte(signature, 20, (get_byte(signature, 20) + 1) % 256) WHERE report_id = $1", [reportId]);
    const forged = await verify(1);
    expect(forged.valid).toBe(false);
    expect(forged.reasons).toContain('signature does not verify');
    await asSuperuser("UPDATE report_records SET signature = set_byte(signature, 20, (get_byte(signature, 20) + 255) % 256) WHERE report_id = $1", [reportId]);
    expect((await verify(1)).valid).toBe(true);
  });

  it('a retried sign stores no second SR; one whose store did not finish finishes it with the same bytes', async () => {
    expect((await post('sign', { password })).status).toBe(409);
    expect(await srCount()).toBe(1);
    // As if the process died between the commit and the store's acknowledgement.
    await asSuperuser('UPDATE report_records SET sr_stored_at = NULL', []);
    const retried = await post('sign', { password });
    expect(retried.status).toBe(200);
    expect(await srCount()).toBe(1);
    const { rows } = await catalog.pool.query<{ stored: boolean }>('SELECT sr_stored_at IS NOT NULL AS stored FROM report_records');
    expect(rows.map((r) => r.stored)).toEqual([true]);
    expect((await verify(1)).valid).toBe(true);
  });

  it('stores an addendum as its own signed SR naming the report SR as its predecessor', async () => {
    expect((await post('addendum', { impression: 'Addendum: compare with prior.' })).status).toBe(403);
    const added = await post('addendum', { impression: 'Addendum: compare with prior.', password });
    expect(added.status).toBe(201);
    expect(await srCount()).toBe(2);
    const { rows } = await catalog.pool.query<{ version: number; sr: string }>(
      'SELECT r.version, rr.sr_sop_instance_uid AS sr FROM report_records rr JOIN reports r ON r.id = rr.report_id ORDER BY r.version',
    );
    const key = (await catalog.pool.query<{ object_key: string }>('SELECT o.object_key FROM instances i JOIN objects o ON o.sha256 = i.sha256 WHERE i.sop_instance_uid = $1', [rows[1]?.sr])).rows[0];
    const bytes = await store.read(key?.object_key ?? '');
    const ab = bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength) as ArrayBuffer;
    const sr = dcmjs.data.DicomMetaDictionary.naturalizeDataset(dcmjs.data.DicomMessage.readFile(ab).dict);
    expect(JSON.stringify(sr.PredecessorDocumentsSequence)).toContain(rows[0]?.sr ?? 'missing');
    expect((await verify(2, 'clinic')).valid).toBe(true);
  });

  it('signs and verifies with SM2/SM3 when configured', async () => {
    const client = await catalog.pool.connect();
    try {
      const userId = (await client.query<{ id: string }>("SELECT id::text FROM users WHERE username = 'radiologist'")).rows[0]?.id ?? '';
      const keys = new ReaderKeys(Buffer.alloc(32, 7), 'sm2-sm3');
      const key = await keys.forReader(client, userId);
      const again = await keys.forReader(client, userId);
      expect(again.id).toBe(key.id);
      const pem = (await client.query<{ pem: string }>('SELECT public_key_pem AS pem FROM reader_signing_keys WHERE id = $1', [key.id])).rows[0]?.pem ?? '';
      const signature = signPayload(key, '{"a":1}');
      expect(verifyPayload('sm2-sm3', pem, '{"a":1}', signature)).toBe(true);
      expect(verifyPayload('sm2-sm3', pem, '{"a":2}', signature)).toBe(false);
      expect(verifyPayload('ecdsa-p256-sha256', pem, '{"a":1}', signature)).toBe(false);
    } finally {
      client.release();
    }
  });
});
