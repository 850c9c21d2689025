import sharp from 'sharp';
import { expectedFrame, expectedJpegFrame, makeInstance, makeStudy, newUid, type InstanceOptions } from '@yunying/dicom/testing';
import { startSystem, stow, type RunningSystem } from '../support/system';
import { get, parseMultipart, signIn, value, type Credential, type DicomJson } from './client';

/**
 * #6 (DICOMweb part) and #7 (tenancy) against the real system: QIDO-RS matching, paging and the cap;
 * WADO-RS retrieve, metadata, frames (stored and decompressed), rendered, thumbnails; WADO-URI; a second
 * clinic's study never visible to the demo clinic or its radiologist; auditors and admins refused;
 * audit records for the accesses.
 */
describe('DICOMweb QIDO-RS / WADO-RS / WADO-URI (system)', () => {
  let system: RunningSystem;
  let viewer: string;
  let device: Credential;
  let otherDevice: Credential;
  let radiologist: Credential;
  let auditor: Credential;
  let admin: Credential;
  let demoClinicId: string;
  let otherClinicId: string;

  // Study A: native 8-bit multi-frame US, three instances. B: JPEG baseline. C: native 16-bit. O: other clinic.
  const optionsA: InstanceOptions = {
    patientName: 'SMITH^JOHN',
    patientId: 'PID-A',
    studyDate: '20240115',
    studyTime: '093000',
    accessionNumber: 'ACC-A1',
    studyDescription: 'Thyroid, left',
    frames: 3,
    rows: 32,
    columns: 48,
  };
  const studyA = makeStudy(3, optionsA);
  const optionsB: InstanceOptions = {
    patientName: 'Smithson^Anna',
    patientId: 'PID-B',
    studyDate: '20240301',
    modality: 'CT',
    transferSyntax: '1.2.840.10008.1.2.4.50',
    photometric: 'MONOCHROME2',
    rows: 64,
    columns: 64,
  };
  const fileB = makeInstance(optionsB);
  const studyB = { studyInstanceUid: '', seriesInstanceUid: '', sopInstanceUid: '' };
  const optionsC: InstanceOptions = { patientName: 'DOE^JANE', patientId: 'PID-C', studyDate: '20231220', bitsAllocated: 16, rows: 16, columns: 16 };
  const studyC = makeStudy(1, optionsC);
  const studyO = makeStudy(1, { patientName: 'SMITH^SECRET', patientId: 'PID-O', studyDate: '20240115', rows: 16, columns: 16 });

  const BULK = 1200;

  beforeAll(async () => {
    system = await startSystem();
    viewer = system.urls.viewer ?? '';
    const ingest = system.urls.ingest ?? '';
    device = { kind: 'device', key: system.credentials.apiKey?.key ?? '' };
    demoClinicId = system.credentials.clinics.find((c) => c.code === 'demo-clinic')?.id ?? '';
    otherClinicId = system.credentials.clinics.find((c) => c.code === 'other-clinic')?.id ?? '';
    const user = (role: string): { username: string; password: string } => {
      const u = system.credentials.users.find((x) => x.role === role);
      if (!u) throw new Error(`no demo ${role}`);
      return u;
    };
    radiologist = await signIn(viewer, user('radiologist').username, user('radiologist').password);
    auditor = await signIn(viewer, user('auditor').username, user('auditor').password);
    admin = await signIn(viewer, user('admin').username, user('admin').password);
    // other-clinic's own device key, made through the admin API of the viewer.
    const created = await fetch(`${viewer}/api/admin/api-keys`, {
      method: 'POST',
      headers: { authorization: `Bearer ${admin.kind === 'user' ? admin.token : ''}`, 'content-type': 'application/json' },
      body: JSON.stringify({ clinicId: otherClinicId, name: 'other-uploader' }),
    });
    expect(created.status).toBe(201);
    otherDevice = { kind: 'device', key: ((await created.json()) as { key: string }).key };

    for (const [key, files] of [
      [device, studyA.files],
      [device, [fileB]],
      [device, studyC.files],
      [otherDevice, studyO.files],
    ] as const) {
      const result = await stow(ingest, key.kind === 'device' ? key.key : '', [...files]);
      expect(result.status).toBe(200);
    }
    const b = await system.pool.query<{ study_instance_uid: string; series_instance_uid: string; sop_instance_uid: string }>(
      `SELECT s.study_instance_uid, se.series_instance_uid, i.sop_instance_uid FROM instances i JOIN series se ON se.id = i.series_ref
       JOIN studies s ON s.id = i.study_ref WHERE s.patient_id = 'PID-B'`,
    );
    Object.assign(studyB, {
      studyInstanceUid: b.rows[0]?.study_instance_uid,
      seriesInstanceUid: b.rows[0]?.series_instance_uid,
      sopInstanceUid: b.rows[0]?.sop_instance_uid,
    });

    // Catalog-only studies for paging and the cap: 1,200 in the demo clinic, 300 in the other one.
    for (const [clinic, count, prefix] of [
      [demoClinicId, BULK, '1.2.826.0.1.3680043.10.1'],
      [otherClinicId, 300, '1.2.826.0.1.3680043.10.2'],
    ] as const) {
      await system.pool.query(
        `WITH p AS (INSERT INTO patients (clinic_id, patient_key, patient_id, patient_name) VALUES ($1, 'id:BULK', 'BULK', 'BULK^PATIENT') RETURNING id)
         INSERT INTO studies (clinic_id, patient_ref, study_instance_uid, patient_name, patient_id, study_date, modalities, retain_until)
         SELECT $1, p.id, $2 || '.' || g, 'BULK^' || g, 'BULK', to_char(date '2020-01-01' + g, 'YYYYMMDD'), '{US}', now() + interval '15 years'
         FROM p, generate_series(1, $3::int) g`,
        [clinic, prefix, count],
      );
    }
  }, 120_000);

  afterAll(async () => {
    await system?.stop();
  });

  const qido = async (path: string, who: Credential = device): Promise<{ status: number; body: DicomJson[]; res: Response }> => {
    const res = await get(viewer, path, who, 'application/dicom+json');
    const text = await res.text();
    return { status: res.status, body: res.status === 200 ? (JSON.parse(text) as DicomJson[]) : [], res };
  };
  const studyUids = (body: DicomJson[]): string[] => body.map((s) => String(value(s, '0020000D'))).sort();
  const known = (): string => [studyA.studyInstanceUid, studyB.studyInstanceUid, studyC.studyInstanceUid].join(',');

  describe('QIDO-RS', () => {
    it('returns the default study attributes as application/dicom+json, computed counts and an absolute RetrieveURL', async () => {
      const { status, body, res } = await qido(`/dicomweb/studies?StudyInstanceUID=${studyA.studyInstanceUid}`);
      expect(status).toBe(200);
      expect(res.headers.get('content-type')).toMatch(/^application\/dicom\+json/);
      expect(body).toHaveLength(1);
      const study = body[0];
      expect(study?.['00100010']).toEqual({ vr: 'PN', Value: [{ Alphabetic: 'SMITH^JOHN' }] });
      expect(value(study, '00100020')).toBe('PID-A');
      expect(value(study, '00080020')).toBe('20240115');
      expect(value(study, '00080050')).toBe('ACC-A1');
      expect(value(study, '00201206')).toBe(1);
      expect(value(study, '00201208')).toBe(3);
      expect(study?.['00080061']?.Value).toEqual(['US']);
      expect(value(study, '00080056')).toBe('ONLINE');
      expect(value(study, '00081190')).toBe(`${viewer}/dicomweb/studies/${studyA.studyInstanceUid}`);
    });

    it('matches PatientName case-insensitively, percent-decoded, with wildcards and fuzzy matching', async () => {
      expect(studyUids((await qido('/dicomweb/studies?PatientName=smith^john')).body)).toEqual([studyA.studyInstanceUid]);
      expect(studyUids((await qido('/dicomweb/studies?PatientName=SMITH%5EJOHN')).body)).toEqual([studyA.studyInstanceUid]);
      expect(studyUids((await qido('/dicomweb/studies?00100010=SMITH*')).body)).toEqual([studyA.studyInstanceUid, studyB.studyInstanceUid].sort());
      expect(studyUids((await qido('/dicomweb/studies?PatientName=SM?TH^JOHN')).body)).toEqual([studyA.studyInstanceUid]);
      expect((await qido('/dicomweb/studies?PatientName=anna')).body).toHaveLength(0);
      expect(studyUids((await qido('/dicomweb/studies?PatientName=anna&fuzzymatching=true')).body)).toEqual([studyB.studyInstanceUid]);
      // A literal % or _ in the value is not a wildcard.
      expect((await qido('/dicomweb/studies?PatientName=SMITH%25')).body).toHaveLength(0);
    });

    it('matches single values case-sensitively, lists, UID lists, date ranges and ModalitiesInStudy', async () => {
      expect(studyUids((await qido('/dicomweb/studies?PatientID=PID-A')).body)).toEqual([studyA.studyInstanceUid]);
      expect((await qido('/dicomweb/studies?PatientID=pid-a')).body).toHaveLength(0);
      expect(studyUids((await qido('/dicomweb/studies?PatientID=PID-A,PID-C')).body)).toEqual([studyA.studyInstanceUid, studyC.studyInstanceUid].sort());
      expect(studyUids((await qido(`/dicomweb/studies?StudyInstanceUID=${studyA.studyInstanceUid},${studyC.studyInstanceUid}`)).body)).toEqual(
        [studyA.studyInstanceUid, studyC.studyInstanceUid].sort(),
      );
      const inKnown = `StudyInstanceUID=${known()}`;
      expect(studyUids((await qido(`/dicomweb/studies?${inKnown}&StudyDate=20240101-20240131`)).body)).toEqual([studyA.studyInstanceUid]);
      expect(studyUids((await qido(`/dicomweb/studies?${inKnown}&StudyDate=20240201-`)).body)).toEqual([studyB.studyInstanceUid]);
      expect(studyUids((await qido(`/dicomweb/studies?${inKnown}&StudyDate=-20231231`)).body)).toEqual([studyC.studyInstanceUid]);
      expect(studyUids((await qido(`/dicomweb/studies?${inKnown}&StudyTime=0900-1000`)).body)).toEqual([studyA.studyInstanceUid]);
      expect(studyUids((await qido(`/dicomweb/studies?${inKnown}&ModalitiesInStudy=CT`)).body)).toEqual([studyB.studyInstanceUid]);
      expect(studyUids((await qido('/dicomweb/studies?StudyDescription=Thyroid,%20left')).body)).toEqual([studyA.studyInstanceUid]);
      expect(studyUids((await qido('/dicomweb/studies?AccessionNumber=ACC-*')).body)).toEqual([studyA.studyInstanceUid]);
    });

    it('answers series and instance queries with their defaults, study attributes when unscoped, and includefield', async () => {
      const series = await qido(`/dicomweb/studies/${studyA.studyInstanceUid}/series`);
      expect(series.body).toHaveLength(1);
      expect(value(series.body[0], '0020000E')).toBe(studyA.seriesInstanceUid);
      expect(value(series.body[0], '00201209')).toBe(3);
      expect(value(series.body[0], '00080060')).toBe('US');
      expect(series.body[0]?.['00100010']).toBeUndefined();

      const unscoped = await qido(`/dicomweb/series?Modality=CT&${'StudyInstanceUID'}=${known()}`);
      expect(unscoped.body).toHaveLength(1);
      expect(value(unscoped.body[0], '00100020')).toBe('PID-B');

      const instances = await qido(`/dicomweb/studies/${studyA.studyInstanceUid}/series/${studyA.seriesInstanceUid}/instances?includefield=00280004`);
      expect(instances.body.map((i) => value(i, '00080018'))).toEqual(studyA.sopInstanceUids);
      expect(instances.body.map((i) => value(i, '00200013'))).toEqual([1, 2, 3]);
      expect(value(instances.body[0], '00280008')).toBe(3);
      expect(value(instances.body[0], '00280100')).toBe(8);
      expect(value(instances.body[0], '00280004')).toBe('MONOCHROME2');
      expect(value(instances.body[0], '00081190')).toBe(
        `${viewer}/dicomweb/studies/${studyA.studyInstanceUid}/series/${studyA.seriesInstanceUid}/instances/${studyA.sopInstanceUids[0]}`,
      );

      const all = await qido(`/dicomweb/instances?SOPInstanceUID=${studyA.sopInstanceUids[1]}&includefield=all`);
      expect(all.body).toHaveLength(1);
      expect(value(all.body[0], '00100010')).toEqual({ Alphabetic: 'SMITH^JOHN' });
      expect(value(all.body[0], '00280010')).toBe(32);
      expect(all.body[0]?.['7FE00010']).toBeUndefined();

      // A study-level includefield of an attribute without a column comes from the stored JSON.
      const withPhotometric = await qido(`/dicomweb/studies?StudyInstanceUID=${studyB.studyInstanceUid}&includefield=PhotometricInterpretation`);
      expect(value(withPhotometric.body[0], '00280004')).toBe('MONOCHROME2');
    });

    it('pages with limit/offset and caps an unbounded query with a Warning header', async () => {
      const seen = new Set<string>();
      for (let offset = 0; offset < BULK + 100; offset += 500) {
        const page = await qido(`/dicomweb/studies?PatientName=BULK*&limit=500&offset=${offset}`);
        expect(page.status).toBe(200);
        expect(page.res.headers.get('warning')).toBeNull();
        for (const uid of studyUids(page.body)) seen.add(uid);
      }
      expect(seen.size).toBe(BULK);
      expect([...seen].every((uid) => uid.startsWith('1.2.826.0.1.3680043.10.1.'))).toBe(true);

      const capped = await qido('/dicomweb/studies?PatientName=BULK*');
      expect(capped.body).toHaveLength(1000);
      expect(capped.res.headers.get('warning')).toMatch(/^299 .*"There are additional results to be returned"$/);
      const overLimit = await qido('/dicomweb/studies?PatientName=BULK*&limit=5000');
      expect(overLimit.body).toHaveLength(1000);
      expect(overLimit.res.headers.get('warning')).toMatch(/^299 /);
      const small = await qido('/dicomweb/studies?PatientName=BULK*&limit=5&offset=1198');
      expect(small.body).toHaveLength(2);
    });

    it('refuses unknown or malformed parameters with 400 problem+json', async () => {
      for (const query of ['Foo=bar', 'StudyDate=2024', 'StudyDate=20240201-20240101', 'limit=abc', 'limit=0', 'offset=-1', 'StudyInstanceUID=1.2.abc', 'fuzzymatching=maybe', 'includefield=NoSuchKeyword', 'SeriesNumber=x', 'PatientID=a&PatientID=b']) {
        const res = await get(viewer, `/dicomweb/studies?${query}`, device);
        expect({ query, status: res.status }).toEqual({ query, status: 400 });
        expect(res.headers.get('content-type')).toMatch(/application\/problem\+json/);
      }
      expect((await get(viewer, '/dicomweb/studies?Modality=US', device)).status).toBe(400);
      expect((await get(viewer, '/dicomweb/studies', device, 'application/dicom+xml')).status).toBe(406);
    });
  });

  describe('tenancy', () => {
    const otherUids = (): string[] => [studyO.studyInstanceUid];

    it.each([
      ['the demo clinic device', () => device],
      ['the radiologist granted demo-clinic', () => radiologist],
    ])('never shows another clinic’s study to %s: wildcards, paging, includefield, every level', async (_name, who) => {
      const caller = who();
      const everything: string[] = [];
      for (let offset = 0; ; offset += 1000) {
        const page = await qido(`/dicomweb/studies?PatientName=*&includefield=all&limit=1000&offset=${offset}`, caller);
        expect(page.status).toBe(200);
        everything.push(...studyUids(page.body));
        if (page.body.length < 1000) break;
      }
      expect(everything).toHaveLength(BULK + 3);
      expect(everything).not.toEqual(expect.arrayContaining(otherUids()));
      expect(everything.some((uid) => uid.startsWith('1.2.826.0.1.3680043.10.2.'))).toBe(false);
      expect((await qido('/dicomweb/studies?PatientName=SMITH^SECRET', caller)).body).toHaveLength(0);
      expect((await qido(`/dicomweb/studies?StudyInstanceUID=${studyO.studyInstanceUid}`, caller)).body).toHaveLength(0);
      expect((await qido(`/dicomweb/series?StudyInstanceUID=${studyO.studyInstanceUid}&includefield=all`, caller)).body).toHaveLength(0);
      expect((await qido(`/dicomweb/studies/${studyO.studyInstanceUid}/instances`, caller)).body).toHaveLength(0);
      const instances = await qido('/dicomweb/instances?includefield=all', caller);
      expect(instances.body.map((i) => value(i, '0020000D'))).not.toContain(studyO.studyInstanceUid);

      // WADO of the other clinic's study: 404, the same answer as for a study that does not exist.
      const o = `/dicomweb/studies/${studyO.studyInstanceUid}/series/${studyO.seriesInstanceUid}/instances/${studyO.sopInstanceUids[0]}`;
      for (const path of [
        `/dicomweb/studies/${studyO.studyInstanceUid}`,
        `/dicomweb/studies/${studyO.studyInstanceUid}/metadata`,
        `/dicomweb/studies/${studyO.studyInstanceUid}/series/${studyO.seriesInstanceUid}`,
        o,
        `${o}/metadata`,
        `${o}/frames/1`,
        `${o}/rendered`,
        `${o}/thumbnail`,
        `/dicomweb/studies/${studyO.studyInstanceUid}/thumbnail`,
        `/wado?requestType=WADO&studyUID=${studyO.studyInstanceUid}&seriesUID=${studyO.seriesInstanceUid}&objectUID=${studyO.sopInstanceUids[0]}&contentType=application/dicom`,
        `/dicomweb/studies/${newUid()}`,
      ]) {
        const res = await get(viewer, path, caller);
        expect({ path, status: res.status }).toEqual({ path, status: 404 });
      }
    });

    it('serves the other clinic its own study (so the 404s above are about tenancy)', async () => {
      const own = await qido(`/dicomweb/studies?StudyInstanceUID=${studyO.studyInstanceUid}`, otherDevice);
      expect(studyUids(own.body)).toEqual([studyO.studyInstanceUid]);
      const everything = await qido('/dicomweb/studies?PatientName=*', otherDevice);
      expect(everything.body).toHaveLength(301);
      expect(studyUids(everything.body)).not.toContain(studyA.studyInstanceUid);
    });
  });

  describe('WADO-RS', () => {
    const instancePath = (i: number): string =>
      `/dicomweb/studies/${studyA.studyInstanceUid}/series/${studyA.seriesInstanceUid}/instances/${studyA.sopInstanceUids[i]}`;
    const bPath = (): string => `/dicomweb/studies/${studyB.studyInstanceUid}/series/${studyB.seriesInstanceUid}/instances/${studyB.sopInstanceUid}`;

    it('retrieves an instance and a study as multipart/related application/dicom, byte for byte', async () => {
      const res = await get(viewer, instancePath(1), device, 'multipart/related; type="application/dicom"; transfer-syntax=*');
      expect(res.status).toBe(200);
      const contentType = res.headers.get('content-type') ?? '';
      expect(contentType).toMatch(/^multipart\/related; type="application\/dicom"/);
      const parts = parseMultipart(contentType, Buffer.from(await res.arrayBuffer()));
      expect(parts).toHaveLength(1);
      expect(parts[0]?.headers['content-type']).toBe('application/dicom; transfer-syntax=1.2.840.10008.1.2.1');
      expect(parts[0]?.body.equals(studyA.files[1] ?? Buffer.alloc(0))).toBe(true);

      const study = await get(viewer, `/dicomweb/studies/${studyA.studyInstanceUid}`, device);
      const studyParts = parseMultipart(study.headers.get('content-type') ?? '', Buffer.from(await study.arrayBuffer()));
      expect(studyParts.map((p) => p.body.toString('base64'))).toEqual(studyA.files.map((f) => f.toString('base64')));
      expect((await get(viewer, `/dicomweb/studies/${studyA.studyInstanceUid}`, device, 'image/png')).status).toBe(406);
    });

    it('serves metadata from the catalog with absolute BulkDataURIs that deliver the pixel data', async () => {
      const res = await get(viewer, `/dicomweb/studies/${studyA.studyInstanceUid}/series/${studyA.seriesInstanceUid}/metadata`, device);
      expect(res.status).toBe(200);
      expect(res.headers.get('content-type')).toMatch(/^application\/dicom\+json/);
      const body = (await res.json()) as DicomJson[];
      expect(body.map((i) => value(i, '00080018'))).toEqual(studyA.sopInstanceUids);
      const first = body[0];
      expect(value(first, '0020000D')).toBe(studyA.studyInstanceUid);
      expect(value(first, '00280008')).toBe(3);
      expect(value(first, '00100010')).toEqual({ Alphabetic: 'SMITH^JOHN' });
      const uri = first?.['7FE00010']?.BulkDataURI ?? '';
      expect(uri).toBe(`${viewer}${instancePath(0)}/bulkdata/7FE00010`);
      const bulk = await get(viewer, uri.slice(viewer.length), device, 'multipart/related; type="application/octet-stream"');
      expect(bulk.status).toBe(200);
      const parts = parseMultipart(bulk.headers.get('content-type') ?? '', Buffer.from(await bulk.arrayBuffer()));
      expect(parts.map((p) => p.body.toString('hex'))).toEqual([0, 1, 2].map((k) => Buffer.from(expectedFrame(optionsA, k)).toString('hex')));
    });

    it('serves native frames by number, in the order asked, and 404 for frame 0 or beyond the count', async () => {
      const res = await get(viewer, `${instancePath(0)}/frames/3,1`, device, 'multipart/related; type="application/octet-stream"; transfer-syntax=*');
      expect(res.status).toBe(200);
      const parts = parseMultipart(res.headers.get('content-type') ?? '', Buffer.from(await res.arrayBuffer()));
      expect(parts).toHaveLength(2);
      expect(parts[0]?.headers['content-type']).toBe('application/octet-stream; transfer-syntax=1.2.840.10008.1.2.1');
      expect(parts[0]?.body.equals(Buffer.from(expectedFrame(optionsA, 2)))).toBe(true);
      expect(parts[1]?.body.equals(Buffer.from(expectedFrame(optionsA, 0)))).toBe(true);
      expect((await get(viewer, `${instancePath(0)}/frames/0`, device)).status).toBe(404);
      expect((await get(viewer, `${instancePath(0)}/frames/4`, device)).status).toBe(404);
      expect((await get(viewer, `${instancePath(0)}/frames/1,x`, device)).status).toBe(400);
      // 16-bit native frames keep their little-endian samples.
      const c = `/dicomweb/studies/${studyC.studyInstanceUid}/series/${studyC.seriesInstanceUid}/instances/${studyC.sopInstanceUids[0]}`;
      const sixteen = await get(viewer, `${c}/frames/1`, device, 'application/octet-stream');
      expect(sixteen.status).toBe(200);
      expect(Buffer.from(await sixteen.arrayBuffer()).equals(Buffer.from(expectedFrame(optionsC, 0)))).toBe(true);
    });

    it('negotiates JPEG frames: as stored, as image/jpeg, decompressed to explicit little endian, 406 otherwise', async () => {
      const stored = await get(viewer, `${bPath()}/frames/1`, device, 'multipart/related; type="application/octet-stream"; transfer-syntax=*');
      const storedParts = parseMultipart(stored.headers.get('content-type') ?? '', Buffer.from(await stored.arrayBuffer()));
      expect(storedParts[0]?.headers['content-type']).toBe('image/jpeg; transfer-syntax=1.2.840.10008.1.2.4.50');
      expect(storedParts[0]?.body.equals(Buffer.from(expectedJpegFrame(optionsB, 0)))).toBe(true);

      const jpeg = await get(viewer, `${bPath()}/frames/1`, device, 'multipart/related; type="image/jpeg"');
      const jpegParts = parseMultipart(jpeg.headers.get('content-type') ?? '', Buffer.from(await jpeg.arrayBuffer()));
      expect(jpegParts[0]?.body.equals(Buffer.from(expectedJpegFrame(optionsB, 0)))).toBe(true);

      for (const accept of ['multipart/related; type="application/octet-stream"', 'multipart/related; type="application/octet-stream"; transfer-syntax=1.2.840.10008.1.2.1']) {
        const res = await get(viewer, `${bPath()}/frames/1`, device, accept);
        expect(res.status).toBe(200);
        const parts = parseMultipart(res.headers.get('content-type') ?? '', Buffer.from(await res.arrayBuffer()));
        expect(parts[0]?.headers['content-type']).toBe('application/octet-stream; transfer-syntax=1.2.840.10008.1.2.1');
        const pixels = parts[0]?.body ?? Buffer.alloc(0);
        expect(pixels.length).toBe(64 * 64);
        // Flat 8x8 blocks: pixel (r, c) is the pattern value at the block's corner (within JPEG rounding).
        const expected = expectedFrame(optionsB, 0);
        for (const [r, c] of [[0, 0], [9, 17], [40, 63], [63, 8]] as const) {
          const want = expected[(r & ~7) * 64 + (c & ~7)] ?? -1;
          expect(Math.abs((pixels[r * 64 + c] ?? -999) - want)).toBeLessThanOrEqual(2);
        }
      }
      expect((await get(viewer, `${bPath()}/frames/1`, device, 'multipart/related; type="application/octet-stream"; transfer-syntax=1.2.840.10008.1.2.4.90')).status).toBe(406);
      expect((await get(viewer, `${instancePath(0)}/frames/1`, device, 'multipart/related; type="image/jpeg"')).status).toBe(406);
    });

    it('renders frames and instances as JPEG and PNG of the right size, windowed and scaled', async () => {
      const png = await get(viewer, `${instancePath(0)}/frames/2/rendered`, device, 'image/png');
      expect(png.status).toBe(200);
      expect(png.headers.get('content-type')).toBe('image/png');
      const decoded = await sharp(Buffer.from(await png.arrayBuffer())).raw().toBuffer({ resolveWithObject: true });
      expect([decoded.info.width, decoded.info.height]).toEqual([48, 32]);
      const frame2 = expectedFrame(optionsA, 1);
      const channels = decoded.info.channels;
      for (const [r, c] of [[0, 0], [5, 7], [31, 47]] as const) expect(decoded.data[(r * 48 + c) * channels]).toBe(frame2[r * 48 + c]);

      const windowed = await get(viewer, `${instancePath(0)}/frames/2/rendered?window=128,2,linear`, device, 'image/png');
      const w = await sharp(Buffer.from(await windowed.arrayBuffer())).raw().toBuffer({ resolveWithObject: true });
      for (const [r, c] of [[0, 0], [31, 47]] as const) {
        const v = frame2[r * 48 + c] ?? 0;
        expect(w.data[(r * 48 + c) * w.info.channels]).toBe(v >= 128 ? 255 : 0);
      }

      const jpeg = await get(viewer, `${bPath()}/rendered?viewport=32,32&quality=80`, device, 'image/jpeg');
      expect(jpeg.status).toBe(200);
      expect(jpeg.headers.get('content-type')).toBe('image/jpeg');
      const meta = await sharp(Buffer.from(await jpeg.arrayBuffer())).metadata();
      expect([meta.format, meta.width, meta.height]).toEqual(['jpeg', 32, 32]);

      expect((await get(viewer, `${bPath()}/rendered`, device, 'image/gif')).status).toBe(406);
      expect((await get(viewer, `${bPath()}/rendered?window=1`, device, 'image/jpeg')).status).toBe(400);
      expect((await get(viewer, `${bPath()}/rendered?annotation=patient`, device, 'image/jpeg')).status).toBe(400);
    });

    it('serves series, study and instance thumbnails', async () => {
      for (const path of [
        `/dicomweb/studies/${studyA.studyInstanceUid}/series/${studyA.seriesInstanceUid}/thumbnail`,
        `/dicomweb/studies/${studyB.studyInstanceUid}/thumbnail`,
        `${instancePath(2)}/thumbnail`,
      ]) {
        const res = await get(viewer, path, device, 'image/jpeg');
        expect({ path, status: res.status }).toEqual({ path, status: 200 });
        const meta = await sharp(Buffer.from(await res.arrayBuffer())).metadata();
        expect(meta.format).toBe('jpeg');
        expect(Math.max(meta.width ?? 0, meta.height ?? 0)).toBeLessThanOrEqual(160);
      }
    });
  });

  describe('WADO-URI', () => {
    const base = (): string => `/wado?requestType=WADO&studyUID=${studyA.studyInstanceUid}&seriesUID=${studyA.seriesInstanceUid}&objectUID=${studyA.sopInstanceUids[2]}`;

    it('returns application/dicom bytes and rendered JPEG (the default)', async () => {
      const dicom = await get(viewer, `${base()}&contentType=application/dicom`, device);
      expect(dicom.status).toBe(200);
      expect(dicom.headers.get('content-type')).toBe('application/dicom');
      expect(Buffer.from(await dicom.arrayBuffer()).equals(studyA.files[2] ?? Buffer.alloc(0))).toBe(true);

      const jpeg = await get(viewer, base(), device);
      expect(jpeg.status).toBe(200);
      expect(jpeg.headers.get('content-type')).toBe('image/jpeg');
      const meta = await sharp(Buffer.from(await jpeg.arrayBuffer())).metadata();
      expect([meta.format, meta.width, meta.height]).toEqual(['jpeg', 48, 32]);

      const small = await get(viewer, `${base()}&frameNumber=3&rows=16&windowCenter=100&windowWidth=50`, device);
      const smallMeta = await sharp(Buffer.from(await small.arrayBuffer())).metadata();
      expect([smallMeta.width, smallMeta.height]).toEqual([24, 16]);

      expect((await get(viewer, `${base()}&contentType=application/dicom&frameNumber=1`, device)).status).toBe(400);
      expect((await get(viewer, base().replace('requestType=WADO', 'requestType=NOPE'), device)).status).toBe(400);
      expect((await get(viewer, `${base()}&frameNumber=9`, device)).status).toBe(404);
    });
  });

  describe('roles', () => {
    it('refuses auditors and admins on every DICOMweb route (no pixel data, no patient lists)', async () => {
      const a = `/dicomweb/studies/${studyA.studyInstanceUid}/series/${studyA.seriesInstanceUid}/instances/${studyA.sopInstanceUids[0]}`;
      for (const who of [auditor, admin]) {
        for (const path of [
          `/dicomweb/studies/${studyA.studyInstanceUid}`,
          a,
          `${a}/frames/1`,
          `${a}/rendered`,
          `${a}/thumbnail`,
          `${a}/bulkdata/7FE00010`,
          `/dicomweb/studies/${studyA.studyInstanceUid}/series/${studyA.seriesInstanceUid}/thumbnail`,
          `/wado?requestType=WADO&studyUID=${studyA.studyInstanceUid}&seriesUID=${studyA.seriesInstanceUid}&objectUID=${studyA.sopInstanceUids[0]}`,
          `${a}/metadata`,
          '/dicomweb/studies',
        ]) {
          const res = await get(viewer, path, who);
          expect({ path, status: res.status }).toEqual({ path, status: 403 });
        }
      }
      expect((await fetch(`${viewer}/dicomweb/studies`)).status).toBe(401);
    });
  });

  describe('audit', () => {
    it('records one Query or DICOM Instances Accessed event per request, with the caller and the study, without patient names', async () => {
      const before = await system.pool.query<{ seq: string }>('SELECT coalesce(max(seq), 0) AS seq FROM audit_events');
      const path = `/dicomweb/studies/${studyA.studyInstanceUid}/series/${studyA.seriesInstanceUid}/instances/${studyA.sopInstanceUids[0]}/frames/1,2`;
      expect((await get(viewer, path, radiologist)).status).toBe(200);
      expect((await get(viewer, '/dicomweb/studies?PatientName=SMITH*', radiologist)).status).toBe(200);
      const radiologistName = system.credentials.users.find((u) => u.role === 'radiologist')?.username;
      const mine = await system.pool.query<{ event_type: string }>('SELECT event_type FROM audit_events WHERE seq > $1 AND actor_username = $2 ORDER BY seq', [
        before.rows[0]?.seq,
        radiologistName,
      ]);
      expect(mine.rows.map((r) => r.event_type)).toEqual(['DICOM Instances Accessed', 'Query']);

      const rows = await system.pool.query<{ event_type: string; actor_username: string; actor_role: string; study_instance_uid: string | null; clinic_id: string | null; details: Record<string, unknown> }>(
        `SELECT event_type, actor_username, actor_role, study_instance_uid, clinic_id, details FROM audit_events
         WHERE event_type IN ('Query', 'DICOM Instances Accessed') ORDER BY seq`,
      );
      const frames = rows.rows.filter((r) => r.event_type === 'DICOM Instances Accessed' && r.actor_username === radiologistName);
      expect(frames.at(-1)).toMatchObject({ actor_role: 'radiologist', study_instance_uid: studyA.studyInstanceUid, clinic_id: demoClinicId });
      expect(frames.at(-1)?.details).toMatchObject({ action: 'frames', frames: [1, 2], sopInstanceUid: studyA.sopInstanceUids[0] });
      const queries = rows.rows.filter((r) => r.event_type === 'Query' && r.actor_username === radiologistName);
      expect(queries.at(-1)?.details).toMatchObject({ level: 'study', keys: ['PatientName'] });

      // Every kind of access by the device earlier in this file left its record.
      const deviceActions = new Set(rows.rows.filter((r) => r.actor_username.startsWith('device:')).map((r) => (typeof r.details.action === "string" ? r.details.action : r.event_type)));
      for (const action of ['Query', 'retrieve', 'metadata', 'frames', 'bulkdata', 'rendered', 'thumbnail', 'wado-uri']) expect(deviceActions).toContain(action);
      // Never a patient name or id in the audit details.
      expect(JSON.stringify(rows.rows.map((r) => r.details))).not.toMatch(/SMITH|PID-A|Smithson/);
    });
  });
});
