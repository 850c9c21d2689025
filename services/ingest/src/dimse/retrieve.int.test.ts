import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { Registry } from 'prom-client';
import { Client, Dataset, constants, requests, responses } from 'dcmjs-dimse';
import { createLogger } from '@yunying/core';
import { createTestCatalog, type TestCatalog } from '@yunying/catalog/testing';
import { TransferSyntax } from '@yunying/dicom';
import { makeStudy, type Study } from '@yunying/dicom/testing';
import { splitPart10 } from '@yunying/dimse';
import { ReplicatedStore } from '@yunying/storage';
import { tempFsTargets, type TempFsTargets } from '@yunying/storage/testing';
import { describeUnless, findExecutable } from '../../../../test/support/skip';
import { IngestPipeline, type Sender } from '../ingest.pipeline';
import { startDimseServer, type DimseServer } from './index';
import { incomingAffectedSopClasses, runDcmtk, type DcmtkRun } from '@yunying/dimse/testing';

const AE = 'GET_US1';
const OTHER_AE = 'GET_US2';

const dcmtk = (tool: string, args: string[]): Promise<DcmtkRun> => runDcmtk(tool, args, 60_000);

/** What getscu wrote: SOP Instance UID -> the file taken apart. */
async function received(dir: string): Promise<Map<string, ReturnType<typeof splitPart10>>> {
  const out = new Map<string, ReturnType<typeof splitPart10>>();
  for (const name of await fs.readdir(dir)) {
    const parts = splitPart10(await fs.readFile(path.join(dir, name)));
    out.set(parts.sopInstanceUid, parts);
  }
  return out;
}

/** The counts of getscu's last C-GET-RSP, from its verbose log ("Completed Suboperations : 2"). */
function lastCount(output: string, label: 'Completed' | 'Failed' | 'Warning'): number | null {
  const all = [...output.matchAll(new RegExp(`${label} Suboperations\\s*:\\s*(\\d+)`, 'g'))];
  const last = all[all.length - 1];
  return last === undefined ? null : Number(last[1]);
}

interface DimseGet {
  statuses: number[];
  final: responses.CGetResponse;
  /** SOP Instance UID -> the transfer syntax it arrived in. */
  stored: Map<string, string>;
}

/**
 * A C-GET from dcmjs-dimse's Client, for what getscu cannot do or show: C-CANCEL after the first pending
 * response, the final response's dataset (Failed SOP Instance UID List), and storage contexts proposed
 * Implicit VR LE first (so Explicit VR LE instances are converted).
 */
function dimseGet(port: number, ae: string, studyInstanceUids: string[], cancelAfterFirstPending = false): Promise<DimseGet> {
  return new Promise((resolve, reject) => {
    const client = new Client();
    const request = new requests.CGetRequest();
    // A list as an array: dcmjs caps a single UI string at 64 characters.
    request.setDataset(new Dataset({ QueryRetrieveLevel: 'STUDY', StudyInstanceUID: studyInstanceUids }));
    const statuses: number[] = [];
    const stored = new Map<string, string>();
    let final: responses.CGetResponse | undefined;
    request.on('response', (response: responses.CGetResponse) => {
      statuses.push(response.getStatus());
      if (response.getStatus() === constants.Status.Pending) {
        if (cancelAfterFirstPending && statuses.length === 1) client.cancel(request);
      } else final = response;
    });
    client.on('cStoreRequest', (store: requests.CStoreRequest, callback: (response: responses.CStoreResponse) => void) => {
      stored.set(store.getAffectedSopInstanceUid(), store.getDataset()?.getTransferSyntaxUid() ?? '');
      const response = responses.CStoreResponse.fromRequest(store);
      response.setStatus(constants.Status.Success);
      callback(response);
    });
    client.on('networkError', (error: Error) => reject(error));
    client.on('closed', () => (final === undefined ? reject(new Error('no final C-GET-RSP')) : resolve({ statuses, final, stored })));
    client.addRequest(request);
    client.send('127.0.0.1', port, ae, 'YUNYING');
  });
}

const dcmtkMissing = findExecutable('getscu') === null ? 'dcmtk (getscu) not installed' : null;

