import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { makeStudy } from '@yunying/dicom/testing';
import { describeUnless, findExecutable } from '../support/skip';
import { REPO_ROOT, freePort, startLauncher, type LauncherProcess } from '../support/processes';
import { startSystem, stowBody, type RunningSystem } from '../support/system';
import { waitFor } from '../support/wait';
import { get, value, type DicomJson } from './client';

/**
 * Issue #15, scale-out: the ingest and viewer roles as separate processes behind Debian's haproxy with
 * infra/proxy/haproxy.cfg, one public DICOMweb base URL routed by method and path. STOW through the
 * proxy reaches ingest; QIDO, metadata, WADO-URI reach the viewer; RetrieveURLs and BulkDataURIs name
 * the proxy (PUBLIC_VIEWER_URL), and the CORS preflight for STOW is answered.
 */
const haproxy = findExecutable('haproxy') ?? (fs.existsSync('/usr/sbin/haproxy') ? '/usr/sbin/haproxy' : null);

describeUnless(haproxy === null ? 'haproxy not installed (apt-get install haproxy)' : null, 'one DICOMweb base URL behind haproxy (system, scale-out)', () => {
  const ohif = 'http://ohif.example:3000';
  let system: RunningSystem;
  let ingest: LauncherProcess;
  let proxy: ChildProcess;
  let base: string;
  let auth: string;
  const study = makeStudy(1, { rows: 8, columns: 8, patientId: 'PID-PROXY' });

  const listening = (port: number): Promise<true> =>
    waitFor(
      'haproxy to listen',
      () =>
        new Promise<boolean>((resolve) => {
          const socket = net.connect(port, '127.0.0.1', () => {
            socket.end();
            resolve(true);
          });
          socket.once('error', () => resolve(false));
        }),
      10_000,
      50,
    );

  beforeAll(async () => {
    const proxyPort = await freePort();
    const publicUrl = `http://127.0.0.1:${proxyPort}`;
    system = await startSystem({ env: { ROLE: 'viewer', PUBLIC_VIEWER_URL: publicUrl, CORS_ORIGINS: ohif } });
    ingest = startLauncher({ ...system.env, ROLE: 'ingest' });
    const [started] = await ingest.ready;
    const ingestPort = new URL(started?.url ?? '').port;
    const viewerPort = new URL(system.urls.viewer ?? '').port;
    proxy = spawn(haproxy ?? 'haproxy', ['-db', '-f', path.join(REPO_ROOT, 'infra/proxy/haproxy.cfg')], {
      env: { PATH: process.env.PATH ?? '', YY_PROXY_BIND: `127.0.0.1:${proxyPort}`, YY_INGEST_ADDR: `127.0.0.1:${ingestPort}`, YY_VIEWER_ADDR: `127.0.0.1:${viewerPort}` },
      stdio: 'ignore',
    });
    await listening(proxyPort);
    base = `${publicUrl}/dicomweb`;
    auth = `ApiKey ${system.credentials.apiKey?.key ?? ''}`;
  }, 120_000);

  afterAll(async () => {
    if (proxy !== undefined && proxy.exitCode === null) {
      const exited = new Promise((resolve) => proxy.once('exit', resolve));
      proxy.kill('SIGTERM');
      await exited;
    }
    await ingest?.stop();
    await system?.stop();
  });

  it('routes STOW-RS to the ingest role and answers its preflight', async () => {
    const pre = await fetch(`${base}/studies`, { method: 'OPTIONS', headers: { origin: ohif, 'access-control-request-method': 'POST', 'access-control-request-headers': 'authorization, content-type' } });
    expect(pre.status).toBe(204);
    expect(pre.headers.get('access-control-allow-origin')).toBe(ohif);
    const { body, contentType } = stowBody(study.files);
    const res = await fetch(`${base}/studies/${study.studyInstanceUid}`, { method: 'POST', headers: { authorization: auth, 'content-type': contentType, accept: 'application/dicom+json' }, body });
    expect(res.status).toBe(200);
    const json = (await res.json()) as DicomJson;
    expect(value(json, '00081190')).toBe(`${base}/studies/${study.studyInstanceUid}`);
  });

  it("routes the ingest role's own API (a clinic's DICOM settings, retention work) to it, and the rest of /api to the viewer", async () => {
    const origin = new URL(base).origin;
    const admin = system.credentials.users.find((u) => u.role === 'admin');
    const signIn = await fetch(`${origin}/api/auth/sign-in`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ username: admin?.username, password: admin?.password, client: 'api' }) });
    expect(signIn.status).toBe(200);
    const bearer = { authorization: `Bearer ${((await signIn.json()) as { accessToken: string }).accessToken}` };
    const clinicId = system.credentials.clinics[0]?.id ?? '';
    // Only the ingest role has these routes: a 200 with the body says the proxy sent them there.
    const dimse = await fetch(`${origin}/api/admin/clinics/${clinicId}/dimse`, { headers: bearer });
    expect(dimse.status).toBe(200);
    expect(await dimse.json()).toMatchObject({ clinicId, dimseAuth: expect.stringMatching(/^(credentials|ae_only)$/), certificates: [] });
    const destinations = await fetch(`${origin}/api/admin/clinics/${clinicId}/dimse-destinations`, { headers: bearer });
    expect(destinations.status).toBe(200);
    const revoke = await fetch(`${origin}/api/admin/dimse-certificates/${'AB:'.repeat(31)}AB/revoke`, { method: 'POST', headers: bearer });
    expect([revoke.status, ((await revoke.json()) as { detail?: string }).detail]).toEqual([404, 'No such certificate']);
    // The viewer's own admin API stays with the viewer.
    const users = await fetch(`${origin}/api/admin/users`, { headers: bearer });
    expect(users.status).toBe(200);
    expect(((await users.json()) as { users: unknown[] }).users.length).toBeGreaterThan(0);
  });

  it('routes QIDO, metadata and WADO-URI to the viewer role, with URLs naming the proxy', async () => {
    const qido = await get(base, `/studies?PatientID=PID-PROXY`, { kind: 'device', key: system.credentials.apiKey?.key ?? '' }, 'application/dicom+json');
    const studies = (await qido.json()) as DicomJson[];
    expect(studies.map((s) => value(s, '00081190'))).toEqual([`${base}/studies/${study.studyInstanceUid}`]);
    const instance = `${base}/studies/${study.studyInstanceUid}/series/${study.seriesInstanceUid}/instances/${study.sopInstanceUids[0] ?? ''}`;
    const meta = await fetch(`${instance}/metadata`, { headers: { authorization: auth, accept: 'application/dicom+json' } });
    const [json] = (await meta.json()) as DicomJson[];
    expect(json?.['7FE00010']?.BulkDataURI).toBe(`${instance}/bulkdata/7FE00010`);
    const bulk = await fetch(json?.['7FE00010']?.BulkDataURI ?? '', { headers: { authorization: auth, accept: 'multipart/related; type="application/octet-stream"; transfer-syntax=*' } });
    expect(bulk.status).toBe(200);
    const q = `requestType=WADO&studyUID=${study.studyInstanceUid}&seriesUID=${study.seriesInstanceUid}&objectUID=${study.sopInstanceUids[0] ?? ''}&contentType=application%2Fdicom`;
    const wado = await fetch(`${base}/wado?${q}`, { headers: { authorization: auth } });
    expect(wado.status).toBe(200);
    expect(Buffer.from(await wado.arrayBuffer()).equals(study.files[0] ?? Buffer.alloc(0))).toBe(true);
  });
});
