import net from 'node:net';
import { Registry } from 'prom-client';
import { Client, Dataset, Scp, constants, requests, responses, type association } from 'dcmjs-dimse';
import { createLogger } from '@yunying/core';
import { createTestCatalog, type TestCatalog } from '@yunying/catalog/testing';
import { makeStudy, type Study } from '@yunying/dicom/testing';
import { TransferSyntax } from '@yunying/dicom';
import { STORAGE_COMMITMENT_SOP_CLASS, STORAGE_COMMITMENT_SOP_INSTANCE } from '@yunying/dimse';
import { RawScu, pData, pdu, statusOf } from '@yunying/dimse/testing';
import { ReplicatedStore } from '@yunying/storage';
import { tempFsTargets, type TempFsTargets } from '@yunying/storage/testing';
import { IngestPipeline, type Sender } from '../ingest.pipeline';
import { startDimseServer, type DimseServer } from './index';
import { waitFor } from '../../../../test/support/wait';

const AE = 'COMMIT_US1';
const OTHER_AE = 'COMMIT_US2';
/** Same clinic as AE; registered with an address, reports on the requesting association (the default). */
const FALLBACK_AE = 'COMMIT_US3';
/** Same clinic as AE; registered with an address and `new_association`. */
const NEW_ASSOC_AE = 'COMMIT_US4';
/** Same clinic as AE; registered at an address where nothing listens until the test moves it. */
const UNREACHABLE_AE = 'COMMIT_US5';
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

interface ReceivedReport {
  callingAe: string;
  /** SCP/SCU Role Selection as the archive proposed it for the Storage Commitment context. */
  role: { scu: boolean | undefined; scp: boolean | undefined };
  eventTypeId: number;
  elements: Record<string, unknown>;
}

/**
 * The SCU's own SCP (PS3.4 J.3.3): where the archive opens an association to deliver a report. Accepts
 * the Storage Commitment context, records each N-EVENT-REPORT-RQ and answers it with success.
 */
class CommitmentReceiver extends Scp {
  static readonly reports: ReceivedReport[] = [];
  private static waiters: Array<(report: ReceivedReport) => void> = [];
  private callingAe = '';
  private role: ReceivedReport['role'] = { scu: undefined, scp: undefined };

  /** The next report to arrive (or the oldest one not yet taken). */
  static next(): Promise<ReceivedReport> {
    const ready = CommitmentReceiver.reports.shift();
    if (ready !== undefined) return Promise.resolve(ready);
    return new Promise((resolve) => CommitmentReceiver.waiters.push(resolve));
  }

  override associationRequested(assoc: association.Association): void {
    this.callingAe = assoc.getCallingAeTitle();
    for (const { context } of assoc.getPresentationContexts()) {
      if (context.getAbstractSyntaxUid() === STORAGE_COMMITMENT_SOP_CLASS) this.role = { scu: context.getUserRole(), scp: context.getProviderRole() };
      context.setResult(constants.PresentationContextResult.Accept, context.getTransferSyntaxUids()[0]);
    }
    this.sendAssociationAccept();
  }

  override nEventReportRequest(request: requests.NEventReportRequest, callback: (response: responses.NEventReportResponse) => void): void {
    const report = { callingAe: this.callingAe, role: this.role, eventTypeId: request.getEventTypeId(), elements: request.getDataset()?.getElements() ?? {} };
    const waiter = CommitmentReceiver.waiters.shift();
    if (waiter !== undefined) waiter(report);
    else CommitmentReceiver.reports.push(report);
    const response = responses.NEventReportResponse.fromRequest(request);
    response.setStatus(constants.Status.Success);
    callback(response);
  }

  override associationReleaseRequested(): void {
    this.sendAssociationReleaseResponse();
  }
}

/**
 * An SCU that goes away before acknowledging the report: N-ACTION-RQ over the raw upper layer, waits for
 * the N-ACTION-RSP and the N-EVENT-REPORT-RQ that follows on this association, then A-ABORT without
 * answering it. Returns the N-ACTION-RSP status.
 */
