import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { Registry } from 'prom-client';
import { createLogger } from '@yunying/core';
import { inTransaction } from '@yunying/catalog';
import { createTestCatalog, type TestCatalog } from '@yunying/catalog/testing';
import { makeStudy } from '@yunying/dicom/testing';
import { ReplicatedStore } from '@yunying/storage';
import { tempFsTargets, type TempFsTargets } from '@yunying/storage/testing';
import { describeUnless, findExecutable } from '../../../../test/support/skip';
import { waitFor } from '../../../../test/support/wait';
import { IngestPipeline, type Sender } from '../ingest.pipeline';
import { writeTombstone } from '../keeper/disposal.repository';
import { startDimseServer, type DimseServer } from './index';
import { RawScu, cFindCommand, implicitIdentifier, pData, runDcmtk, statusOf, type DcmtkRun } from '@yunying/dimse/testing';

const AE = 'FIND_US1';
const OTHER_AE = 'FIND_US2';
/**
 * A clinic with many studies (catalog rows by SQL, as a volume needs): the full 1000-match response at the
 * default cap, and a C-CANCEL that must land mid-stream. Pending responses go out at ~30 µs each, so the
 * stream must be long for findscu (another process on a loaded machine) to cancel before its end.
 */
const MANY_AE = 'FIND_US3';
const MANY = 20_000;
const DEFAULT_CAP = 1000;
const MAX_RESULTS = 5;
/**
 * A clinic whose answer (~200 bytes a match) is far larger than what the kernel buffers of a connection
 * whose reader has paused (the sender's buffer grows to 4 MiB at most): the SCP must block on it.
 */
const BIG_AE = 'FIND_US4';
const BIG = 60_000;
/** A clinic whose studies carry a Procedure Code Sequence (or not), for sequence matching (PS3.4 C.2.2.2.6). */
const SEQ_AE = 'FIND_US5';
const STUDY_ROOT_FIND = '1.2.840.10008.5.1.4.1.2.2.1';
const IMPLICIT_LE = '1.2.840.10008.1.2';

/** Study g of the many-studies clinic, as the SQL below writes it. */
function bulkStudy(g: number): Record<string, string> {
  return {
    StudyInstanceUID: `2.25.7700${g}`,
    PatientName: `赵^磊${g}`,
    PatientID: `BULK-${g % 97}`,
    StudyDate: new Date(Date.UTC(2020, 0, 1 + (g % 1000))).toISOString().slice(0, 10).replace(/-/g, ''),
    AccessionNumber: `BA${g}`,
    StudyDescription: g % 2 === 0 ? 'US Thyroid' : 'US Breast',
    ModalitiesInStudy: 'US',
  };
}

const sender = (id: string, ae: string): Sender => ({ clinicId: id, actor: { username: `ae:${ae}`, role: 'device', clinicId: id }, sourceIp: null, via: 'DIMSE' });

const dcmtk = (tool: string, args: string[]): Promise<DcmtkRun> => runDcmtk(tool, args, 30_000);

/** The responses of findscu -Xs (dcmtk's XML): one map of keyword -> text per pending response. */
function parseResponses(xml: string): Record<string, string>[] {
  const sets = xml.split('<data-set').slice(1);
  return sets.map((set) => {
    const out: Record<string, string> = {};
    for (const m of set.matchAll(/<element tag="[0-9a-f,]+" vr="\w\w" vm="\d+" len="\d+" name="(\w+)"[^>]*>([^<]*)<\/element>/g)) {
      out[m[1] ?? ''] = (m[2] ?? '').replace(/&amp;/g, '&').replace(/&lt;/g, '<').replace(/&gt;/g, '>');
    }
    return out;
  });
}

/** The items of one sequence in each findscu -Xs data set (null: the data set has no such sequence). */
function sequenceItems(xml: string, name: string): (Record<string, string>[] | null)[] {
  return xml.split('<data-set').slice(1).map((set) => {
    const sequence = new RegExp(`<sequence [^>]*name="${name}"[^>]*>([\\s\\S]*?)</sequence>`).exec(set);
    if (sequence === null) return null;
    return [...(sequence[1] ?? '').matchAll(/<item[^>]*>([\s\S]*?)<\/item>/g)].map((item) => {
      const out: Record<string, string> = {};
      for (const m of (item[1] ?? '').matchAll(/<element [^>]*name="(\w+)"[^>]*>([^<]*)<\/element>/g)) out[m[1] ?? ''] = m[2] ?? '';
      return out;
    });
  });
}

