import { execFileSync } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createTestCatalog, type TestCatalog } from '@yunying/catalog/testing';
import { describeUnless, findExecutable } from '../../../../test/support/skip';
import { DimseDevicesService } from './dimse-devices.service';

const admin = { actor: { userId: null, username: 'admin', role: 'admin', clinicId: null }, sourceIp: '10.0.0.5' };

describeUnless(findExecutable('openssl') === null ? 'openssl not installed' : null, 'DIMSE devices: a clinic’s credentials policy and device certificates (admin)', () => {
  let catalog: TestCatalog;
  let service: DimseDevicesService;
  let dir: string;
  let pem: string;
  let clinicA: string;
  let clinicB: string;

  beforeAll(async () => {
    catalog = await createTestCatalog('dimsedev');
    service = new DimseDevicesService(catalog.pool);
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'yy-dimsedev-'));
    execFileSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', 'd.key', '-out', 'd.crt', '-days', '2', '-subj', '/CN=US room 1'], { cwd: dir, stdio: 'pipe' });
    pem = fs.readFileSync(path.join(dir, 'd.crt'), 'utf8');
    clinicA = (await catalog.pool.query<{ id: string }>("INSERT INTO clinics (code, name) VALUES ('dev-a', 'A') RETURNING id")).rows[0]!.id;
    clinicB = (await catalog.pool.query<{ id: string }>("INSERT INTO clinics (code, name) VALUES ('dev-b', 'B') RETURNING id")).rows[0]!.id;
    await catalog.pool.query("INSERT INTO clinic_ae_titles (ae_title, clinic_id) VALUES ('DEV_A', $1), ('DEV_B', $2)", [clinicA, clinicB]);
  });
  afterAll(async () => {
    fs.rmSync(dir, { recursive: true, force: true });
    await catalog.drop();
  });

  const securityConfiguration = async (): Promise<Record<string, unknown>[]> =>
    (await catalog.pool.query<{ details: Record<string, unknown> }>("SELECT details FROM audit_events WHERE details->>'subtype' = 'Security Configuration' ORDER BY seq")).rows.map(
      (r) => r.details,
    );

  it('registers a device certificate by its fingerprint, bound to one of the clinic’s AE titles, and audits it', async () => {
    const registered = await service.register({ clinicId: clinicA, certificatePem: pem, aeTitle: 'DEV_A', label: 'US room 1' }, admin);
    expect(registered).toMatchObject({ fingerprintSha256: new X509Certificate(pem).fingerprint256, clinicId: clinicA, aeTitle: 'DEV_A', revokedAt: null });
    await expect(service.get(clinicA)).resolves.toMatchObject({ dimseAuth: 'credentials', certificates: [{ label: 'US room 1' }] });
    expect((await securityConfiguration()).at(-1)).toMatchObject({ change: 'dimse-certificate-registered', aeTitle: 'DEV_A' });
  });

  it('refuses a second registration, another clinic’s AE title, a non-certificate and an unknown clinic', async () => {
    await expect(service.register({ clinicId: clinicA, certificatePem: pem, label: 'again' }, admin)).rejects.toMatchObject({ code: 'conflict' });
    await expect(service.register({ clinicId: clinicB, certificatePem: pem, aeTitle: 'DEV_A', label: 'x' }, admin)).rejects.toMatchObject({ code: 'bad_request' });
    await expect(service.register({ clinicId: clinicA, certificatePem: 'not a certificate', label: 'x' }, admin)).rejects.toMatchObject({ code: 'bad_request' });
    await expect(service.register({ clinicId: '00000000-0000-4000-8000-000000000000', certificatePem: pem, label: 'x' }, admin)).rejects.toMatchObject({ code: 'not_found' });
  });

  it('revokes a certificate (kept, never deleted) and switches the clinic’s policy, each audited', async () => {
    const fingerprint = new X509Certificate(pem).fingerprint256;
    const revoked = await service.revoke(fingerprint, admin);
    expect(revoked.revokedAt).toBeInstanceOf(Date);
    const changed = await service.setPolicy(clinicA, 'ae_only', admin);
    expect(changed).toMatchObject({ dimseAuth: 'ae_only', certificates: [{ fingerprintSha256: fingerprint }] });
    const records = await securityConfiguration();
    expect(records.slice(-2)).toMatchObject([
      { change: 'dimse-certificate-revoked', fingerprintSha256: fingerprint },
      { change: 'dimse-auth-changed', from: 'credentials', to: 'ae_only' },
    ]);
    await expect(service.setPolicy('00000000-0000-4000-8000-000000000000', 'credentials', admin)).rejects.toMatchObject({ code: 'not_found' });
  });

  it('binds a clinic to source networks (PostgreSQL decides what a network is), clears the binding, each audited', async () => {
    const bound = await service.setSourceNetworks(clinicB, ['10.20.0.0/16', '2001:db8::/32'], admin);
    expect(bound.sourceNetworks).toEqual(['10.20.0.0/16', '2001:db8::/32']);
    for (const bad of [['10.20.0.1/16'], ['not-a-network'], []]) {
      await expect(service.setSourceNetworks(clinicB, bad, admin)).rejects.toMatchObject({ code: 'bad_request' });
    }
    await expect(service.get(clinicB)).resolves.toMatchObject({ sourceNetworks: ['10.20.0.0/16', '2001:db8::/32'] });
    await expect(service.setSourceNetworks(clinicB, null, admin)).resolves.toMatchObject({ sourceNetworks: null });
    expect((await securityConfiguration()).slice(-2)).toMatchObject([
      { change: 'dimse-source-networks-changed', from: null, to: '10.20.0.0/16,2001:db8::/32' },
      { change: 'dimse-source-networks-changed', from: '10.20.0.0/16,2001:db8::/32', to: null },
    ]);
    await expect(service.setSourceNetworks('00000000-0000-4000-8000-000000000000', null, admin)).rejects.toMatchObject({ code: 'not_found' });
  });
});