describeUnless(dcmtkMissing, 'C-GET SCP with dcmtk getscu', () => {
  let catalog: TestCatalog;
  let storage: TempFsTargets;
  let server: DimseServer;
  let dir: string;
  let clinicId: string;
  let otherClinicId: string;
  const ct = makeStudy(3, { patientName: 'Zhang^San', patientId: 'P-300', modality: 'CT', seriesNumber: 1 });
  // 64 KiB of pixels each: more than getscu's 16 KiB maximum PDU, so each C-STORE spans several PDUs.
  const ctSecond = makeStudy(2, { patientName: 'Zhang^San', patientId: 'P-300', modality: 'CT', studyInstanceUid: ct.studyInstanceUid, seriesNumber: 2, rows: 256, columns: 256 });
  const jpeg = makeStudy(1, { patientName: 'Zhang^San', patientId: 'P-300', modality: 'US', transferSyntax: TransferSyntax.JPEGBaseline });
  const other = makeStudy(2, { patientName: 'Other^Clinic', patientId: 'P-900', modality: 'US' });
  // Another clinic's patient who happens to carry the same Patient ID (IDs are issued per clinic).
  const namesake = makeStudy(1, { patientName: 'Namesake^Elsewhere', patientId: 'P-300', modality: 'US' });
  const stored = new Map<string, Buffer>();
  const metrics = new Registry();

  const get = async (ae: string, model: '-P' | '-S', keys: string[], extra: string[] = []): Promise<{ run: DcmtkRun; files: Awaited<ReturnType<typeof received>> }> => {
    const out = await fs.mkdtemp(path.join(dir, 'get-'));
    const run = await dcmtk('getscu', [process.env.GET_DEBUG ? '-d' : '-v', model, '-aet', ae, '-aec', 'YUNYING', '-od', out, ...extra, ...keys.flatMap((k) => ['-k', k]), '127.0.0.1', String(server.port)]);
    if (process.env.GET_DEBUG) console.log(run.output);
    return { run, files: await received(out) };
  };

  const auditOf = async (type: string): Promise<Array<{ actor_username: string; study_instance_uid: string | null; details: Record<string, unknown> }>> =>
    (await catalog.pool.query<{ actor_username: string; study_instance_uid: string | null; details: Record<string, unknown> }>('SELECT actor_username, study_instance_uid, details FROM audit_events WHERE event_type = $1 ORDER BY seq', [type])).rows;

  beforeAll(async () => {
    catalog = await createTestCatalog('dimse_get');
    storage = await tempFsTargets();
    dir = await fs.mkdtemp(path.join(os.tmpdir(), 'yunying-get-'));
    clinicId = (await catalog.pool.query<{ id: string }>("INSERT INTO clinics (code, name, dimse_auth) VALUES ('get-1', 'one', 'ae_only') RETURNING id")).rows[0]!.id;
    otherClinicId = (await catalog.pool.query<{ id: string }>("INSERT INTO clinics (code, name, dimse_auth) VALUES ('get-2', 'two', 'ae_only') RETURNING id")).rows[0]!.id;
    await catalog.pool.query('INSERT INTO clinic_ae_titles (ae_title, clinic_id) VALUES ($1, $2), ($3, $4)', [AE, clinicId, OTHER_AE, otherClinicId]);
    const logger = createLogger({ level: process.env.GET_DEBUG ? 'debug' : 'silent', service: 'get-test' });
    const store = new ReplicatedStore({ targets: storage.targets });
    const pipeline = new IngestPipeline({ pool: catalog.pool, store, logger, metrics: new Registry(), parseLimits: {}, retentionMinYears: 15 });
    const sender = (id: string, ae: string): Sender => ({ clinicId: id, actor: { username: `ae:${ae}`, role: 'device', clinicId: id }, sourceIp: null, via: 'DIMSE' });
    const ingest = async (study: Study, id: string, ae: string): Promise<void> => {
      for (const [k, file] of study.files.entries()) {
        expect((await pipeline.ingest(file, sender(id, ae))).status).toBe('stored');
        stored.set(study.sopInstanceUids[k]!, file);
      }
    };
    await ingest(ct, clinicId, AE);
    await ingest(ctSecond, clinicId, AE);
    await ingest(jpeg, clinicId, AE);
    await ingest(other, otherClinicId, OTHER_AE);
    await ingest(namesake, otherClinicId, OTHER_AE);
    server = await startDimseServer({ host: '127.0.0.1', port: 0, aeTitle: 'YUNYING', checkCalledAe: false, pool: catalog.pool, pipeline, store, logger, metrics });
  });

  afterAll(async () => {
    await server?.close();
    await storage?.cleanup();
    await catalog?.drop();
    if (dir) await fs.rm(dir, { recursive: true, force: true });
  });

  it('Study Root STUDY level: every instance of both series comes back on the association, byte for byte', async () => {
    const { run, files } = await get(AE, '-S', ['QueryRetrieveLevel=STUDY', `StudyInstanceUID=${ct.studyInstanceUid}`]);
    expect(run.code).toBe(0);
    const expected = [...ct.sopInstanceUids, ...ctSecond.sopInstanceUids];
    expect([...files.keys()].sort()).toEqual([...expected].sort());
    for (const uid of expected) {
      const got = files.get(uid)!;
      const original = splitPart10(stored.get(uid)!);
      // Same transfer syntax (getscu accepts Explicit VR LE) and the same dataset bytes as stored.
      expect(got.transferSyntaxUid).toBe(TransferSyntax.ExplicitVRLittleEndian);
      expect(Buffer.compare(got.dataset, original.dataset)).toBe(0);
    }
    expect(lastCount(run.output, 'Completed')).toBe(5);
    expect(lastCount(run.output, 'Failed')).toBe(0);
  });

  it('Patient Root SERIES level: only that series (and Explicit VR LE even when the SCU lists Big Endian first)', async () => {
    const { run, files } = await get(AE, '-P', ['QueryRetrieveLevel=SERIES', 'PatientID=P-300', `StudyInstanceUID=${ct.studyInstanceUid}`, `SeriesInstanceUID=${ctSecond.seriesInstanceUid}`], ['+xb']);
    expect(run.code).toBe(0);
    expect([...files.keys()].sort()).toEqual([...ctSecond.sopInstanceUids].sort());
    for (const parts of files.values()) expect(parts.transferSyntaxUid).toBe(TransferSyntax.ExplicitVRLittleEndian);
    // A Patient ID that is not the study's matches nothing.
    const wrongPatient = await get(AE, '-P', ['QueryRetrieveLevel=SERIES', 'PatientID=P-999', `StudyInstanceUID=${ct.studyInstanceUid}`, `SeriesInstanceUID=${ctSecond.seriesInstanceUid}`]);
    expect(wrongPatient.files.size).toBe(0);
  });

  it("another clinic's study yields no sub-operation and no data, exactly like an unknown study", async () => {
    const { run, files } = await get(AE, '-S', ['QueryRetrieveLevel=STUDY', `StudyInstanceUID=${other.studyInstanceUid}`]);
    expect(files.size).toBe(0);
    expect(run.output).toMatch(/Received C-GET Response \(Success\)/);
    expect(lastCount(run.output, 'Completed')).toBe(0);
    expect(lastCount(run.output, 'Failed')).toBe(0);
    // The owner gets it.
    const owner = await get(OTHER_AE, '-S', ['QueryRetrieveLevel=STUDY', `StudyInstanceUID=${other.studyInstanceUid}`]);
    expect([...owner.files.keys()].sort()).toEqual([...other.sopInstanceUids].sort());
  });

  it('a stored JPEG the SCU did not accept is a failed sub-operation, listed; the rest still go', async () => {
    const { run, files } = await get(AE, '-S', ['QueryRetrieveLevel=STUDY', `StudyInstanceUID=${ct.studyInstanceUid}\\${jpeg.studyInstanceUid}`]);
    expect(files.size).toBe(5);
    expect(files.has(jpeg.sopInstanceUids[0]!)).toBe(false);
    expect(lastCount(run.output, 'Completed')).toBe(5);
    expect(lastCount(run.output, 'Failed')).toBe(1);
    // 0xB000; the Failed SOP Instance UID List (0008,0058) rides in the final response's dataset, which
    // getscu 3.6.7 does not read (it then complains at release), so the list is checked in the audit record.
    expect(run.output).toMatch(/SubOperationsCompleteOneOrMoreFailures/);
    const transferred = await auditOf('DICOM Instances Transferred');
    expect(transferred[transferred.length - 1]!.details).toMatchObject({ status: '0xB000', completed: 5, failed: 1, failedSopInstanceUids: [jpeg.sopInstanceUids[0]], reason: `Stored ${TransferSyntax.JPEGBaseline} not accepted; no transcoding` });
    // When the SCU proposes JPEG Baseline, the same instance goes out as stored.
    const withJpeg = await get(AE, '-S', ['QueryRetrieveLevel=STUDY', `StudyInstanceUID=${jpeg.studyInstanceUid}`], ['+xy']);
    const got = withJpeg.files.get(jpeg.sopInstanceUids[0]!);
    expect(got?.transferSyntaxUid).toBe(TransferSyntax.JPEGBaseline);
    expect(Buffer.compare(got!.dataset, splitPart10(stored.get(jpeg.sopInstanceUids[0]!)!).dataset)).toBe(0);
  });

  it("Patient Root PATIENT level: every study of the patient in the caller's clinic, none of another clinic's namesake", async () => {
    const { run, files } = await get(AE, '-P', ['QueryRetrieveLevel=PATIENT', 'PatientID=P-300']);
    // Both studies of P-300 here; the stored JPEG is refused by getscu's default contexts (one failure).
    expect([...files.keys()].sort()).toEqual([...ct.sopInstanceUids, ...ctSecond.sopInstanceUids].sort());
    expect(lastCount(run.output, 'Completed')).toBe(5);
    expect(lastCount(run.output, 'Failed')).toBe(1);
    expect(files.has(namesake.sopInstanceUids[0]!)).toBe(false);
    const begin = await auditOf('Begin Transferring DICOM Instances');
    expect(begin[begin.length - 1]!.details).toMatchObject({ operation: 'C-GET', model: 'patient_root', level: 'PATIENT', matches: 6 });
    expect([...(begin[begin.length - 1]!.details.studyInstanceUids as string[])].sort()).toEqual([ct.studyInstanceUid, jpeg.studyInstanceUid].sort());
    // The other clinic's device asking for the same Patient ID gets its own patient only.
    const elsewhere = await get(OTHER_AE, '-P', ['QueryRetrieveLevel=PATIENT', 'PatientID=P-300']);
    expect([...elsewhere.files.keys()]).toEqual(namesake.sopInstanceUids);
    expect(lastCount(elsewhere.run.output, 'Completed')).toBe(1);
    // A Patient ID nobody has: success with zero sub-operations.
    const nobody = await get(AE, '-P', ['QueryRetrieveLevel=PATIENT', 'PatientID=P-404']);
    expect(nobody.files.size).toBe(0);
    expect(nobody.run.output).toMatch(/Received C-GET Response \(Success\)/);
  });

  it("every C-GET-RSP, pending and final, names the request's SOP class (Patient Root here, not dcmjs-dimse's Study Root)", async () => {
    // -d: getscu prints the responses' command sets (Affected SOP Class UID) only in debug mode.
    const patientRoot = await get(AE, '-P', ['QueryRetrieveLevel=SERIES', 'PatientID=P-300', `StudyInstanceUID=${ct.studyInstanceUid}`, `SeriesInstanceUID=${ct.seriesInstanceUid}`], ['-d']);
    // ct has 3 instances: 3 pending responses and the final one.
    expect(incomingAffectedSopClasses(patientRoot.run.output, 'C-GET RSP')).toEqual(Array(4).fill('GETPatientRootQueryRetrieveInformationModel'));
    const studyRoot = await get(AE, '-S', ['QueryRetrieveLevel=SERIES', `StudyInstanceUID=${ct.studyInstanceUid}`, `SeriesInstanceUID=${ct.seriesInstanceUid}`], ['-d']);
    expect(incomingAffectedSopClasses(studyRoot.run.output, 'C-GET RSP')).toEqual(Array(4).fill('GETStudyRootQueryRetrieveInformationModel'));
    // A refusal (0xA900, no sub-operation) names it too.
    const refused = await get(AE, '-P', ['QueryRetrieveLevel=PATIENT', 'PatientID='], ['-d']);
    expect(incomingAffectedSopClasses(refused.run.output, 'C-GET RSP')).toEqual(['GETPatientRootQueryRetrieveInformationModel']);
  });

  it('PATIENT level without a Patient ID, or with a list of them, is refused with 0xA900', async () => {
    const none = await get(AE, '-P', ['QueryRetrieveLevel=PATIENT', 'PatientID=']);
    expect(none.files.size).toBe(0);
    expect(none.run.output).toMatch(/DataSetDoesNotMatchSOPClass/);
    const list = await get(AE, '-P', ['QueryRetrieveLevel=PATIENT', 'PatientID=P-300\\P-900']);
    expect(list.files.size).toBe(0);
    expect(list.run.output).toMatch(/DataSetDoesNotMatchSOPClass/);
  });

  it('a malformed identifier is refused with 0xA900 and no sub-operation (PATIENT level is not in Study Root)', async () => {
    const { run, files } = await get(AE, '-S', ['QueryRetrieveLevel=PATIENT', 'PatientID=P-300']);
    expect(files.size).toBe(0);
    expect(run.output).toMatch(/DataSetDoesNotMatchSOPClass/);
  });

  it('audits Begin Transferring and Instances Transferred with study UIDs and counts, never patient data', async () => {
    const begin = await auditOf('Begin Transferring DICOM Instances');
    const done = await auditOf('DICOM Instances Transferred');
    const studyGet = done.find((r) => r.study_instance_uid === ct.studyInstanceUid && r.details.completed === 5);
    expect(studyGet).toBeDefined();
    expect(studyGet!.actor_username).toBe(`ae:${AE}`);
    expect(studyGet!.details).toMatchObject({ via: 'DIMSE', operation: 'C-GET', model: 'study_root', level: 'STUDY', failed: 0, studyInstanceUids: [ct.studyInstanceUid] });
    expect(begin.some((r) => r.study_instance_uid === ct.studyInstanceUid && r.details.matches === 5)).toBe(true);
    // The cross-clinic attempt is recorded with nothing matched and no study named.
    expect(begin.some((r) => r.actor_username === `ae:${AE}` && r.details.matches === 0)).toBe(true);
    const counted = await metrics.getSingleMetricAsString('yunying_dimse_suboperations_total');
    expect(counted).toMatch(/yunying_dimse_suboperations_total\{operation="get",outcome="completed"\} [1-9]/);
    expect(await metrics.getSingleMetricAsString('yunying_dimse_retrieve_total')).toMatch(/operation="get",status="0xB000"/);
    const text = JSON.stringify([...begin, ...done]);
    for (const phi of ['Zhang', 'P-300', 'Other^Clinic', 'P-900', 'Namesake']) expect(text).not.toContain(phi);
  });

  it('dcmjs-dimse SCU: Implicit VR LE first converts the stored Explicit VR LE; the final dataset lists the failed JPEG', async () => {
    const { final, stored: got } = await dimseGet(server.port, AE, [ct.studyInstanceUid, jpeg.studyInstanceUid]);
    expect(final.getStatus()).toBe(0xb000);
    expect(final.getCompleted()).toBe(5);
    expect(final.getFailures()).toBe(1);
    expect(final.getDataset()?.getElement('FailedSOPInstanceUIDList')).toBe(jpeg.sopInstanceUids[0]);
    // The failure says why: a syntax the SCU did not accept, and the archive does not transcode pixel data.
    expect(final.getErrorComment()).toBe(`Stored ${TransferSyntax.JPEGBaseline} not accepted; no transcoding`);
    expect([...got.keys()].sort()).toEqual([...ct.sopInstanceUids, ...ctSecond.sopInstanceUids].sort());
    for (const syntax of got.values()) expect(syntax).toBe(TransferSyntax.ImplicitVRLittleEndian);
  });

  it('dcmjs-dimse SCU: C-CANCEL stops the sub-operations between two; 0xFE00 with what remained', async () => {
    const { final, stored: got } = await dimseGet(server.port, AE, [ct.studyInstanceUid], true);
    expect(final.getStatus()).toBe(0xfe00);
    expect(final.getRemaining()).toBeGreaterThan(0);
    expect(final.getCompleted() + final.getRemaining() + final.getFailures()).toBe(5);
    expect(got.size).toBe(final.getCompleted());
  });
});
