import { execFileSync } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Writable } from 'node:stream';
import { Registry } from 'prom-client';
import { AuthService } from '@yunying/auth';
import { createLogger } from '@yunying/core';
import { createTestCatalog, type TestCatalog } from '@yunying/catalog/testing';
import { makeInstance, newUid } from '@yunying/dicom/testing';
import { ReplicatedStore } from '@yunying/storage';
import { tempFsTargets, type TempFsTargets } from '@yunying/storage/testing';
import { describeUnless, findExecutable } from '../../../../test/support/skip';
import { IngestPipeline } from '../ingest.pipeline';
import { apiKeyVerifierOf } from './association.credentials';
import { startDimseServer, type DimseServer } from './index';
import { runDcmtk, type DcmtkRun } from '@yunying/dimse/testing';

/**
 * Issue #17 finding 1: an AE title alone must not let a device store into a clinic. Real dcmtk clients
 * against the archive's SCP: User Identity negotiation (PS3.7 D.3.3.7, `storescu --user/--password` with a
 * clinic API key as passcode) and DICOM TLS (PS3.15 B.1, `+tls` with client certificates made here by the
 * openssl CLI, pinned per clinic device), and every way of getting it wrong.
 */
const SCP_AE = 'YUNYING';
const AE_STRICT = 'STRICT_US1'; // clinic A, dimse_auth = credentials (the default)
const AE_STRICT_2 = 'STRICT_US1B'; // a second AE title of clinic A
const AE_OTHER = 'STRICT_US2'; // clinic B, credentials
const AE_LEGACY = 'LEGACY_US3'; // clinic C, dimse_auth = ae_only

const dcmtk = (tool: string, args: string[]): Promise<DcmtkRun> => runDcmtk(tool, args, 30_000);

/** A test PKI with the openssl CLI: a CA, the archive's certificate, device certificates, one not from the CA. */
function makePki(dir: string): Record<'ca' | 'server' | 'deviceA' | 'deviceA2' | 'deviceB' | 'unregistered' | 'rogue', { key: string; cert: string }> {
  const openssl = (...args: string[]): void => {
    execFileSync('openssl', args, { cwd: dir, stdio: 'pipe' });
  };
  const file = (name: string): { key: string; cert: string } => ({ key: path.join(dir, `${name}.key`), cert: path.join(dir, `${name}.crt`) });
  const ca = file('ca');
  openssl('req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', ca.key, '-out', ca.cert, '-days', '2', '-subj', '/CN=Yunying test device CA');
  const issue = (name: string): { key: string; cert: string } => {
    const f = file(name);
    openssl('req', '-newkey', 'rsa:2048', '-nodes', '-keyout', f.key, '-out', `${name}.csr`, '-subj', `/CN=${name}`);
    openssl('x509', '-req', '-in', `${name}.csr`, '-CA', ca.cert, '-CAkey', ca.key, '-CAcreateserial', '-out', f.cert, '-days', '2');
    return f;
  };
  const rogue = file('rogue');
  openssl('req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', rogue.key, '-out', rogue.cert, '-days', '2', '-subj', '/CN=deviceA');
  return { ca, server: issue('server'), deviceA: issue('deviceA'), deviceA2: issue('deviceA2'), deviceB: issue('deviceB'), unregistered: issue('unregistered'), rogue };
}

const fingerprint = (certFile: string): string => new X509Certificate(fs.readFileSync(certFile)).fingerprint256;

const missing =
  findExecutable('storescu') === null || findExecutable('echoscu') === null || findExecutable('openssl') === null ? 'dcmtk (echoscu, storescu) or openssl not installed' : null;

