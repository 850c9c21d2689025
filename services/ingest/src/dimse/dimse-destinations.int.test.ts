import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createTestCatalog, type TestCatalog } from '@yunying/catalog/testing';
import { describeUnless, findExecutable } from '../../../../test/support/skip';
import { DimseDestinationsService, validAeTitle, validHost } from './dimse-destinations.service';
import { findMoveDestination } from './move-destinations';

const admin = { actor: { userId: null, username: 'admin', role: 'admin', clinicId: null }, sourceIp: '10.0.0.5' };
const plain = { host: 'ws1.clinic.example', port: 11112, tls: false, tlsCaPem: null, tlsServerName: null, commitmentReports: 'same_association' as const };

describe('remote AE input checks', () => {
  it('accepts AE titles of the default repertoire up to 16 characters, host names and IP addresses', () => {
    expect(['WS1', 'US_ROOM-2', 'A'.repeat(16), 'ULTRA SOUND'].map(validAeTitle)).toEqual([true, true, true, true]);
    expect(['', 'A'.repeat(17), 'BACK\\SLASH', '   ', 'TAB\tAE', '超声'].map(validAeTitle)).toEqual([false, false, false, false, false, false]);
    expect(['127.0.0.1', '::1', 'ws1', 'pacs.clinic-a.example'].map(validHost)).toEqual([true, true, true, true]);
    expect(['-bad.example', 'a..b', 'under_score.example', 'space here'].map(validHost)).toEqual([false, false, false, false]);
  });
});

describeUnless(findExecutable('openssl') === null ? 'openssl not installed' : null, 'DIMSE destinations: a clinic’s registered remote AEs (admin)', () => {
  let catalog: TestCatalog;
  let service: DimseDestinationsService;
  let dir: string;
  let caPem: string;
  let clinicA: string;
  let clinicB: string;

  beforeAll(async () => {
    catalog = await createTestCatalog('dimsedest');
    service = new DimseDestinationsService(catalog.pool);
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'yy-dimsedest-'));
    execFileSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', 'ca.key', '-out', 'ca.crt', '-days', '2', '-subj', '/CN=Clinic CA'], { cwd: dir, stdio: 'pipe' });
    caPem = fs.readFileSync(path.join(dir, 'ca.crt'), 'utf8');
    clinicA = (await catalog.pool.query<{ id: string }>("INSERT INTO clinics (code, name) VALUES ('dest-a', 'A') RETURNING id")).rows[0]!.id;
    clinicB = (await catalog.pool.query<{ id: string }>("INSERT INTO clinics (code, name) VALUES ('dest-b', 'B') RETURNING id")).rows[0]!.id;
  });
  afterAll(async () => {
    fs.rmSync(dir, { recursive: true, force: true });
    await catalog.drop();
  });

  const securityConfiguration = async (): Promise<Record<string, unknown>[]> =>
    (await catalog.pool.query<{ details: Record<string, unknown> }>("SELECT details FROM audit_events WHERE details->>'subtype' = 'Security Configuration' ORDER BY seq")).rows.map(
      (r) => r.details,
    );

  it('registers a destination that C-MOVE then finds for that clinic only, and audits it', async () => {
    const { destination, created } = await service.put(clinicA, ' WS1 ', plain, admin);
    expect(created).toBe(true);
    expect(destination).toMatchObject({ clinicId: clinicA, aeTitle: 'WS1', host: 'ws1.clinic.example', port: 11112, tls: false });
    await expect(findMoveDestination(catalog.pool, clinicA, 'WS1')).resolves.toEqual({ aeTitle: 'WS1', host: 'ws1.clinic.example', port: 11112 });
    await expect(findMoveDestination(catalog.pool, clinicB, 'WS1')).resolves.toBeNull();
    expect((await securityConfiguration()).at(-1)).toMatchObject({ change: 'dimse-destination-registered', aeTitle: 'WS1', host: 'ws1.clinic.example' });
  });

  it('changes a destination to TLS with the clinic’s CA and new-association commitment reports', async () => {
    const { destination, created } = await service.put(clinicA, 'WS1', { ...plain, port: 2762, tls: true, tlsCaPem: caPem, tlsServerName: 'ws1.clinic.example', commitmentReports: 'new_association' }, admin);
    expect(created).toBe(false);
    expect(destination).toMatchObject({ port: 2762, tls: true, tlsServerName: 'ws1.clinic.example', commitmentReports: 'new_association' });
    await expect(findMoveDestination(catalog.pool, clinicA, 'WS1')).resolves.toEqual({
      aeTitle: 'WS1', host: 'ws1.clinic.example', port: 2762, tls: { caPem: caPem, serverName: 'ws1.clinic.example' },
    });
    await expect(service.list(clinicA)).resolves.toHaveLength(1);
    expect((await securityConfiguration()).at(-1)).toMatchObject({ change: 'dimse-destination-changed', tls: true, commitmentReports: 'new_association' });
  });

  it('refuses bad AE titles, hosts, TLS settings on a plain destination, a non-certificate CA and an unknown clinic, writing nothing', async () => {
    const before = (await securityConfiguration()).length;
    await expect(service.put(clinicA, 'BACK\\SLASH', plain, admin)).rejects.toMatchObject({ code: 'bad_request' });
    await expect(service.put(clinicA, 'WS2', { ...plain, host: 'not a host' }, admin)).rejects.toMatchObject({ code: 'bad_request' });
    await expect(service.put(clinicA, 'WS2', { ...plain, tlsServerName: 'ws2.example' }, admin)).rejects.toMatchObject({ code: 'bad_request' });
    await expect(service.put(clinicA, 'WS2', { ...plain, tls: true, tlsCaPem: 'not a certificate' }, admin)).rejects.toMatchObject({ code: 'bad_request' });
    await expect(service.put('00000000-0000-4000-8000-000000000000', 'WS2', plain, admin)).rejects.toMatchObject({ code: 'not_found' });
    await expect(service.list(clinicA)).resolves.toHaveLength(1);
    expect((await securityConfiguration()).length).toBe(before);
  });

  it('removes a destination (then unknown to C-MOVE) and audits it; another clinic cannot remove it', async () => {
    await expect(service.remove(clinicB, 'WS1', admin)).rejects.toMatchObject({ code: 'not_found' });
    await service.remove(clinicA, 'WS1', admin);
    await expect(findMoveDestination(catalog.pool, clinicA, 'WS1')).resolves.toBeNull();
    expect((await securityConfiguration()).at(-1)).toMatchObject({ change: 'dimse-destination-removed', aeTitle: 'WS1' });
    await expect(service.remove(clinicA, 'WS1', admin)).rejects.toMatchObject({ code: 'not_found' });
  });
});