async function requestThenAbort(port: number, ae: string, transactionUid: string, references: Reference[]): Promise<number> {
  const scu = await RawScu.connect(port);
  try {
    const { accepted } = await scu.associate(ae, 'YUNYING', [{ id: 1, abstractSyntaxUid: STORAGE_COMMITMENT_SOP_CLASS, transferSyntaxUids: [TransferSyntax.ImplicitVRLittleEndian] }]);
    if (!accepted.has(1)) throw new Error('Storage Commitment context not accepted');
    const request = new requests.NActionRequest(STORAGE_COMMITMENT_SOP_CLASS, STORAGE_COMMITMENT_SOP_INSTANCE, 1);
    const dataset = new Dataset({ TransactionUID: transactionUid, ReferencedSOPSequence: references.map((r) => ({ ReferencedSOPClassUID: r.sopClassUid, ReferencedSOPInstanceUID: r.sopInstanceUid })) }, TransferSyntax.ImplicitVRLittleEndian);
    // Marks the command as followed by a dataset (0000,0800).
    request.setDataset(dataset);
    scu.send(pData(1, request.getCommandDataset().getDenaturalizedCommandDataset(), true, true));
    scu.send(pData(1, dataset.getDenaturalizedDataset(), false, true));
    const actionResponse = await scu.next();
    if (actionResponse === null) throw new Error('no N-ACTION-RSP');
    const reportCommand = await scu.next();
    if (reportCommand?.type !== 0x04) throw new Error('no N-EVENT-REPORT-RQ on the requesting association');
    scu.send(pdu(0x07, Buffer.alloc(4)));
    return statusOf(actionResponse);
  } finally {
    scu.destroy();
  }
}