describeUnless(missing, 'DIMSE association credentials (user identity, DICOM TLS) with real dcmtk clients', () => {
  let catalog: TestCatalog;
  let storage: TempFsTargets;
  let server: DimseServer;
  let dir: string;
  let pki: ReturnType<typeof makePki>;
  const clinics: Record<'a' | 'b' | 'c', string> = { a: '', b: '', c: '' };
  const keys: Record<'a' | 'b' | 'c', string> = { a: '', b: '', c: '' };
  let instanceFile: string;
  let sopInstanceUid: string;

  /** dcmtk's argument order: options, then peer and port, then the files to send (storescu). */
  const withFiles = (args: string[], port: number | null): string[] => {
    const files = args.filter((a) => a === instanceFile);
    return [...args.filter((a) => a !== instanceFile), '127.0.0.1', String(port), ...files];
  };
  const plain = (...args: string[]): string[] => withFiles(['-aec', SCP_AE, '-ta', '10', ...args], server.port);
  const overTls = (device: { key: string; cert: string } | null, ...args: string[]): string[] => [
    '-aec',
    SCP_AE,
    '-ta',
    '10',
    ...(device === null ? ['+tla'] : ['+tls', device.key, device.cert]),
    '+cf',
    pki.ca.cert,
    ...withFiles(args, server.tlsPort),
  ];
  const expectRejected = (run: DcmtkRun): void => {
    expect(run.code).not.toBe(0);
    // PS3.8 9.3.4: rejected-permanent, service-user, no-reason-given.
    expect(run.output).toMatch(/Association Rejected[\s\S]*Result: Rejected Permanent[\s\S]*Source: Service User[\s\S]*Reason: No Reason/);
  };
  const lastRejection = async (): Promise<Record<string, unknown>> => {
    const { rows } = await catalog.pool.query<{ details: Record<string, unknown> }>(
      "SELECT details FROM audit_events WHERE event_type = 'Security Alert' AND details->>'event' = 'association_rejected' ORDER BY seq DESC LIMIT 1",
    );
    return rows[0]?.details ?? {};
  };

  beforeAll(async () => {
    catalog = await createTestCatalog('dimsecred');
    storage = await tempFsTargets();
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'yunying-dimse-cred-'));
    pki = makePki(dir);
    const insertClinic = async (code: string, policy: string | null): Promise<string> =>
      (
        await catalog.pool.query<{ id: string }>(
          policy === null ? 'INSERT INTO clinics (code, name) VALUES ($1, $1) RETURNING id' : 'INSERT INTO clinics (code, name, dimse_auth) VALUES ($1, $1, $2) RETURNING id',
          policy === null ? [code] : [code, policy],
        )
      ).rows[0]!.id;
    clinics.a = await insertClinic('strict-1', null);
    clinics.b = await insertClinic('strict-2', null);
    clinics.c = await insertClinic('legacy-3', 'ae_only');
    for (const [ae, clinicId] of [
      [AE_STRICT, clinics.a],
      [AE_STRICT_2, clinics.a],
      [AE_OTHER, clinics.b],
      [AE_LEGACY, clinics.c],
    ] as const) {
      await catalog.pool.query('INSERT INTO clinic_ae_titles (ae_title, clinic_id) VALUES ($1, $2)', [ae, clinicId]);
    }
    const register = (certFile: string, clinicId: string, aeTitle: string | null, label: string): Promise<unknown> =>
      catalog.pool.query('INSERT INTO clinic_dimse_certificates (fingerprint_sha256, clinic_id, ae_title, label) VALUES ($1, $2, $3, $4)', [
        fingerprint(certFile),
        clinicId,
        aeTitle,
        label,
      ]);
    await register(pki.deviceA.cert, clinics.a, null, 'US room 1');
    await register(pki.deviceA2.cert, clinics.a, AE_STRICT, 'US room 2 (bound to its AE title)');
    await register(pki.deviceB.cert, clinics.b, null, 'clinic B device');

    const auth = new AuthService({ pool: catalog.pool, tokenSecret: 'dimse-credentials-test-secret-'.padEnd(48, 'x'), accessTokenTtlSeconds: 120, refreshTokenTtlSeconds: 3600 });
    keys.a = (await auth.createApiKey({ clinicId: clinics.a, name: 'us-room-1' })).key;
    keys.b = (await auth.createApiKey({ clinicId: clinics.b, name: 'clinic-b' })).key;
    keys.c = (await auth.createApiKey({ clinicId: clinics.c, name: 'legacy' })).key;

    const logger = createLogger({ level: 'silent', service: 'dimse-credentials-test', destination: new Writable({ write: (_c, _e, cb) => cb() }) });
    const pipeline = new IngestPipeline({
      pool: catalog.pool,
      store: new ReplicatedStore({ targets: storage.targets }),
      logger,
      metrics: new Registry(),
      parseLimits: {},
      retentionMinYears: 15,
    });
    server = await startDimseServer({
      host: '127.0.0.1',
      port: 0,
      aeTitle: SCP_AE,
      checkCalledAe: false,
      pool: catalog.pool,
      pipeline,
      logger,
      metrics: new Registry(),
      verifyApiKey: apiKeyVerifierOf(auth),
      tls: { port: 0, key: fs.readFileSync(pki.server.key), cert: fs.readFileSync(pki.server.cert), ca: fs.readFileSync(pki.ca.cert) },
    });
    sopInstanceUid = newUid();
    instanceFile = path.join(dir, 'instance.dcm');
    fs.writeFileSync(instanceFile, makeInstance({ sopInstanceUid }));
  });

  afterAll(async () => {
    await server?.close();
    await storage?.cleanup();
    await catalog?.drop();
    if (dir) fs.rmSync(dir, { recursive: true, force: true });
  });

  it('refuses a bare AE title of a clinic that requires credentials, and audits why', async () => {
    expectRejected(await dcmtk('echoscu', plain('-aet', AE_STRICT)));
    expect(await lastRejection()).toMatchObject({ reason: 'credentials required (TLS client certificate or user identity)', callingAeTitle: AE_STRICT, tls: false });
    expectRejected(await dcmtk('storescu', plain('-aet', AE_STRICT, instanceFile)));
    const { rows } = await catalog.pool.query('SELECT 1 FROM instances WHERE sop_instance_uid = $1', [sopInstanceUid]);
    expect(rows).toHaveLength(0);
  });

  it("stores with storescu --user/--password carrying the clinic's API key, into that clinic", async () => {
    const run = await dcmtk('storescu', plain('-aet', AE_STRICT, '--user', 'us-room-1', '--password', keys.a, instanceFile));
    expect(run.output).not.toMatch(/reject/i);
    expect(run.code).toBe(0);
    const { rows } = await catalog.pool.query<{ clinic_id: string }>('SELECT clinic_id FROM instances WHERE sop_instance_uid = $1', [sopInstanceUid]);
    expect(rows.map((r) => r.clinic_id)).toEqual([clinics.a]);
    // Asked for a positive response (PS3.7 D.3.3.7.2): the A-ASSOCIATE-AC carries the (empty) server response.
    const withResponse = await dcmtk('storescu', plain('-aet', AE_STRICT, '--user', 'us-room-1', '--password', keys.a, '--pos-response', instanceFile));
    expect(withResponse.code).toBe(0);
  });

  it('refuses a wrong passcode, another clinic’s key and a username without passcode, never logging the passcode', async () => {
    expectRejected(await dcmtk('storescu', plain('-aet', AE_STRICT, '--user', 'x', '--password', 'yy_not-a-key', instanceFile)));
    expect(await lastRejection()).toMatchObject({ reason: 'user identity passcode is not a valid API key', userIdentity: 'username_passcode', userIdentityName: 'x' });
    // Clinic B's own key cannot open an association as clinic A's AE title (the pen test's cross-clinic overwrite).
    expectRejected(await dcmtk('storescu', plain('-aet', AE_STRICT, '--user', 'clinic-b', '--password', keys.b, instanceFile)));
    expect(await lastRejection()).toMatchObject({ reason: "user identity API key of another clinic than the calling AE title's" });
    expectRejected(await dcmtk('storescu', plain('-aet', AE_STRICT, '--user', 'us-room-1', instanceFile)));
    expect(await lastRejection()).toMatchObject({ reason: 'user identity type username not accepted (username and passcode only)' });
    const dump = JSON.stringify((await catalog.pool.query('SELECT * FROM audit_events')).rows);
    for (const key of Object.values(keys)) expect(dump).not.toContain(key);
    expect(dump).not.toContain('yy_not-a-key');
  });

  it('lets an ae_only clinic in with its AE title alone, but still refuses a wrong credential', async () => {
    const run = await dcmtk('echoscu', plain('-aet', AE_LEGACY));
    expect(run.code).toBe(0);
    expectRejected(await dcmtk('storescu', plain('-aet', AE_LEGACY, '--user', 'legacy', '--password', keys.a, instanceFile)));
    const uid = newUid();
    const file = path.join(dir, 'legacy.dcm');
    fs.writeFileSync(file, makeInstance({ sopInstanceUid: uid }));
    const stored = await dcmtk('storescu', [...plain('-aet', AE_LEGACY, '--user', 'legacy', '--password', keys.c), file]);
    expect(stored.code).toBe(0);
    const { rows } = await catalog.pool.query<{ clinic_id: string }>('SELECT clinic_id FROM instances WHERE sop_instance_uid = $1', [uid]);
    expect(rows.map((r) => r.clinic_id)).toEqual([clinics.c]);
  });

  it('refuses a clinic’s AE from outside its registered source networks, even with a valid key, and audits why', async () => {
    await catalog.pool.query("UPDATE clinics SET dimse_source_networks = '{10.99.0.0/16}' WHERE id = $1", [clinics.c]);
    try {
      expectRejected(await dcmtk('echoscu', plain('-aet', AE_LEGACY)));
      expect(await lastRejection()).toMatchObject({ reason: "calling address outside the clinic's registered source networks", callingAeTitle: AE_LEGACY });
      expectRejected(await dcmtk('storescu', plain('-aet', AE_LEGACY, '--user', 'legacy', '--password', keys.c, instanceFile)));
      // Loopback listed: the same call is let in again.
      await catalog.pool.query("UPDATE clinics SET dimse_source_networks = '{10.99.0.0/16,127.0.0.0/8}' WHERE id = $1", [clinics.c]);
      expect((await dcmtk('echoscu', plain('-aet', AE_LEGACY))).code).toBe(0);
    } finally {
      await catalog.pool.query('UPDATE clinics SET dimse_source_networks = NULL WHERE id = $1', [clinics.c]);
    }
  });

  it('accepts echoscu and storescu +tls with a registered device certificate of the clinic (TLS 1.2+)', async () => {
    const echo = await dcmtk('echoscu', overTls(pki.deviceA, '-aet', AE_STRICT));
    expect(echo.output).not.toMatch(/reject|error/i);
    expect(echo.code).toBe(0);
    const store = await dcmtk('storescu', overTls(pki.deviceA, '-aet', AE_STRICT_2, instanceFile));
    expect(store.code).toBe(0);
    // TLS without a client certificate, authenticated by user identity instead.
    const anonymousTls = await dcmtk('storescu', overTls(null, '-aet', AE_STRICT, '--user', 'us-room-1', '--password', keys.a, instanceFile));
    expect(anonymousTls.code).toBe(0);
  });

  it('refuses +tls with another clinic’s, an unregistered, a revoked, an AE-bound or a self-signed certificate', async () => {
    expectRejected(await dcmtk('echoscu', overTls(pki.deviceB, '-aet', AE_STRICT)));
    expect(await lastRejection()).toMatchObject({ reason: "TLS client certificate of another clinic than the calling AE title's", tls: true, certificate: fingerprint(pki.deviceB.cert) });
    expectRejected(await dcmtk('echoscu', overTls(pki.unregistered, '-aet', AE_STRICT)));
    expect(await lastRejection()).toMatchObject({ reason: 'TLS client certificate not registered' });
    expectRejected(await dcmtk('echoscu', overTls(pki.deviceA2, '-aet', AE_STRICT_2)));
    expect(await lastRejection()).toMatchObject({ reason: 'TLS client certificate bound to another AE title' });
    expectRejected(await dcmtk('echoscu', overTls(pki.rogue, '-aet', AE_STRICT)));
    expect(await lastRejection()).toMatchObject({ reason: 'TLS client certificate not issued by the trusted CA' });
    expectRejected(await dcmtk('echoscu', overTls(null, '-aet', AE_STRICT)));
    expect(await lastRejection()).toMatchObject({ reason: 'credentials required (no TLS client certificate, no user identity)', tls: true });

    await catalog.pool.query('UPDATE clinic_dimse_certificates SET revoked_at = now() WHERE fingerprint_sha256 = $1', [fingerprint(pki.deviceA.cert)]);
    try {
      expectRejected(await dcmtk('echoscu', overTls(pki.deviceA, '-aet', AE_STRICT)));
      expect(await lastRejection()).toMatchObject({ reason: 'TLS client certificate revoked' });
    } finally {
      await catalog.pool.query('UPDATE clinic_dimse_certificates SET revoked_at = NULL WHERE fingerprint_sha256 = $1', [fingerprint(pki.deviceA.cert)]);
    }
  });
});
