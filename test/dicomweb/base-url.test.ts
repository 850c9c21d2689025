import { makeStudy } from '@yunying/dicom/testing';
import { startSystem, stowBody, type RunningSystem } from '../support/system';
import { parseMultipart, value, type DicomJson } from './client';

/**
 * Issue #15, one DICOMweb base URL and CORS, in the embedded default (ROLE=all): STOW-RS, QIDO-RS,
 * WADO-RS and WADO-URI all under the viewer's `/dicomweb`, as a browser app on another origin (OHIF)
 * calls them: preflight first, then the request with `Origin`, reading the exposed headers.
 */
describe('one DICOMweb base URL with CORS (system, embedded default)', () => {
  const ohif = 'http://ohif.example:3000';
  let system: RunningSystem;
  let base: string;
  let auth: string;
  const study = makeStudy(2, { rows: 8, columns: 8, patientId: 'PID-BASE' });

  beforeAll(async () => {
    system = await startSystem({ env: { CORS_ORIGINS: `${ohif}, http://other.example` } });
    base = `${system.urls.viewer ?? ''}/dicomweb`;
    auth = `ApiKey ${system.credentials.apiKey?.key ?? ''}`;
  }, 120_000);

  afterAll(async () => {
    await system?.stop();
  });

  const preflight = (path: string, method: string, headers: string): Promise<Response> =>
    fetch(`${base}${path}`, { method: 'OPTIONS', headers: { origin: ohif, 'access-control-request-method': method, 'access-control-request-headers': headers } });

  it('answers the STOW-RS preflight and stores through the viewer base URL, with RetrieveURLs under it', async () => {
    const pre = await preflight('/studies', 'POST', 'authorization, content-type, accept');
    expect(pre.status).toBe(204);
    expect(pre.headers.get('access-control-allow-origin')).toBe(ohif);
    expect(pre.headers.get('access-control-allow-methods')).toContain('POST');
    expect(pre.headers.get('access-control-allow-headers')).toContain('authorization');
    expect(pre.headers.get('access-control-allow-headers')).toContain('content-type');

    const { body, contentType } = stowBody(study.files);
    const res = await fetch(`${base}/studies`, { method: 'POST', headers: { origin: ohif, authorization: auth, 'content-type': contentType, accept: 'application/dicom+json' }, body });
    expect(res.status).toBe(200);
    expect(res.headers.get('access-control-allow-origin')).toBe(ohif);
    const json = (await res.json()) as DicomJson;
    expect(value(json, '00081190')).toBe(`${base}/studies/${study.studyInstanceUid}`);
  });

  it('answers the QIDO preflight (Authorization, Accept) and exposes Warning, Content-Type', async () => {
    const pre = await preflight('/studies', 'GET', 'authorization, accept');
    expect(pre.status).toBe(204);
    expect(pre.headers.get('access-control-allow-origin')).toBe(ohif);
    expect(pre.headers.get('access-control-allow-credentials')).toBeNull();
    const res = await fetch(`${base}/studies?PatientID=PID-BASE`, { headers: { origin: ohif, authorization: auth, accept: 'application/dicom+json' } });
    expect(res.status).toBe(200);
    expect(res.headers.get('access-control-allow-origin')).toBe(ohif);
    const exposed = (res.headers.get('access-control-expose-headers') ?? '').split(',').map((h) => h.trim());
    expect(exposed).toEqual(expect.arrayContaining(['Warning', 'Content-Location', 'Content-Type']));
    expect(((await res.json()) as DicomJson[]).map((s) => value(s, '0020000D'))).toEqual([study.studyInstanceUid]);
  });

  it('serves WADO-RS frames and metadata cross-origin, BulkDataURIs under the base URL', async () => {
    const instance = `${base}/studies/${study.studyInstanceUid}/series/${study.seriesInstanceUid}/instances/${study.sopInstanceUids[0] ?? ''}`;
    const meta = await fetch(`${instance}/metadata`, { headers: { origin: ohif, authorization: auth, accept: 'application/dicom+json' } });
    expect(meta.headers.get('access-control-allow-origin')).toBe(ohif);
    const [json] = (await meta.json()) as DicomJson[];
    expect(json?.['7FE00010']?.BulkDataURI).toBe(`${instance}/bulkdata/7FE00010`);
    const frames = await fetch(`${instance}/frames/1`, { headers: { origin: ohif, authorization: auth, accept: 'multipart/related; type="application/octet-stream"; transfer-syntax=*' } });
    expect(frames.status).toBe(200);
    expect(frames.headers.get('access-control-allow-origin')).toBe(ohif);
    const parts = parseMultipart(frames.headers.get('content-type') ?? '', Buffer.from(await frames.arrayBuffer()));
    expect(parts[0]?.body.length).toBe(64);
    expect(parts[0]?.headers['content-location']).toBe(`${instance}/frames/1`);
  });

  it('serves WADO-URI under the same base', async () => {
    const q = `requestType=WADO&studyUID=${study.studyInstanceUid}&seriesUID=${study.seriesInstanceUid}&objectUID=${study.sopInstanceUids[1] ?? ''}&contentType=application%2Fdicom`;
    const res = await fetch(`${base}/wado?${q}`, { headers: { origin: ohif, authorization: auth } });
    expect(res.status).toBe(200);
    expect(res.headers.get('access-control-allow-origin')).toBe(ohif);
    expect(Buffer.from(await res.arrayBuffer()).subarray(128, 132).toString()).toBe('DICM');
  });

  it('gives an origin that is not configured no CORS headers', async () => {
    const res = await fetch(`${base}/studies`, { method: 'OPTIONS', headers: { origin: 'http://evil.example', 'access-control-request-method': 'GET' } });
    expect(res.headers.get('access-control-allow-origin')).toBeNull();
  });
});
