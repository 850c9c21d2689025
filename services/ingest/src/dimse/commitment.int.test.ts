import { Registry } from 'prom-client';
import { Client, Dataset, constants, requests, responses } from 'dcmjs-dimse';
import { createLogger } from '@yunying/core';
import { createTestCatalog, type TestCatalog } from '@yunying/catalog/testing';
import { makeStudy, type Study } from '@yunying/dicom/testing';
import { STORAGE_COMMITMENT_SOP_CLASS, STORAGE_COMMITMENT_SOP_INSTANCE } from '@yunying/dimse';
import { ReplicatedStore } from '@yunying/storage';
import { tempFsTargets, type TempFsTargets } from '@yunying/storage/testing';
import { IngestPipeline, type Sender } from '../ingest.pipeline';
import { startDimseServer, type DimseServer } from './index';

const AE = 'COMMIT_US1';
const OTHER_AE = 'COMMIT_US2';
const CT_IMAGE = '1.2.840.10008.5.1.4.1.1.2';

interface Reference {
  sopClassUid: string;
  sopInstanceUid: string;
}

interface Outcome {
  actionStatus: number | undefined;
  report: { eventTypeId: number; elements: Record<string, unknown> } | undefined;
}

type Item = Record<string, unknown>;

/**
 * A Storage Commitment SCU over dcmjs-dimse (dcmtk's tools have none): N-ACTION-RQ, then it answers the
 * N-EVENT-REPORT-RQ that comes back on the same association, then releases.
 */
function requestCommitment(port: number, ae: string, transactionUid: string, references: Reference[], actionTypeId = 1): Promise<Outcome> {
  return new Promise((resolve, reject) => {
    const client = new Client();
    const request = new requests.NActionRequest(STORAGE_COMMITMENT_SOP_CLASS, STORAGE_COMMITMENT_SOP_INSTANCE, actionTypeId);
    request.setDataset(
      new Dataset({ TransactionUID: transactionUid, ReferencedSOPSequence: references.map((r) => ({ ReferencedSOPClassUID: r.sopClassUid, ReferencedSOPInstanceUID: r.sopInstanceUid })) }),
    );
    const outcome: Outcome = { actionStatus: undefined, report: undefined };
    request.on('response', (response: responses.NActionResponse) => (outcome.actionStatus = response.getStatus()));
    client.on('nEventReportRequest', (report: requests.NEventReportRequest, callback: (response: responses.NEventReportResponse) => void) => {
      outcome.report = { eventTypeId: report.getEventTypeId(), elements: report.getDataset()?.getElements() ?? {} };
      const response = responses.NEventReportResponse.fromRequest(report);
      response.setStatus(constants.Status.Success);
      callback(response);
    });
    client.on('networkError', (error: Error) => reject(error));
    client.on('closed', () => resolve(outcome));
    client.addRequest(request);
    // Releases as soon as the N-ACTION-RSP is in: the report must still arrive on this association.
    client.send('127.0.0.1', port, ae, 'YUNYING', { associationLingerTimeout: 0 });
  });
}

function uidsOf(sequence: unknown): string[] {
  const items = (Array.isArray(sequence) ? sequence : sequence === undefined ? [] : [sequence]) as Item[];
  return items.map((item) => String(item.ReferencedSOPInstanceUID)).sort();
}

function reasonsOf(sequence: unknown): Record<string, number> {
  const items = (Array.isArray(sequence) ? sequence : sequence === undefined ? [] : [sequence]) as Item[];
  return Object.fromEntries(items.map((item) => [String(item.ReferencedSOPInstanceUID), Number(item.FailureReason)]));
}

