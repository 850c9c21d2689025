import fs from 'node:fs';
import path from 'node:path';
import { bigEndianUnSequenceInstance, deflatedInstance, makeInstance, newUid } from '@yunying/dicom/testing';
import { describeUnless, sharedDataDir } from '../support/skip';
import { startSystem, stowBody, type RunningSystem } from '../support/system';
import { get, parseMultipart, value, type Credential, type DicomJson } from './client';

/**
 * Issue #15 conformance fixes against the running system: STOW with a 200-character boundary, CP-246
 * and deflated instances, legacy dates matched by range, invalid DS dropped, every advertised
 * BulkDataURI answering, and decompressed PALETTE COLOR frames served as their stored indexes. Real
 * files from ../shared/data/dicom where present, generated fixtures always.
 */
describe('DICOMweb conformance fixes (system)', () => {
  let system: RunningSystem;
  let viewer: string;
  let ingest: string;
  let device: Credential;
  const dicomDir = sharedDataDir('dicom');
  const sharedFile = (rel: string): Buffer | null => {
    const file = dicomDir === null ? null : path.join(dicomDir, rel);
    return file !== null && fs.existsSync(file) ? fs.readFileSync(file) : null;
  };
  const echo = sharedFile('debian-octave-dicom_0.5.1-1/US-PAL-8-10x-echo.dcm');
  const aloka = sharedFile('pydicom-data/gdcm-US-ALOKA-16_big.dcm');
  const cp246 = bigEndianUnSequenceInstance();
  const deflatedUid = newUid();
  const dsStudy = newUid();

  const stowTo = async (files: Buffer[], boundary?: string): Promise<Response> => {
    const { body, contentType } = stowBody(files, boundary);
    return fetch(`${ingest}/dicomweb/studies`, {
      method: 'POST',
      headers: { 'content-type': contentType, authorization: `ApiKey ${device.kind === 'device' ? device.key : ''}`, accept: 'application/dicom+json' },
      body,
    });
  };
  const metadataOf = async (studyUid: string): Promise<DicomJson[]> => {
    const res = await get(viewer, `/dicomweb/studies/${studyUid}/metadata`, device, 'application/dicom+json');
    expect(res.status).toBe(200);
    return (await res.json()) as DicomJson[];
  };

  beforeAll(async () => {
    system = await startSystem();
    viewer = system.urls.viewer ?? '';
    ingest = system.urls.ingest ?? '';
    device = { kind: 'device', key: system.credentials.apiKey?.key ?? '' };
  }, 120_000);

  afterAll(async () => {
    await system?.stop();
  });

  it('accepts a STOW-RS body whose multipart boundary is 200 characters long', async () => {
    const res = await stowTo([makeInstance({ rows: 8, columns: 8 })], `b${'x'.repeat(199)}`);
    expect(res.status).toBe(200);
  });

  it('stores a big-endian instance with a CP-246 UN sequence and serves the sequence as SQ', async () => {
    const res = await stowTo([cp246.file]);
    expect(res.status).toBe(200);
    const [instance] = await metadataOf(cp246.studyInstanceUid);
    expect(instance?.['00091001']).toEqual({ vr: 'SQ', Value: [{ '00080100': { vr: 'SH', Value: ['T-CP246'] } }] });
    expect(value(instance, '00100020')).toBe('PID-CP246');
  });

  it('stores a deflated instance whose metadata holds no preamble or file-meta bytes', async () => {
    const res = await stowTo([deflatedInstance({ studyInstanceUid: deflatedUid, rows: 8, columns: 8 })]);
    expect({ status: res.status, refused: res.status === 200 ? '' : await res.text() }).toEqual({ status: 200, refused: '' });
    const [instance] = await metadataOf(deflatedUid);
    expect(Object.keys(instance ?? {}).filter((tag) => tag < '00080000')).toEqual([]);
    expect(Object.values(instance ?? {}).filter((a) => a.vr === 'UN')).toEqual([]);
  });

  it('stores an instance with a DS that is not a number and drops that value from the JSON', async () => {
    const res = await stowTo([makeInstance({ studyInstanceUid: dsStudy, rows: 8, columns: 8, extra: { WindowCenter: '1.9.10.0', WindowWidth: '400' } })]);
    expect(res.status).toBe(200);
    const [instance] = await metadataOf(dsStudy);
    expect(instance?.['00281050']).toEqual({ vr: 'DS' }); // its only value dropped: empty (F.2.5)
    expect(instance?.['00281051']?.Value).toEqual([400]);
  });

  it('normalises a legacy study date and finds it by a date range', async () => {
    const uid = newUid();
    expect((await stowTo([makeInstance({ studyInstanceUid: uid, studyDate: '1994.01.30', studyTime: '07:57:30', rows: 8, columns: 8 })])).status).toBe(200);
    const res = await get(viewer, `/dicomweb/studies?StudyDate=19940101-19951231&StudyInstanceUID=${uid}`, device, 'application/dicom+json');
    const body = (await res.json()) as DicomJson[];
    expect(body.map((s) => value(s, '0020000D'))).toEqual([uid]);
    expect(value(body[0], '00080020')).toBe('19940130');
    expect(value(body[0], '00080030')).toBe('075730');
  });

  describeUnless(echo === null ? 'shared data file US-PAL-8-10x-echo.dcm absent' : null, 'RLE PALETTE COLOR cine (US-PAL-8-10x-echo.dcm)', () => {
    let study = '';
    let url = '';
    let meta: DicomJson | undefined;
    beforeAll(async () => {
      expect((await stowTo([echo ?? Buffer.alloc(0)])).status).toBe(200);
      const rows = await system.pool.query<{ study: string; series: string; sop: string }>(
        `SELECT s.study_instance_uid AS study, se.series_instance_uid AS series, i.sop_instance_uid AS sop
           FROM instances i JOIN series se ON se.id = i.series_ref JOIN studies s ON s.id = i.study_ref WHERE i.photometric = 'PALETTE COLOR' AND i.transfer_syntax_uid = '1.2.840.10008.1.2.5'`,
      );
      const row = rows.rows[0];
      study = row?.study ?? '';
      url = `/dicomweb/studies/${row?.study ?? ''}/series/${row?.series ?? ''}/instances/${row?.sop ?? ''}`;
      [meta] = await metadataOf(study);
    });

    it('is indexed under its normalised date (1994.01.30 -> 19940130)', async () => {
      expect(value(meta, '00080020')).toBe('19940130');
      const res = await get(viewer, `/dicomweb/studies?StudyDate=19940101-19951231&StudyInstanceUID=${study}`, device, 'application/dicom+json');
      expect(((await res.json()) as DicomJson[]).length).toBe(1);
    });

    it('serves decompressed frames as the stored 8-bit palette indexes the metadata describes', async () => {
      expect(value(meta, '00280004')).toBe('PALETTE COLOR');
      const rows = Number(value(meta, '00280010'));
      const columns = Number(value(meta, '00280011'));
      expect(value(meta, '00280100')).toBe(8);
      const res = await get(viewer, `${url}/frames/1,5`, device, 'multipart/related; type="application/octet-stream"; transfer-syntax=1.2.840.10008.1.2.1');
      expect(res.status).toBe(200);
      const parts = parseMultipart(res.headers.get('content-type') ?? '', Buffer.from(await res.arrayBuffer()));
      expect(parts.map((p) => p.body.length)).toEqual([rows * columns, rows * columns]);
      // Indexes of an echo image: a palette image uses many entries, not a constant.
      expect(new Set(parts[0]?.body).size).toBeGreaterThan(16);
    });

    it('answers every BulkDataURI its metadata advertises', async () => {
      const uris: string[] = [];
      const walk = (o: DicomJson): void => {
        for (const attribute of Object.values(o)) {
          if (attribute.BulkDataURI) uris.push(attribute.BulkDataURI);
          if (attribute.vr === 'SQ') for (const item of (attribute.Value ?? []) as DicomJson[]) walk(item);
        }
      };
      walk(meta ?? {});
      expect(uris.length).toBeGreaterThan(0);
      for (const uri of uris) {
        const res = await fetch(uri, { headers: { authorization: `ApiKey ${device.kind === 'device' ? device.key : ''}`, accept: 'multipart/related; type="application/octet-stream"; transfer-syntax=*' } });
        expect([uri, res.status]).toEqual([uri, 200]);
      }
    });
  });

  describeUnless(aloka === null ? 'shared data file gdcm-US-ALOKA-16_big.dcm absent' : null, 'segmented palette LUTs of a big-endian instance (gdcm-US-ALOKA-16_big.dcm)', () => {
    it('serves the advertised (0028,1221-1223) bulk data in Little Endian', async () => {
      expect((await stowTo([aloka ?? Buffer.alloc(0)])).status).toBe(200);
      const rows = await system.pool.query<{ study: string }>(
        `SELECT s.study_instance_uid AS study FROM instances i JOIN studies s ON s.id = i.study_ref WHERE i.transfer_syntax_uid = '1.2.840.10008.1.2.2' AND i.photometric = 'PALETTE COLOR'`,
      );
      const [meta] = await metadataOf(rows.rows[0]?.study ?? '');
      for (const tag of ['00281221', '00281222', '00281223']) {
        const uri = meta?.[tag]?.BulkDataURI ?? '';
        expect(uri).toMatch(new RegExp(`/bulkdata/${tag}$`));
        const res = await fetch(uri, { headers: { authorization: `ApiKey ${device.kind === 'device' ? device.key : ''}`, accept: 'application/octet-stream' } });
        expect(res.status).toBe(200);
        const bytes = Buffer.from(await res.arrayBuffer());
        // PS3.3 C.7.9.2: a segmented LUT opens with a discrete (0) or linear (1) segment and its length.
        expect([0, 1]).toContain(bytes.readUInt16LE(0));
        expect(bytes.readUInt16LE(2)).toBeGreaterThan(0);
        expect(bytes.readUInt16LE(2)).toBeLessThan(16384);
      }
    });
  });
});