/** A loopback port where nothing listens (bound, then released). */
async function closedPort(): Promise<number> {
  const probe = net.createServer();
  await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', resolve));
  const address = probe.address();
  await new Promise<void>((resolve) => probe.close(() => resolve()));
  return typeof address === 'object' && address !== null ? address.port : 0;
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
  let receiver: net.Server;
  let receiverPort: number;
  const own = makeStudy(3, { patientName: 'Sun^Qi', patientId: 'P-500', modality: 'US' });
  const other = makeStudy(1, { patientName: 'Other^Clinic', patientId: 'P-902', modality: 'US' });
  const sopClassOf = new Map<string, string>();
  const refs = (study: Study, indices: number[]): Reference[] => indices.map((i) => ({ sopClassUid: sopClassOf.get(study.sopInstanceUids[i]!)!, sopInstanceUid: study.sopInstanceUids[i]! }));

  interface AuditRow {
    event_type: string;
    event_code: string;
    action: string;
    outcome: number;
    actor_username: string;
    clinic_id: string;
    study_instance_uid: string | null;
    details: Record<string, unknown>;
  }

  /**
   * The audit record of one transaction. It is written once the report went out (or could not), after
   * the SCU has it: waited for by polling the catalog, bounded.
   */
  async function commitmentAudit(transactionUid: string): Promise<AuditRow> {
    return waitFor(
      `the audit record of ${transactionUid}`,
      async () => {
        const { rows } = await catalog.pool.query<AuditRow>(
          `SELECT event_type, event_code, action, outcome, actor_username, clinic_id, study_instance_uid, details FROM audit_events
            WHERE details->>'service' = 'Storage Commitment' AND details->>'transactionUid' = $1`,
          [transactionUid],
        );
        if (rows.length > 1) throw new Error(`${rows.length} audit records for ${transactionUid}`);
        return rows[0];
      },
      15_000,
      50,
    );
  }

  interface PendingRow {
    calling_ae: string;
    attempts: number;
    last_error: string | null;
    next_attempt_at: Date;
  }

  async function pending(transactionUid: string): Promise<PendingRow | undefined> {
    const { rows } = await catalog.pool.query<PendingRow>('SELECT calling_ae, attempts, last_error, next_attempt_at FROM dimse_commitment_pending WHERE transaction_uid = $1', [transactionUid]);
    return rows[0];
  }

  /** Every audit record of one transaction, oldest first. */
  async function commitmentAudits(transactionUid: string): Promise<AuditRow[]> {
    const { rows } = await catalog.pool.query<AuditRow>(
      `SELECT event_type, event_code, action, outcome, actor_username, clinic_id, study_instance_uid, details FROM audit_events
        WHERE details->>'service' = 'Storage Commitment' AND details->>'transactionUid' = $1 ORDER BY seq`,
      [transactionUid],
    );
    return rows;
  }

  beforeAll(async () => {
    catalog = await createTestCatalog('dimse_commit');
    storage = await tempFsTargets();
    clinicId = (await catalog.pool.query<{ id: string }>("INSERT INTO clinics (code, name, dimse_auth) VALUES ('commit-1', 'one', 'ae_only') RETURNING id")).rows[0]!.id;
    otherClinicId = (await catalog.pool.query<{ id: string }>("INSERT INTO clinics (code, name, dimse_auth) VALUES ('commit-2', 'two', 'ae_only') RETURNING id")).rows[0]!.id;
    await catalog.pool.query('INSERT INTO clinic_ae_titles (ae_title, clinic_id) VALUES ($1, $2), ($3, $4), ($5, $2), ($6, $2), ($7, $2)', [AE, clinicId, OTHER_AE, otherClinicId, FALLBACK_AE, NEW_ASSOC_AE, UNREACHABLE_AE]);
    receiver = net.createServer((socket) => new CommitmentReceiver(socket));
    await new Promise<void>((resolve) => receiver.listen(0, '127.0.0.1', resolve));
    const address = receiver.address();
    receiverPort = typeof address === 'object' && address !== null ? address.port : 0;
    await catalog.pool.query(
      `INSERT INTO dimse_move_destinations (clinic_id, ae_title, host, port, commitment_reports) VALUES ($1, $2, '127.0.0.1', $4, 'same_association'), ($1, $3, '127.0.0.1', $4, 'new_association')`,
      [clinicId, FALLBACK_AE, NEW_ASSOC_AE, receiverPort],
    );
    await catalog.pool.query(`INSERT INTO dimse_move_destinations (clinic_id, ae_title, host, port) VALUES ($1, $2, '127.0.0.1', $3)`, [clinicId, UNREACHABLE_AE, await closedPort()]);
    const logger = createLogger({ level: process.env.COMMIT_DEBUG ? 'debug' : 'silent', service: 'commit-test' });
    const store = new ReplicatedStore({ targets: storage.targets });
    const pipeline = new IngestPipeline({ pool: catalog.pool, store, logger, metrics: new Registry(), parseLimits: {}, retentionMinYears: 15 });
    const sender = (id: string, ae: string): Sender => ({ clinicId: id, actor: { username: `ae:${ae}`, role: 'device', clinicId: id }, sourceIp: null, via: 'DIMSE' });
    for (const file of own.files) expect((await pipeline.ingest(file, sender(clinicId, AE))).status).toBe('stored');
    for (const file of other.files) expect((await pipeline.ingest(file, sender(otherClinicId, OTHER_AE))).status).toBe('stored');
    for (const row of (await catalog.pool.query<{ sop_instance_uid: string; sop_class_uid: string }>('SELECT sop_instance_uid, sop_class_uid FROM instances')).rows) sopClassOf.set(row.sop_instance_uid, row.sop_class_uid);
    // The retrier runs only when the tests ask (retryCommitmentReports); undelivered reports are due at once.
    const commitmentRetry = { intervalMs: 3_600_000, firstRetryMs: 0, keepForMs: 3_600_000 };
    server = await startDimseServer({ host: '127.0.0.1', port: 0, aeTitle: 'YUNYING', checkCalledAe: false, pool: catalog.pool, pipeline, store, logger, metrics: new Registry(), commitmentRetry });
  });

  afterAll(async () => {
    await server?.close();
    await new Promise<void>((resolve) => (receiver === undefined ? resolve() : receiver.close(() => resolve())));
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
    // One audit record of the request and its result: UIDs and counts, the device as actor, no patient data.
    const audit = await commitmentAudit('2.25.1001');
    expect(audit).toMatchObject({ event_type: 'DICOM Instances Accessed', event_code: '110103', action: 'R', outcome: 0, actor_username: `ae:${AE}`, clinic_id: clinicId, study_instance_uid: own.studyInstanceUid });
    expect(audit.details).toMatchObject({
      via: 'DIMSE',
      references: 2,
      committed: 2,
      failed: 0,
      studyInstanceUids: [own.studyInstanceUid],
      report: 'same_association',
      reportStatus: '0x0000',
    });
    expect([...(audit.details.committedSopInstanceUids as string[])].sort()).toEqual([own.sopInstanceUids[0], own.sopInstanceUids[1]].sort());
    expect(JSON.stringify(audit)).not.toMatch(/Sun\^Qi|P-500/);
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
    // The audit names the failures with their reasons, and no study of the other clinic.
    const audit = await commitmentAudit('2.25.1002');
    expect(audit).toMatchObject({ outcome: 4, study_instance_uid: own.studyInstanceUid });
    expect(audit.details).toMatchObject({ references: 5, committed: 1, failed: 4, studyInstanceUids: [own.studyInstanceUid], report: 'same_association' });
    expect(audit.details.failedSopInstances).toEqual(
      expect.arrayContaining([
        { sopInstanceUid: own.sopInstanceUids[2], failureReason: '0x0110' },
        { sopInstanceUid: unknown.sopInstanceUid, failureReason: '0x0112' },
        { sopInstanceUid: other.sopInstanceUids[0], failureReason: '0x0112' },
        { sopInstanceUid: own.sopInstanceUids[1], failureReason: '0x0119' },
      ]),
    );
    expect(JSON.stringify(audit)).not.toContain(other.studyInstanceUid);
    // The owner of the other clinic's instance gets it committed.
    const owner = await requestCommitment(server.port, OTHER_AE, '2.25.1003', refs(other, [0]));
    expect(owner.report?.eventTypeId).toBe(1);
  });

  it('an SCU registered for reports on a new association gets the N-EVENT-REPORT there (archive as SCP role), with the same tenancy', async () => {
    const outcome = await requestCommitment(server.port, NEW_ASSOC_AE, '2.25.1005', [...refs(own, [0]), ...refs(other, [0])]);
    expect(outcome.actionStatus).toBe(0x0000);
    // Nothing on the requesting association: the report went to the SCU's registered address.
    expect(outcome.report).toBeUndefined();
    const report = await CommitmentReceiver.next();
    expect(report.callingAe).toBe('YUNYING');
    expect(report.role).toEqual({ scu: false, scp: true });
    expect(report.eventTypeId).toBe(2);
    expect(report.elements.TransactionUID).toBe('2.25.1005');
    expect(uidsOf(report.elements.ReferencedSOPSequence)).toEqual([own.sopInstanceUids[0]]);
    // Another clinic's instance is as unknown over the new association as over the old.
    expect(reasonsOf(report.elements.FailedSOPSequence)).toEqual({ [other.sopInstanceUids[0]!]: 0x0112 });
    const audit = await commitmentAudit('2.25.1005');
    expect(audit).toMatchObject({ outcome: 4, actor_username: `ae:${NEW_ASSOC_AE}` });
    expect(audit.details).toMatchObject({ report: 'new_association', reportStatus: '0x0000', reportedTo: NEW_ASSOC_AE, committed: 1, failed: 1 });
  });

  it('an SCU that aborts before acknowledging the report gets it on a new association to its registered address', async () => {
    expect(await requestThenAbort(server.port, FALLBACK_AE, '2.25.1006', refs(own, [0, 1]))).toBe(0x0000);
    const report = await CommitmentReceiver.next();
    expect(report.elements.TransactionUID).toBe('2.25.1006');
    expect(report.eventTypeId).toBe(1);
    expect(uidsOf(report.elements.ReferencedSOPSequence)).toEqual([own.sopInstanceUids[0], own.sopInstanceUids[1]].sort());
    const audit = await commitmentAudit('2.25.1006');
    expect(audit).toMatchObject({ outcome: 0, actor_username: `ae:${FALLBACK_AE}` });
    expect(audit.details).toMatchObject({ report: 'new_association', reportedTo: FALLBACK_AE, committed: 2 });
  });

  it('an SCU with no registered address that aborts: the report reaches nobody, the audit says so, and it is kept for a retry', async () => {
    expect(await requestThenAbort(server.port, AE, '2.25.1007', refs(own, [0]))).toBe(0x0000);
    const audit = await commitmentAudit('2.25.1007');
    expect(audit.outcome).toBe(8);
    expect(audit.details).toMatchObject({ report: 'none', committed: 1, retry: 'scheduled' });
    expect(String(audit.details.reportFailure)).toMatch(/no registered address for COMMIT_US1/);
    expect(await pending('2.25.1007')).toMatchObject({ calling_ae: AE, attempts: 0 });
  });

  it('a report that reached nobody is delivered later on a new association once the SCU can be reached; each attempt kept, the delivery audited', async () => {
    expect(await requestThenAbort(server.port, UNREACHABLE_AE, '2.25.1008', refs(own, [0, 1]))).toBe(0x0000);
    const first = await commitmentAudit('2.25.1008');
    expect(first.outcome).toBe(8);
    expect(first.details).toMatchObject({ report: 'none', retry: 'scheduled', committed: 2 });
    expect(String(first.details.reportFailure)).toMatch(/new association to COMMIT_US5/);

    // Still unreachable: the attempt fails, the report stays owed with the cause and a later attempt.
    await catalog.pool.query('UPDATE dimse_commitment_pending SET next_attempt_at = now() WHERE transaction_uid = $1', ['2.25.1008']);
    expect(await server.retryCommitmentReports()).toBe(0);
    const owed = await pending('2.25.1008');
    expect(owed).toMatchObject({ attempts: 1 });
    expect(owed?.last_error).toMatch(/COMMIT_US5/);
    expect(owed!.next_attempt_at.getTime()).toBeGreaterThanOrEqual(Date.now() - 1000);

    // The clinic's administrator fixes the address; the next pass delivers the verdict decided then.
    await catalog.pool.query('UPDATE dimse_move_destinations SET port = $1 WHERE ae_title = $2', [receiverPort, UNREACHABLE_AE]);
    await catalog.pool.query('UPDATE dimse_commitment_pending SET next_attempt_at = now() WHERE transaction_uid = $1', ['2.25.1008']);
    expect(await server.retryCommitmentReports()).toBe(1);
    const report = await CommitmentReceiver.next();
    expect(report.callingAe).toBe('YUNYING');
    expect(report.elements.TransactionUID).toBe('2.25.1008');
    expect(report.eventTypeId).toBe(1);
    expect(uidsOf(report.elements.ReferencedSOPSequence)).toEqual([own.sopInstanceUids[0], own.sopInstanceUids[1]].sort());
    expect(await pending('2.25.1008')).toBeUndefined();
    const records = await commitmentAudits('2.25.1008');
    expect(records).toHaveLength(2);
    expect(records[1]).toMatchObject({ outcome: 0, actor_username: `ae:${UNREACHABLE_AE}` });
    expect(records[1]!.details).toMatchObject({ report: 'new_association', reportStatus: '0x0000', reportedTo: UNREACHABLE_AE, retry: 'delivered', retryAttempt: 2 });
    // Nothing is owed twice: another pass sends nothing.
    expect(await server.retryCommitmentReports()).toBe(0);
  });

  it('a report still undelivered when it expires is given up, and the audit says so', async () => {
    expect(await requestThenAbort(server.port, AE, '2.25.1009', refs(own, [1]))).toBe(0x0000);
    await commitmentAudit('2.25.1009');
    await catalog.pool.query(`UPDATE dimse_commitment_pending SET next_attempt_at = now(), expires_at = now() - interval '1 second' WHERE transaction_uid = $1`, ['2.25.1009']);
    expect(await server.retryCommitmentReports()).toBe(0);
    expect(await pending('2.25.1009')).toBeUndefined();
    const records = await commitmentAudits('2.25.1009');
    expect(records).toHaveLength(2);
    expect(records[1]).toMatchObject({ outcome: 8 });
    expect(records[1]!.details).toMatchObject({ report: 'none', retry: 'gave-up', retryAttempt: 1 });
    expect(String(records[1]!.details.reportFailure)).toMatch(/given up after 1 attempts: no registered address for COMMIT_US1/);
  });

  it('a request that is not Request Storage Commitment is refused in the N-ACTION-RSP, with no report', async () => {
    const outcome = await requestCommitment(server.port, AE, '2.25.1004', refs(own, [0]), 2);
    expect(outcome.actionStatus).toBe(0x0123);
    expect(outcome.report).toBeUndefined();
  });
});