describe('Storage Commitment Push Model SCP', () => {
  let catalog: TestCatalog;
  let storage: TempFsTargets;
  let server: DimseServer;
  let clinicId: string;
  let otherClinicId: string;
  const own = makeStudy(3, { patientName: 'Sun^Qi', patientId: 'P-500', modality: 'US' });
  const other = makeStudy(1, { patientName: 'Other^Clinic', patientId: 'P-902', modality: 'US' });
  const sopClassOf = new Map<string, string>();
  const refs = (study: Study, indices: number[]): Reference[] => indices.map((i) => ({ sopClassUid: sopClassOf.get(study.sopInstanceUids[i]!)!, sopInstanceUid: study.sopInstanceUids[i]! }));

  beforeAll(async () => {
    catalog = await createTestCatalog('dimse_commit');
    storage = await tempFsTargets();
    clinicId = (await catalog.pool.query<{ id: string }>("INSERT INTO clinics (code, name, dimse_auth) VALUES ('commit-1', 'one', 'ae_only') RETURNING id")).rows[0]!.id;
    otherClinicId = (await catalog.pool.query<{ id: string }>("INSERT INTO clinics (code, name, dimse_auth) VALUES ('commit-2', 'two', 'ae_only') RETURNING id")).rows[0]!.id;
    await catalog.pool.query('INSERT INTO clinic_ae_titles (ae_title, clinic_id) VALUES ($1, $2), ($3, $4)', [AE, clinicId, OTHER_AE, otherClinicId]);
    const logger = createLogger({ level: process.env.COMMIT_DEBUG ? 'debug' : 'silent', service: 'commit-test' });
    const store = new ReplicatedStore({ targets: storage.targets });
    const pipeline = new IngestPipeline({ pool: catalog.pool, store, logger, metrics: new Registry(), parseLimits: {}, retentionMinYears: 15 });
    const sender = (id: string, ae: string): Sender => ({ clinicId: id, actor: { username: `ae:${ae}`, role: 'device', clinicId: id }, sourceIp: null, via: 'DIMSE' });
    for (const file of own.files) expect((await pipeline.ingest(file, sender(clinicId, AE))).status).toBe('stored');
    for (const file of other.files) expect((await pipeline.ingest(file, sender(otherClinicId, OTHER_AE))).status).toBe('stored');
    for (const row of (await catalog.pool.query<{ sop_instance_uid: string; sop_class_uid: string }>('SELECT sop_instance_uid, sop_class_uid FROM instances')).rows) sopClassOf.set(row.sop_instance_uid, row.sop_class_uid);
    server = await startDimseServer({ host: '127.0.0.1', port: 0, aeTitle: 'YUNYING', checkCalledAe: false, pool: catalog.pool, pipeline, store, logger, metrics: new Registry() });
  });

  afterAll(async () => {
    await server?.close();
    await storage?.cleanup();
    await catalog?.drop();
  });

  it('instances with a verified copy on every target are committed: N-ACTION-RSP 0x0000, then N-EVENT-REPORT type 1 on the same association', async () => {
    const outcome = await requestCommitment(server.port, AE, '2.25.1001', refs(own, [0, 1]));
    expect(outcome.actionStatus).toBe(0x0000);
    expect(outcome.report?.eventTypeId).toBe(1);
    expect(outcome.report?.elements.TransactionUID).toBe('2.25.1001');
    expect(uidsOf(outcome.report?.elements.ReferencedSOPSequence)).toEqual([own.sopInstanceUids[0], own.sopInstanceUids[1]].sort());
    expect(outcome.report?.elements.FailedSOPSequence).toBeUndefined();
  });

  it('fails, each with its reason: a copy not durable, an unknown instance, another clinic’s instance, a SOP class that does not match', async () => {
    // One of the three copies of instance 2 found missing by a scrub: not committed until repaired.
    await catalog.pool.query("UPDATE copies SET state = 'missing' WHERE target = $1 AND sha256 = (SELECT sha256 FROM instances WHERE sop_instance_uid = $2)", [storage.targets[1]!.name, own.sopInstanceUids[2]]);
    const unknown = { sopClassUid: CT_IMAGE, sopInstanceUid: '2.25.999999' };
    const wrongClass = { sopClassUid: CT_IMAGE, sopInstanceUid: own.sopInstanceUids[1]! };
    const outcome = await requestCommitment(server.port, AE, '2.25.1002', [...refs(own, [0, 2]), unknown, ...refs(other, [0]), wrongClass]);
    expect(outcome.actionStatus).toBe(0x0000);
    expect(outcome.report?.eventTypeId).toBe(2);
    expect(uidsOf(outcome.report?.elements.ReferencedSOPSequence)).toEqual([own.sopInstanceUids[0]]);
    expect(reasonsOf(outcome.report?.elements.FailedSOPSequence)).toEqual({
      [own.sopInstanceUids[2]!]: 0x0110,
      [unknown.sopInstanceUid]: 0x0112,
      [other.sopInstanceUids[0]!]: 0x0112,
      [own.sopInstanceUids[1]!]: 0x0119,
    });
    // The owner of the other clinic's instance gets it committed.
    const owner = await requestCommitment(server.port, OTHER_AE, '2.25.1003', refs(other, [0]));
    expect(owner.report?.eventTypeId).toBe(1);
  });

  it('a request that is not Request Storage Commitment is refused in the N-ACTION-RSP, with no report', async () => {
    const outcome = await requestCommitment(server.port, AE, '2.25.1004', refs(own, [0]), 2);
    expect(outcome.actionStatus).toBe(0x0123);
    expect(outcome.report).toBeUndefined();
  });
});
