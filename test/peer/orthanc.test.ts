import { createHash } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { makeInstance, makeStudy } from '@yunying/dicom/testing';
import { describeUnless } from '../support/skip';
import { netnsUnavailable, startInNetns, type NetnsProgram } from '../support/netns';
import { startSystem, stow, type RunningSystem } from '../support/system';
import { waitFor } from '../support/wait';

/**
 * Issue #15: Orthanc (Debian's 1.10 with its DICOMweb plugin) as a peer of Yunying. Orthanc's own
 * DICOMweb client, pointed at Yunying's one base URL, searches (QIDO-RS), pulls (WADO-RS retrieve) and
 * pushes (STOW-RS, with Orthanc's 73-character multipart boundary). Orthanc runs in a private network
 * namespace (it listens on every interface, unauthenticated) and reaches Yunying, and the test reaches
 * Orthanc, only through socket files (test/support/netns.ts).
 */
const ORTHANC = '/usr/sbin/Orthanc';
const PLUGIN = ['/usr/share/orthanc/plugins/libOrthancDicomWeb.so', '/usr/lib/orthanc/libOrthancDicomWeb.so.1.7'].find((p) => fs.existsSync(p));

function unavailable(): string | null {
  if (!fs.existsSync(ORTHANC)) return 'Orthanc not installed (apt-get install orthanc orthanc-dicomweb)';
  if (PLUGIN === undefined) return 'Orthanc DICOMweb plugin not installed (apt-get install orthanc-dicomweb)';
  return netnsUnavailable();
}

const sha = (b: Uint8Array): string => createHash('sha256').update(b).digest('hex');

describeUnless(unavailable(), 'Orthanc as a DICOMweb peer (system)', () => {
  let system: RunningSystem;
  let orthanc: NetnsProgram;
  let orthancUrl: string;
  let apiKey: string;
  let dir: string;
  const pulled = makeStudy(2, { rows: 16, columns: 16, patientId: 'PID-PULL', patientName: 'PULL^ORTHANC' });
  const pushed = makeInstance({ rows: 16, columns: 16, patientId: 'PID-PUSH', patientName: 'PUSH^ORTHANC' });

  const rest = async <T>(method: string, url: string, body?: unknown): Promise<T> => {
    const res = await fetch(`${orthancUrl}${url}`, {
      method,
      ...(body === undefined ? {} : { body: body instanceof Buffer ? body : JSON.stringify(body) }),
    });
    const text = await res.text();
    if (res.status !== 200) throw new Error(`Orthanc ${method} ${url}: ${res.status} ${text.slice(0, 500)}`);
    return JSON.parse(text) as T;
  };

  beforeAll(async () => {
    system = await startSystem();
    apiKey = system.credentials.apiKey?.key ?? '';
    expect((await stow(system.urls.ingest ?? '', apiKey, pulled.files)).status).toBe(200);
    const viewerPort = Number(new URL(system.urls.viewer ?? '').port);
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'yy-orthanc-'));
    fs.mkdirSync(path.join(dir, 'storage'));
    const config = {
      Name: 'PEER',
      StorageDirectory: path.join(dir, 'storage'),
      IndexDirectory: path.join(dir, 'storage'),
      HttpPort: 8042,
      DicomPort: 4242,
      RemoteAccessAllowed: true,
      AuthenticationEnabled: false,
      Plugins: [PLUGIN],
      DicomWeb: {
        Enable: true,
        Root: '/dicom-web/',
        // Yunying's one base URL: the viewer port in the embedded default (STOW included), reached at
        // port 8099 inside the namespace.
        Servers: { yunying: { Url: 'http://127.0.0.1:8099/dicomweb/', HttpHeaders: { Authorization: `ApiKey ${apiKey}` } } },
      },
    };
    fs.writeFileSync(path.join(dir, 'orthanc.json'), JSON.stringify(config));
    orthanc = await startInNetns({ inbound: [8042], outbound: { 8099: viewerPort }, command: [ORTHANC, path.join(dir, 'orthanc.json')] });
    orthancUrl = `http://127.0.0.1:${orthanc.hostPort(8042)}`;
    await waitFor('Orthanc to answer', () => fetch(`${orthancUrl}/system`).then((r) => r.ok, () => false), 30_000, 100).catch((error: unknown) => {
      throw new Error(`${error instanceof Error ? error.message : String(error)}:\n${orthanc.output().slice(-2000)}`);
    });
  }, 120_000);

  afterAll(async () => {
    await orthanc?.stop();
    if (dir) fs.rmSync(dir, { recursive: true, force: true });
    await system?.stop();
  });

  it('searches Yunying with QIDO-RS from Orthanc', async () => {
    // Orthanc answers in its own simplified form: one string Value per tag.
    const found = await rest<Array<Record<string, { Value?: unknown }>>>('POST', '/dicom-web/servers/yunying/qido', { Uri: '/studies', Arguments: { PatientID: 'PID-PULL' } });
    expect(found.map((s) => s['0020000D']?.Value)).toEqual([pulled.studyInstanceUid]);
    expect(found[0]?.['00100010']?.Value).toBe('PULL^ORTHANC');
    expect(found[0]?.['00081190']?.Value).toBe(`${system.urls.viewer ?? ''}/dicomweb/studies/${pulled.studyInstanceUid}`);
  });

  it('pulls a study from Yunying with WADO-RS and holds the same instances', async () => {
    await rest('POST', '/dicom-web/servers/yunying/retrieve', { Resources: [{ Study: pulled.studyInstanceUid }] });
    const ids = await rest<string[]>('POST', '/tools/find', { Level: 'Instance', Query: { StudyInstanceUID: pulled.studyInstanceUid } });
    expect(ids).toHaveLength(2);
    const held = await Promise.all(
      ids.map(async (id) => Buffer.from(await (await fetch(`${orthancUrl}/instances/${id}/file`)).arrayBuffer())),
    );
    expect(held.map(sha).sort()).toEqual(pulled.files.map(sha).sort());
  });

  it('pushes a study into Yunying with STOW-RS from Orthanc', async () => {
    const uploaded = await rest<{ ParentStudy: string }>('POST', '/instances', pushed);
    const result = await rest<Record<string, unknown>>('POST', '/dicom-web/servers/yunying/stow', { Resources: [uploaded.ParentStudy] });
    expect(result).toBeDefined();
    const rows = await system.pool.query<{ n: string }>(`SELECT count(*) AS n FROM studies WHERE patient_id = 'PID-PUSH'`);
    expect(rows.rows[0]?.n).toBe('1');
    const qido = await fetch(`${system.urls.viewer ?? ''}/dicomweb/instances?PatientID=PID-PUSH`, { headers: { authorization: `ApiKey ${apiKey}`, accept: 'application/dicom+json' } });
    const [instance] = (await qido.json()) as Array<Record<string, { Value?: string[] }>>;
    const url = instance?.['00081190']?.Value?.[0] ?? '';
    const file = await fetch(url, { headers: { authorization: `ApiKey ${apiKey}`, accept: 'application/dicom' } });
    expect(file.status).toBe(200);
    expect(sha(Buffer.from(await file.arrayBuffer()))).toBe(sha(pushed));
  });
});