const dcmtkMissing = findExecutable('findscu') === null ? 'dcmtk (findscu) not installed' : null;

describeUnless(dcmtkMissing, 'C-FIND SCP with dcmtk findscu', () => {
  let catalog: TestCatalog;
  let storage: TempFsTargets;
  let server: DimseServer;
  let defaultCap: DimseServer;
  let uncapped: DimseServer;
  let impatient: DimseServer;
  let bigClinicId: string;
  let dir: string;
  let clinicId: string;
  let otherClinicId: string;
  let pipeline: IngestPipeline;
  const wang = makeStudy(2, { patientName: 'Wang^Xiaoming', patientId: 'P-100', studyDate: '20240110', studyTime: '093000', accessionNumber: 'ACC-1', modality: 'US', studyDescription: 'Thyroid' });
  const wang2 = makeStudy(1, { patientName: 'Wang^Xiaoming', patientId: 'P-100', studyDate: '20250301', studyTime: '150000', accessionNumber: 'ACC-2', modality: 'US', studyDescription: 'Breast' });
  const li = makeStudy(3, { patientName: '李^娜', patientId: 'P-200', studyDate: '20240620', modality: 'US', charset: 'GB18030', studyDescription: 'Abdomen' });
  const other = makeStudy(1, { patientName: 'Wang^Other', patientId: 'P-900', studyDate: '20240110', modality: 'US' });
  const thyroidCode = { CodeValue: 'US-THY', CodingSchemeDesignator: '99YY', CodeMeaning: 'US Thyroid' };
  const neckCode = { CodeValue: 'US-NECK', CodingSchemeDesignator: '99YY', CodeMeaning: 'US Neck lymph nodes' };
  const coded = makeStudy(2, { patientName: 'Zhou^Coded', patientId: 'P-500', modality: 'US', extra: { ProcedureCodeSequence: [thyroidCode, neckCode] } });
  const uncoded = makeStudy(1, { patientName: 'Zhou^Uncoded', patientId: 'P-501', modality: 'US' });

  const find = async (ae: string, model: '-P' | '-S', keys: string[], extra: string[] = [], port = server.port): Promise<{ run: DcmtkRun; matches: Record<string, string>[] }> => {
    const xml = path.join(dir, `rsp-${Math.random().toString(36).slice(2)}.xml`);
    const args = ['-v', model, '-aet', ae, '-aec', 'YUNYING', ...extra, '-Xs', xml, ...keys.flatMap((k) => ['-k', k]), '127.0.0.1', String(port)];
    const run = await dcmtk("findscu", args);
    if (process.env.FIND_DEBUG) console.log(run.output);
    const text = await fs.readFile(xml, 'utf8').catch(() => '');
    return { run, matches: parseResponses(text) };
  };

  beforeAll(async () => {
    catalog = await createTestCatalog('dimse_find');
    storage = await tempFsTargets();
    dir = await fs.mkdtemp(path.join(os.tmpdir(), 'yunying-find-'));
    clinicId = (await catalog.pool.query<{ id: string }>("INSERT INTO clinics (code, name, dimse_auth) VALUES ('find-1', 'one', 'ae_only') RETURNING id")).rows[0]!.id;
    otherClinicId = (await catalog.pool.query<{ id: string }>("INSERT INTO clinics (code, name, dimse_auth) VALUES ('find-2', 'two', 'ae_only') RETURNING id")).rows[0]!.id;
    await catalog.pool.query('INSERT INTO clinic_ae_titles (ae_title, clinic_id) VALUES ($1, $2), ($3, $4)', [AE, clinicId, OTHER_AE, otherClinicId]);
    const manyClinicId = (await catalog.pool.query<{ id: string }>("INSERT INTO clinics (code, name, dimse_auth) VALUES ('find-3', 'three', 'ae_only') RETURNING id")).rows[0]!.id;
    await catalog.pool.query('INSERT INTO clinic_ae_titles (ae_title, clinic_id) VALUES ($1, $2)', [MANY_AE, manyClinicId]);
    const logger = createLogger({ level: process.env.FIND_DEBUG ? 'debug' : 'silent', service: 'find-test' });
    pipeline = new IngestPipeline({ pool: catalog.pool, store: new ReplicatedStore({ targets: storage.targets }), logger, metrics: new Registry(), parseLimits: {}, retentionMinYears: 15 });
    // The studies arrive through the real write path, as a modality's C-STOREs would.
    for (const study of [wang, wang2, li]) for (const file of study.files) expect((await pipeline.ingest(file, sender(clinicId, AE))).status).toBe('stored');
    for (const file of other.files) expect((await pipeline.ingest(file, sender(otherClinicId, OTHER_AE))).status).toBe('stored');
    const seqClinicId = (await catalog.pool.query<{ id: string }>("INSERT INTO clinics (code, name, dimse_auth) VALUES ('find-5', 'five', 'ae_only') RETURNING id")).rows[0]!.id;
    await catalog.pool.query('INSERT INTO clinic_ae_titles (ae_title, clinic_id) VALUES ($1, $2)', [SEQ_AE, seqClinicId]);
    for (const study of [coded, uncoded]) for (const file of study.files) expect((await pipeline.ingest(file, sender(seqClinicId, SEQ_AE))).status).toBe('stored');
    await catalog.pool.query(
      `WITH p AS (INSERT INTO patients (clinic_id, patient_key, patient_id, patient_name) VALUES ($1, 'id:BULK', 'BULK', 'BULK') RETURNING id)
       INSERT INTO studies (clinic_id, patient_ref, study_instance_uid, patient_name, patient_id, study_date, accession_number, study_description, modalities, retain_until)
       SELECT $1, p.id, '2.25.7700' || g, '赵^磊' || g, 'BULK-' || (g % 97), to_char(date '2020-01-01' + (g % 1000), 'YYYYMMDD'), 'BA' || g,
              CASE WHEN g % 2 = 0 THEN 'US Thyroid' ELSE 'US Breast' END, '{US}', now() + interval '15 years'
         FROM p, generate_series(0, $2::int - 1) g`,
      [manyClinicId, MANY],
    );
    bigClinicId = (await catalog.pool.query<{ id: string }>("INSERT INTO clinics (code, name, dimse_auth) VALUES ('find-4', 'four', 'ae_only') RETURNING id")).rows[0]!.id;
    await catalog.pool.query('INSERT INTO clinic_ae_titles (ae_title, clinic_id) VALUES ($1, $2)', [BIG_AE, bigClinicId]);
    await catalog.pool.query(
      `WITH p AS (INSERT INTO patients (clinic_id, patient_key, patient_id, patient_name) VALUES ($1, 'id:BIG', 'BIG', 'BIG') RETURNING id)
       INSERT INTO studies (clinic_id, patient_ref, study_instance_uid, patient_name, patient_id, study_date, accession_number, study_description, modalities, retain_until)
       SELECT $1, p.id, '2.25.7800' || g, 'Big^Patient' || g, 'BIG', '20240101', 'BIG' || g, 'US Thyroid and neck', '{US}', now() + interval '15 years'
         FROM p, generate_series(0, $2::int - 1) g`,
      [bigClinicId, BIG],
    );
    const start = (settings: { maxFindResults?: number; pduTimeoutMs?: number } = {}): Promise<DimseServer> =>
      startDimseServer({ host: '127.0.0.1', port: 0, aeTitle: 'YUNYING', checkCalledAe: false, pool: catalog.pool, pipeline, logger, metrics: new Registry(), ...settings });
    server = await start({ maxFindResults: MAX_RESULTS });
    defaultCap = await start();
    uncapped = await start({ maxFindResults: MANY + 1 });
    impatient = await start({ maxFindResults: BIG + 1, pduTimeoutMs: 1500 });
  });

  afterAll(async () => {
    await server?.close();
    await defaultCap?.close();
    await uncapped?.close();
    await impatient?.close();
    await storage?.cleanup();
    await catalog?.drop();
    if (dir) await fs.rm(dir, { recursive: true, force: true });
  });

  it('Study Root STUDY level: wildcard name, only the calling clinic, return keys filled', async () => {
    const { run, matches } = await find(AE, '-S', ['QueryRetrieveLevel=STUDY', 'PatientName=wang*', 'StudyInstanceUID', 'StudyDate', 'AccessionNumber', 'ModalitiesInStudy', 'NumberOfStudyRelatedInstances']);
    expect(run.code).toBe(0);
    expect(matches.map((m) => m.StudyInstanceUID).sort()).toEqual([wang.studyInstanceUid, wang2.studyInstanceUid].sort());
    const first = matches.find((m) => m.StudyInstanceUID === wang.studyInstanceUid);
    expect(first).toMatchObject({ PatientName: 'Wang^Xiaoming', StudyDate: '20240110', AccessionNumber: 'ACC-1', ModalitiesInStudy: 'US', NumberOfStudyRelatedInstances: '2' });
    // The other clinic's Wang^Other is never seen by this AE, and the other AE sees only its own.
    const seenByOther = await find(OTHER_AE, '-S', ['QueryRetrieveLevel=STUDY', 'PatientName=Wang*', 'StudyInstanceUID']);
    expect(seenByOther.matches.map((m) => m.StudyInstanceUID)).toEqual([other.studyInstanceUid]);
  });

  it('matches date ranges, time ranges, lists of UIDs and single values', async () => {
    const range = await find(AE, '-S', ['QueryRetrieveLevel=STUDY', 'StudyDate=20240101-20241231', 'StudyInstanceUID']);
    expect(range.matches.map((m) => m.StudyInstanceUID).sort()).toEqual([wang.studyInstanceUid, li.studyInstanceUid].sort());
    const openEnded = await find(AE, '-S', ['QueryRetrieveLevel=STUDY', 'StudyDate=20250101-', 'StudyInstanceUID']);
    expect(openEnded.matches.map((m) => m.StudyInstanceUID)).toEqual([wang2.studyInstanceUid]);
    // 09:30 and 10:15 (li's default) are in 09-10 (a partial time covers its whole hour); 15:00 is not.
    const time = await find(AE, '-S', ['QueryRetrieveLevel=STUDY', 'StudyTime=09-10', 'StudyInstanceUID']);
    expect(time.matches.map((m) => m.StudyInstanceUID).sort()).toEqual([wang.studyInstanceUid, li.studyInstanceUid].sort());
    const before = await find(AE, '-S', ['QueryRetrieveLevel=STUDY', 'StudyTime=-0959', 'StudyInstanceUID']);
    expect(before.matches.map((m) => m.StudyInstanceUID)).toEqual([wang.studyInstanceUid]);
    const list = await find(AE, '-S', ['QueryRetrieveLevel=STUDY', `StudyInstanceUID=${wang2.studyInstanceUid}\\${li.studyInstanceUid}\\${other.studyInstanceUid}`]);
    expect(list.matches.map((m) => m.StudyInstanceUID).sort()).toEqual([wang2.studyInstanceUid, li.studyInstanceUid].sort());
    const single = await find(AE, '-S', ['QueryRetrieveLevel=STUDY', 'AccessionNumber=ACC-2', 'StudyInstanceUID']);
    expect(single.matches.map((m) => m.StudyInstanceUID)).toEqual([wang2.studyInstanceUid]);
  });

  it('answers names stored in GB18030 in UTF-8 (ISO_IR 192)', async () => {
    const { matches } = await find(AE, '-S', ['QueryRetrieveLevel=STUDY', 'PatientID=P-200', 'PatientName', 'SpecificCharacterSet']);
    expect(matches).toHaveLength(1);
    expect(matches[0]).toMatchObject({ SpecificCharacterSet: 'ISO_IR 192', PatientName: '李^娜' });
  });

  it('Patient Root: PATIENT, STUDY, SERIES and IMAGE levels', async () => {
    const patients = await find(AE, '-P', ['QueryRetrieveLevel=PATIENT', 'PatientID=P-100', 'PatientName', 'NumberOfPatientRelatedStudies'], ['-d']);
    // PS3.7 9.1.2.1: the responses name the request's SOP class (dcmjs-dimse wrote Study Root in every one).
    const named = [...patients.run.output.matchAll(/Affected SOP Class UID\s*:\s*(\S+)/g)].map((m) => m[1]);
    expect(named.length).toBeGreaterThanOrEqual(3);
    expect(new Set(named)).toEqual(new Set(['FINDPatientRootQueryRetrieveInformationModel']));
    expect(patients.matches).toEqual([expect.objectContaining({ PatientID: 'P-100', PatientName: 'Wang^Xiaoming', NumberOfPatientRelatedStudies: '2' })]);
    const studies = await find(AE, '-P', ['QueryRetrieveLevel=STUDY', 'PatientID=P-100', 'StudyDescription=Thy*', 'StudyInstanceUID']);
    expect(studies.matches.map((m) => m.StudyInstanceUID)).toEqual([wang.studyInstanceUid]);
    const series = await find(AE, '-P', ['QueryRetrieveLevel=SERIES', 'PatientID=P-100', `StudyInstanceUID=${wang.studyInstanceUid}`, 'SeriesInstanceUID', 'Modality', 'NumberOfSeriesRelatedInstances']);
    expect(series.matches).toEqual([expect.objectContaining({ SeriesInstanceUID: wang.seriesInstanceUid, Modality: 'US', NumberOfSeriesRelatedInstances: '2' })]);
    const images = await find(AE, '-P', ['QueryRetrieveLevel=IMAGE', `StudyInstanceUID=${li.studyInstanceUid}`, `SeriesInstanceUID=${li.seriesInstanceUid}`, 'SOPInstanceUID', 'InstanceNumber']);
    expect(images.matches.map((m) => m.SOPInstanceUID)).toEqual(li.sopInstanceUids);
    expect(images.matches.map((m) => m.InstanceNumber)).toEqual(['1', '2', '3']);
  });

  it('a disposed study (its tombstone) is found at no level; its patient while a live study remains, then forgotten', async () => {
    const older = makeStudy(2, { patientName: 'Sun^Returning', patientId: 'P-300', studyDate: '20100105', modality: 'US', studyDescription: 'Thyroid' });
    const newer = makeStudy(1, { patientName: 'Sun^Returning', patientId: 'P-300', studyDate: '20250105', modality: 'US', studyDescription: 'Thyroid' });
    for (const study of [older, newer]) for (const file of study.files) expect((await pipeline.ingest(file, sender(clinicId, AE))).status).toBe('stored');
    /** The keeper's tombstone for a study, as an executed disposal request writes it. */
    const dispose = async (studyInstanceUid: string): Promise<boolean> =>
      inTransaction(catalog.pool, async (client) => {
        const study = await client.query<{ id: string }>('SELECT id FROM studies WHERE study_instance_uid = $1', [studyInstanceUid]);
        const studyRef = study.rows[0]!.id;
        const request = await client.query<{ id: string }>("INSERT INTO disposal_requests (study_ref, reason, status) VALUES ($1, 'retention expired', 'approved') RETURNING id", [studyRef]);
        return (await writeTombstone(client, studyRef, request.rows[0]!.id)).patientForgotten;
      });
    const studiesOfP300 = async (level: 'STUDY' | 'SERIES' | 'IMAGE'): Promise<string[]> =>
      (await find(AE, '-P', [`QueryRetrieveLevel=${level}`, 'PatientID=P-300', 'StudyInstanceUID'])).matches.map((m) => m.StudyInstanceUID ?? '').sort();
    const patientP300 = async (): Promise<Record<string, string>[]> => (await find(AE, '-P', ['QueryRetrieveLevel=PATIENT', 'PatientID=P-3*', 'PatientName', 'NumberOfPatientRelatedStudies'])).matches;

    expect(await patientP300()).toEqual([expect.objectContaining({ PatientID: 'P-300', PatientName: 'Sun^Returning', NumberOfPatientRelatedStudies: '2' })]);
    // The older study's retention ended: its tombstone is no match at any level, by attributes or by UID.
    expect(await dispose(older.studyInstanceUid)).toBe(false);
    expect(await studiesOfP300('STUDY')).toEqual([newer.studyInstanceUid]);
    expect(await studiesOfP300('IMAGE')).toEqual([newer.studyInstanceUid]);
    const byUid = await find(AE, '-S', ['QueryRetrieveLevel=STUDY', `StudyInstanceUID=${older.studyInstanceUid}`, 'StudyDate']);
    expect(byUid.run.code).toBe(0);
    expect(byUid.matches).toEqual([]);
    expect((await find(AE, '-S', ['QueryRetrieveLevel=STUDY', 'StudyDate=20100101-20101231', 'StudyInstanceUID'])).matches).toEqual([]);
    // The returning client is still a patient, with one study now.
    expect(await patientP300()).toEqual([expect.objectContaining({ PatientID: 'P-300', PatientName: 'Sun^Returning', NumberOfPatientRelatedStudies: '1' })]);

    // The last study goes too: the patient is forgotten (no row names them), and listed nowhere.
    expect(await dispose(newer.studyInstanceUid)).toBe(true);
    expect(await patientP300()).toEqual([]);
    expect(await studiesOfP300('STUDY')).toEqual([]);
    const named = await catalog.pool.query("SELECT 1 FROM patients WHERE patient_id = 'P-300' OR patient_name LIKE 'Sun%' OR patient_key LIKE '%P-300%'");
    expect(named.rowCount).toBe(0);
    // The same PatientID arriving later is a new patient row with its own study.
    const later = makeStudy(1, { patientName: 'Sun^Returning', patientId: 'P-300', studyDate: '20260105', modality: 'US' });
    expect((await pipeline.ingest(later.files[0]!, sender(clinicId, AE))).status).toBe('stored');
    expect(await patientP300()).toEqual([expect.objectContaining({ PatientID: 'P-300', NumberOfPatientRelatedStudies: '1' })]);
    expect(await studiesOfP300('STUDY')).toEqual([later.studyInstanceUid]);
  });

  it('Study Root IMAGE level of another clinic finds nothing', async () => {
    const { run, matches } = await find(AE, '-S', ['QueryRetrieveLevel=IMAGE', `StudyInstanceUID=${other.studyInstanceUid}`, 'SOPInstanceUID']);
    expect(run.code).toBe(0);
    expect(matches).toEqual([]);
  });

  it('refuses the PATIENT level in Study Root and a bad range with 0xA900', async () => {
    const patient = await find(AE, '-S', ['QueryRetrieveLevel=PATIENT', 'PatientID']);
    expect(patient.matches).toEqual([]);
    expect(patient.run.output).toMatch(/DataSetDoesNotMatchSOPClass/);
    const badDate = await find(AE, '-S', ['QueryRetrieveLevel=STUDY', 'StudyDate=2024-01-01', 'StudyInstanceUID']);
    expect(badDate.run.output).toMatch(/DataSetDoesNotMatchSOPClass/);
  });

  it('stops at the result cap with 0xA700 and a comment', async () => {
    const { matches, run } = await find(AE, '-S', ['QueryRetrieveLevel=IMAGE', 'SOPInstanceUID'], ['-d']);
    expect(matches).toHaveLength(MAX_RESULTS);
    expect(run.output).toMatch(/Status\s*: 0xa700/);
    expect(run.output).toMatch(/More than 5 matches/);
  });

  it('sends all 1000 matches at the default cap, each with its own attributes in UTF-8, then 0xA700', async () => {
    const keys = ['QueryRetrieveLevel=STUDY', 'SpecificCharacterSet', ...Object.keys(bulkStudy(0))];
    const { run, matches } = await find(MANY_AE, '-S', keys, [], defaultCap.port);
    expect(run.code).toBe(0);
    expect(run.output).toMatch(/Final Find Response \(Refused: OutOfResources/);
    expect(matches).toHaveLength(DEFAULT_CAP);
    const uids = new Set(matches.map((m) => m.StudyInstanceUID));
    expect(uids.size).toBe(DEFAULT_CAP);
    for (const { QueryRetrieveLevel, ...attributes } of matches) {
      expect(QueryRetrieveLevel).toBe('STUDY');
      const g = Number((attributes.StudyInstanceUID ?? '').slice('2.25.7700'.length));
      expect(attributes).toEqual({ ...bulkStudy(g), SpecificCharacterSet: 'ISO_IR 192' });
    }
  });

  it('honours C-CANCEL mid-stream: fewer responses, final status Cancel, audited', async () => {
    // 20,000 matches and no cap in reach: findscu cancels after the first response, the SCP stops mid-stream.
    const { matches, run } = await find(MANY_AE, '-S', ['QueryRetrieveLevel=STUDY', 'StudyInstanceUID'], ['--cancel', '1'], uncapped.port);
    expect(matches.length).toBeGreaterThanOrEqual(1);
    expect(matches.length).toBeLessThan(MANY);
    if (process.env.FIND_DEBUG) console.log(`cancelled after ${matches.length} of ${MANY}`);
    expect(run.output).toMatch(/Final Find Response \(Cancel/);
    const audit = await catalog.pool.query<{ details: { status: string; matches: number } }>("SELECT details FROM audit_events WHERE event_type = 'Query' AND details->>'status' = '0xFE00'");
    expect(audit.rows.length).toBe(1);
    expect(audit.rows[0]?.details.matches).toBeLessThan(MANY);
  });

  it('a peer that stops reading: the SCP stops at the full socket, then cancels and aborts after the PDU timeout', async () => {
    const scu = await RawScu.connect(impatient.port);
    const { accepted } = await scu.associate(BIG_AE, 'YUNYING', [{ id: 1, abstractSyntaxUid: STUDY_ROOT_FIND, transferSyntaxUids: [IMPLICIT_LE] }]);
    expect(accepted.get(1)).toBe(IMPLICIT_LE);
    scu.socket.pause();
    scu.send(pData(1, cFindCommand({ messageId: 1, sopClassUid: STUDY_ROOT_FIND }), true, true));
    // QueryRetrieveLevel, AccessionNumber, StudyDescription, PatientName, PatientID, StudyInstanceUID.
    const identifier = implicitIdentifier([[0x00080052, 'STUDY'], [0x00080050, ''], [0x00081030, ''], [0x00100010, ''], [0x00100020, ''], [0x0020000d, '']]);
    scu.send(pData(1, identifier, false, true));
    const audited = await waitFor('the C-FIND of the paused peer to end', async () => {
      const { rows } = await catalog.pool.query<{ details: { status: string; matches: number } }>("SELECT details FROM audit_events WHERE event_type = 'Query' AND clinic_id = $1", [bigClinicId]);
      return rows[0];
    }, 60_000);
    // The handler was cancelled with a bounded part of the answer written, not run to the end into memory.
    expect(audited.details.status).toBe('0xFE00');
    expect(audited.details.matches).toBeLessThan(BIG);
    scu.socket.resume();
    let pending = 0;
    let final = false;
    for (let next = await scu.next(); next !== null; next = await scu.next()) {
      if (next.type !== 0x04 || (next.body.readUInt8(5) & 0x01) === 0) continue;
      if (statusOf(next) === 0xff00) pending += 1;
      else final = true;
    }
    expect(pending).toBeGreaterThan(0);
    expect(pending).toBeLessThanOrEqual(audited.details.matches);
    expect(final).toBe(false);
  });

  describe('sequence matching (PS3.4 C.2.2.2.6), from the DICOM JSON of the catalog', () => {
    const findXml = async (keys: string[]): Promise<{ run: DcmtkRun; xml: string }> => {
      const xml = path.join(dir, `seq-${Math.random().toString(36).slice(2)}.xml`);
      const run = await dcmtk('findscu', ['-v', '-S', '-aet', SEQ_AE, '-aec', 'YUNYING', '-Xs', xml, ...keys.flatMap((k) => ['-k', k]), '127.0.0.1', String(defaultCap.port)]);
      if (process.env.FIND_DEBUG) console.log(run.output);
      return { run, xml: await fs.readFile(xml, 'utf8').catch(() => '') };
    };

    it('an empty sequence key (no item, or an empty item) matches every study and returns the whole sequence; a study without it gets it empty', async () => {
      for (const key of ['ProcedureCodeSequence', 'ProcedureCodeSequence[0]']) {
        const { run, xml } = await findXml(['QueryRetrieveLevel=STUDY', 'StudyInstanceUID', key]);
        expect(parseResponses(xml).map((m) => m.StudyInstanceUID)).toEqual([coded.studyInstanceUid, uncoded.studyInstanceUid]);
        expect(sequenceItems(xml, 'ProcedureCodeSequence')).toEqual([[thyroidCode, neckCode], []]);
        // Answered, not "optional keys not supported" (0xFF01).
        expect(run.output).not.toMatch(/0xff01|Optional Keys Not Supported/i);
      }
    });

    it('universal item keys match every study and return only those item attributes', async () => {
      const { xml } = await findXml(['QueryRetrieveLevel=STUDY', 'StudyInstanceUID', 'ProcedureCodeSequence[0].CodeValue', 'ProcedureCodeSequence[0].CodeMeaning']);
      expect(sequenceItems(xml, 'ProcedureCodeSequence')).toEqual([
        [{ CodeValue: 'US-THY', CodeMeaning: 'US Thyroid' }, { CodeValue: 'US-NECK', CodeMeaning: 'US Neck lymph nodes' }],
        [],
      ]);
    });

    it('item keys with values: a study matches when one item matches them all, and only the matching items come back', async () => {
      const single = await findXml(['QueryRetrieveLevel=STUDY', 'StudyInstanceUID', 'ProcedureCodeSequence[0].CodeValue=US-NECK', 'ProcedureCodeSequence[0].CodingSchemeDesignator=99YY', 'ProcedureCodeSequence[0].CodeMeaning']);
      expect(parseResponses(single.xml).map((m) => m.StudyInstanceUID)).toEqual([coded.studyInstanceUid]);
      expect(sequenceItems(single.xml, 'ProcedureCodeSequence')).toEqual([[{ CodeValue: 'US-NECK', CodingSchemeDesignator: '99YY', CodeMeaning: 'US Neck lymph nodes' }]]);
      const wildcard = await findXml(['QueryRetrieveLevel=STUDY', 'StudyInstanceUID', 'ProcedureCodeSequence[0].CodeMeaning=*Thyroid*']);
      expect(sequenceItems(wildcard.xml, 'ProcedureCodeSequence')).toEqual([[{ CodeMeaning: 'US Thyroid' }]]);
      // Items are matched one by one: no item has both this value and that meaning.
      const crossed = await findXml(['QueryRetrieveLevel=STUDY', 'StudyInstanceUID', 'ProcedureCodeSequence[0].CodeValue=US-THY', 'ProcedureCodeSequence[0].CodeMeaning=*Neck*']);
      expect(parseResponses(crossed.xml)).toEqual([]);
    });

    it('a match with a sequence (written by dcmjs, not the flat encoder) keeps names and UTF-8 intact', async () => {
      const { xml } = await findXml(['QueryRetrieveLevel=STUDY', 'PatientName', 'PatientID=P-500', 'StudyDate', 'ProcedureCodeSequence[0].CodeValue=US-THY']);
      expect(parseResponses(xml)).toEqual([expect.objectContaining({ PatientName: 'Zhou^Coded', PatientID: 'P-500', StudyDate: '20240102', SpecificCharacterSet: 'ISO_IR 192' })]);
      // A name received in GB18030 comes back in UTF-8 beside an (empty) sequence.
      const xmlPath = path.join(dir, `seq-utf8-${Math.random().toString(36).slice(2)}.xml`);
      await dcmtk('findscu', ['-S', '-aet', AE, '-aec', 'YUNYING', '-Xs', xmlPath, '-k', 'QueryRetrieveLevel=STUDY', '-k', 'PatientID=P-200', '-k', 'PatientName', '-k', 'ProcedureCodeSequence', '127.0.0.1', String(defaultCap.port)]);
      const utf8 = await fs.readFile(xmlPath, 'utf8');
      expect(parseResponses(utf8)).toEqual([expect.objectContaining({ PatientName: '李^娜' })]);
      expect(sequenceItems(utf8, 'ProcedureCodeSequence')).toEqual([[]]);
    });

    it('SERIES and IMAGE levels read the sequence of the series / the instance itself', async () => {
      const series = await findXml(['QueryRetrieveLevel=SERIES', `StudyInstanceUID=${coded.studyInstanceUid}`, 'SeriesInstanceUID', 'ProcedureCodeSequence[0].CodeValue=US-THY']);
      expect(parseResponses(series.xml).map((m) => m.SeriesInstanceUID)).toEqual([coded.seriesInstanceUid]);
      const images = await findXml(['QueryRetrieveLevel=IMAGE', `StudyInstanceUID=${coded.studyInstanceUid}`, `SeriesInstanceUID=${coded.seriesInstanceUid}`, 'SOPInstanceUID', 'ProcedureCodeSequence[0].CodeValue']);
      expect(parseResponses(images.xml).map((m) => m.SOPInstanceUID)).toEqual(coded.sopInstanceUids);
      expect(sequenceItems(images.xml, 'ProcedureCodeSequence')).toEqual([[{ CodeValue: 'US-THY' }, { CodeValue: 'US-NECK' }], [{ CodeValue: 'US-THY' }, { CodeValue: 'US-NECK' }]]);
      const none = await findXml(['QueryRetrieveLevel=IMAGE', `StudyInstanceUID=${uncoded.studyInstanceUid}`, `SeriesInstanceUID=${uncoded.seriesInstanceUid}`, 'SOPInstanceUID', 'ProcedureCodeSequence[0].CodeValue=US-THY']);
      expect(parseResponses(none.xml)).toEqual([]);
    });
  });

  it('audits every query with the match keys and the study UIDs returned, never the values', async () => {
    await find(AE, '-S', ['QueryRetrieveLevel=STUDY', 'PatientName=Wang^Xiaoming', 'StudyInstanceUID']);
    const audit = await catalog.pool.query<{ actor_username: string; clinic_id: string; details: Record<string, unknown> }>(
      "SELECT actor_username, clinic_id, details FROM audit_events WHERE event_type = 'Query' ORDER BY seq DESC LIMIT 1",
    );
    const record = audit.rows[0]!;
    expect(record).toMatchObject({ actor_username: `ae:${AE}`, clinic_id: clinicId });
    expect(record.details).toMatchObject({ via: 'DIMSE', model: 'study_root', level: 'STUDY', matchKeys: ['PatientName'], matches: 2, status: '0x0000' });
    expect((record.details.studyInstanceUids as string[]).sort()).toEqual([wang.studyInstanceUid, wang2.studyInstanceUid].sort());
    expect(JSON.stringify(record)).not.toMatch(/Xiaoming/);
  });
});
