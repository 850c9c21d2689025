import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs/promises';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { Registry } from 'prom-client';
import { Client, Dataset, Scp, constants, requests, responses, type association } from 'dcmjs-dimse';
import { createLogger } from '@yunying/core';
import { createTestCatalog, type TestCatalog } from '@yunying/catalog/testing';
import { TransferSyntax } from '@yunying/dicom';
import { makeStudy, type Study } from '@yunying/dicom/testing';
import { splitPart10 } from '@yunying/dimse';
import { ReplicatedStore } from '@yunying/storage';
import { tempFsTargets, type TempFsTargets } from '@yunying/storage/testing';
import { describeUnless, findExecutable } from '../../../../test/support/skip';
import { makeTestPki, type TestPki } from '../../../../test/support/test-pki';
import { waitFor } from '../../../../test/support/wait';
import { IngestPipeline, type Sender } from '../ingest.pipeline';
import { startDimseServer, type DimseServer } from './index';
import { incomingAffectedSopClasses, runDcmtk, type DcmtkRun } from '@yunying/dimse/testing';

const AE = 'MOVE_US1';
const OTHER_AE = 'MOVE_US2';

const dcmtk = (tool: string, args: string[]): Promise<DcmtkRun> => runDcmtk(tool, args, 60_000);

/** A port nothing listens on (bound, then released): for storescp, and for a destination that is down. */
async function freePort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  await new Promise<void>((resolve) => server.close(() => resolve()));
  if (typeof address !== 'object' || address === null) throw new Error('no port');
  return address.port;
}

/** dcmtk storescp as a C-MOVE destination, writing into `dir`; resolves once it accepts connections. */
async function startStorescp(aeTitle: string, dir: string, extra: string[]): Promise<{ port: number; child: ChildProcess }> {
  const port = await freePort();
  const child = spawn('storescp', ['-aet', aeTitle, '-od', dir, ...extra, String(port)], { stdio: 'ignore' });
  const accepts = (): Promise<boolean> =>
    new Promise<boolean>((resolve) => {
      const socket = net.connect({ host: '127.0.0.1', port }, () => {
        socket.destroy();
        resolve(true);
      });
      socket.once('error', () => resolve(false));
    });
  await waitFor('storescp to accept connections', accepts, 10_000, 50).catch((error: unknown) => {
    child.kill('SIGKILL');
    throw error;
  });
  return { port, child };
}

async function received(dir: string): Promise<Map<string, ReturnType<typeof splitPart10>>> {
  const out = new Map<string, ReturnType<typeof splitPart10>>();
  for (const name of await fs.readdir(dir)) {
    const parts = splitPart10(await fs.readFile(path.join(dir, name)));
    out.set(parts.sopInstanceUid, parts);
  }
  return out;
}

function lastCount(output: string, label: 'Completed' | 'Failed' | 'Warning'): number | null {
  const all = [...output.matchAll(new RegExp(`${label} Suboperations\\s*:\\s*(\\d+)`, 'g'))];
  const last = all[all.length - 1];
  return last === undefined ? null : Number(last[1]);
}

/**
 * A Storage SCP that accepts everything and answers the n-th C-STORE (from 1) as `answer(n)` says: a
 * status, or 'drop' to close the connection mid-move.
 */
class ScriptedDestination extends Scp {
  private stores = 0;
  static callingAeTitles: string[] = [];

  constructor(
    private readonly sock: net.Socket,
    private readonly answer: (n: number) => number | 'drop',
  ) {
    super(sock);
  }

  override associationRequested(assoc: association.Association): void {
    ScriptedDestination.callingAeTitles.push(assoc.getCallingAeTitle());
    for (const { context } of assoc.getPresentationContexts()) context.setResult(constants.PresentationContextResult.Accept, context.getTransferSyntaxUids()[0]);
    this.sendAssociationAccept();
  }

  override cStoreRequest(request: requests.CStoreRequest, callback: (response: responses.CStoreResponse) => void): void {
    this.stores += 1;
    const answer = this.answer(this.stores);
    if (answer === 'drop') {
      this.sock.destroy();
      return;
    }
    const response = responses.CStoreResponse.fromRequest(request);
    response.setStatus(answer);
    callback(response);
  }

  override associationReleaseRequested(): void {
    this.sendAssociationReleaseResponse();
  }
}

const dcmtkMissing =
  findExecutable('movescu') === null || findExecutable('storescp') === null || findExecutable('openssl') === null ? 'dcmtk (movescu, storescp) or openssl not installed' : null;

describeUnless(dcmtkMissing, 'C-MOVE SCP with dcmtk movescu to dcmtk storescp', () => {
  let catalog: TestCatalog;
  let storage: TempFsTargets;
  let server: DimseServer;
  let dir: string;
  let clinicId: string;
  let otherClinicId: string;
  const destinations: ChildProcess[] = [];
  const ct = makeStudy(3, { patientName: 'Zhao^Liu', patientId: 'P-400', modality: 'CT', seriesNumber: 1 });
  // 64 KiB of pixels each: more than storescp's 16 KiB maximum PDU, so each C-STORE spans several PDUs.
  const ctSecond = makeStudy(2, { patientName: 'Zhao^Liu', patientId: 'P-400', modality: 'CT', studyInstanceUid: ct.studyInstanceUid, seriesNumber: 2, rows: 256, columns: 256 });
  const jpeg = makeStudy(1, { patientName: 'Zhao^Liu', patientId: 'P-400', modality: 'US', transferSyntax: TransferSyntax.JPEGBaseline });
  const other = makeStudy(1, { patientName: 'Other^Clinic', patientId: 'P-901', modality: 'US' });
  // Another clinic's patient who happens to carry the same Patient ID (IDs are issued per clinic).
  const namesake = makeStudy(1, { patientName: 'Namesake^Elsewhere', patientId: 'P-400', modality: 'US' });
  const stored = new Map<string, Buffer>();
  let pki: TestPki;

  /** A fresh storescp registered for `clinic` as `aeTitle`; returns the directory it writes to. */
  const destination = async (clinic: string, aeTitle: string, extra: string[] = []): Promise<string> => {
    const out = await fs.mkdtemp(path.join(dir, `${aeTitle}-`));
    const { port, child } = await startStorescp(aeTitle, out, extra);
    destinations.push(child);
    await catalog.pool.query('INSERT INTO dimse_move_destinations (clinic_id, ae_title, host, port) VALUES ($1, $2, $3, $4)', [clinic, aeTitle, '127.0.0.1', port]);
    return out;
  };

  const move = async (ae: string, to: string, model: '-P' | '-S', keys: string[]): Promise<DcmtkRun> => {
    // -d: movescu prints the sub-operation counts of each C-MOVE-RSP only in debug mode.
    const run = await dcmtk('movescu', ['-d', model, '-aet', ae, '-aec', 'ANY-SCP', '-aem', to, ...keys.flatMap((k) => ['-k', k]), '127.0.0.1', String(server.port)]);
    if (process.env.MOVE_DEBUG) console.log(run.output);
    return run;
  };

  const lastTransferred = async (): Promise<Record<string, unknown>> =>
    (await catalog.pool.query<{ details: Record<string, unknown> }>("SELECT details FROM audit_events WHERE event_type = 'DICOM Instances Transferred' ORDER BY seq DESC LIMIT 1")).rows[0]!.details;

  beforeAll(async () => {
    catalog = await createTestCatalog('dimse_move');
    storage = await tempFsTargets();
    dir = await fs.mkdtemp(path.join(os.tmpdir(), 'yunying-move-'));
    await fs.mkdir(path.join(dir, 'pki'));
    pki = makeTestPki(path.join(dir, 'pki'), 'Clinic workstation CA');
    clinicId = (await catalog.pool.query<{ id: string }>("INSERT INTO clinics (code, name, dimse_auth) VALUES ('move-1', 'one', 'ae_only') RETURNING id")).rows[0]!.id;
    otherClinicId = (await catalog.pool.query<{ id: string }>("INSERT INTO clinics (code, name, dimse_auth) VALUES ('move-2', 'two', 'ae_only') RETURNING id")).rows[0]!.id;
    await catalog.pool.query('INSERT INTO clinic_ae_titles (ae_title, clinic_id) VALUES ($1, $2), ($3, $4)', [AE, clinicId, OTHER_AE, otherClinicId]);
    const logger = createLogger({ level: process.env.MOVE_DEBUG ? 'debug' : 'silent', service: 'move-test' });
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
    server = await startDimseServer({ host: '127.0.0.1', port: 0, aeTitle: 'YUNYING', checkCalledAe: false, pool: catalog.pool, pipeline, store, logger, metrics: new Registry(), pduTimeoutMs: 10_000 });
  });

  afterAll(async () => {
    for (const child of destinations) child.kill('SIGKILL');
    await server?.close();
    await storage?.cleanup();
    await catalog?.drop();
    if (dir) await fs.rm(dir, { recursive: true, force: true });
  });

  it('Study Root STUDY level: every instance arrives at the registered destination as stored', async () => {
    const out = await destination(clinicId, 'WS_ONE');
    const run = await move(AE, 'WS_ONE', '-S', ['QueryRetrieveLevel=STUDY', `StudyInstanceUID=${ct.studyInstanceUid}`]);
    expect(run.code).toBe(0);
    expect(lastCount(run.output, 'Completed')).toBe(5);
    expect(lastCount(run.output, 'Failed')).toBe(0);
    const files = await received(out);
    const expected = [...ct.sopInstanceUids, ...ctSecond.sopInstanceUids];
    expect([...files.keys()].sort()).toEqual([...expected].sort());
    for (const uid of expected) expect(Buffer.compare(files.get(uid)!.dataset, splitPart10(stored.get(uid)!).dataset)).toBe(0);
    expect(await lastTransferred()).toMatchObject({ operation: 'C-MOVE', moveDestination: 'WS_ONE', status: '0x0000', completed: 5, studyInstanceUids: [ct.studyInstanceUid] });
  });

  it('Patient Root IMAGE level with pending counts; a JPEG the destination refuses is a failed sub-operation, the rest still go', async () => {
    const out = await destination(clinicId, 'WS_PLAIN');
    const series = await move(AE, 'WS_PLAIN', '-P', ['QueryRetrieveLevel=IMAGE', 'PatientID=P-400', `StudyInstanceUID=${ct.studyInstanceUid}`, `SeriesInstanceUID=${ct.seriesInstanceUid}`, `SOPInstanceUID=${ct.sopInstanceUids[0]}\\${ct.sopInstanceUids[2]}`]);
    expect(lastCount(series.output, 'Completed')).toBe(2);
    expect(series.output).toMatch(/Remaining Suboperations\s*:\s*1/);
    expect([...(await received(out)).keys()].sort()).toEqual([ct.sopInstanceUids[0], ct.sopInstanceUids[2]].sort());
    // storescp's default accepts uncompressed syntaxes only: the JPEG Baseline instance cannot go.
    const mixed = await move(AE, 'WS_PLAIN', '-S', ['QueryRetrieveLevel=STUDY', `StudyInstanceUID=${ct.studyInstanceUid}\\${jpeg.studyInstanceUid}`]);
    expect(mixed.output).toMatch(/0xb000/i);
    expect(lastCount(mixed.output, 'Completed')).toBe(5);
    expect(lastCount(mixed.output, 'Failed')).toBe(1);
    expect((await received(out)).has(jpeg.sopInstanceUids[0]!)).toBe(false);
    expect(await lastTransferred()).toMatchObject({ status: '0xB000', failed: 1, failedSopInstanceUids: [jpeg.sopInstanceUids[0]], reason: `Stored ${TransferSyntax.JPEGBaseline} not accepted; no transcoding` });
  });

  it("Patient Root PATIENT level: every study of the patient in the caller's clinic, none of another clinic's namesake", async () => {
    const out = await destination(clinicId, 'WS_PATIENT');
    const run = await move(AE, 'WS_PATIENT', '-P', ['QueryRetrieveLevel=PATIENT', 'PatientID=P-400']);
    // Both studies of P-400 here; storescp's default refuses the JPEG one (one failed sub-operation).
    expect(lastCount(run.output, 'Completed')).toBe(5);
    expect(lastCount(run.output, 'Failed')).toBe(1);
    const files = await received(out);
    expect([...files.keys()].sort()).toEqual([...ct.sopInstanceUids, ...ctSecond.sopInstanceUids].sort());
    expect(files.has(namesake.sopInstanceUids[0]!)).toBe(false);
    const transferred = await lastTransferred();
    expect(transferred).toMatchObject({ operation: 'C-MOVE', model: 'patient_root', level: 'PATIENT', completed: 5, failed: 1 });
    expect(transferred.studyInstanceUids).toEqual([ct.studyInstanceUid]);
    expect(JSON.stringify(transferred)).not.toContain('P-400');
    // The other clinic's device moving the same Patient ID to its own destination gets its own patient only.
    const ownerOut = await destination(otherClinicId, 'WS_PATIENT2');
    const elsewhere = await move(OTHER_AE, 'WS_PATIENT2', '-P', ['QueryRetrieveLevel=PATIENT', 'PatientID=P-400']);
    expect(lastCount(elsewhere.output, 'Completed')).toBe(1);
    expect([...(await received(ownerOut)).keys()]).toEqual(namesake.sopInstanceUids);
    // PATIENT is not a level of Study Root: 0xA900, nothing sent.
    const studyRoot = await move(AE, 'WS_PATIENT', '-S', ['QueryRetrieveLevel=PATIENT', 'PatientID=P-400']);
    expect(studyRoot.output).toMatch(/0xa900/i);
    expect((await received(out)).size).toBe(5);
  });

  it("every C-MOVE-RSP, pending and final, names the request's SOP class (Patient Root here, not dcmjs-dimse's Study Root)", async () => {
    await destination(clinicId, 'WS_SOPCLASS');
    const patientRoot = await move(AE, 'WS_SOPCLASS', '-P', ['QueryRetrieveLevel=SERIES', 'PatientID=P-400', `StudyInstanceUID=${ct.studyInstanceUid}`, `SeriesInstanceUID=${ct.seriesInstanceUid}`]);
    expect(lastCount(patientRoot.output, 'Completed')).toBe(3);
    // 3 sub-operations: a pending response before the first and after each but the last, then the final one.
    expect(incomingAffectedSopClasses(patientRoot.output, 'C-MOVE RSP')).toEqual(Array(4).fill('MOVEPatientRootQueryRetrieveInformationModel'));
    const studyRoot = await move(AE, 'WS_SOPCLASS', '-S', ['QueryRetrieveLevel=SERIES', `StudyInstanceUID=${ct.studyInstanceUid}`, `SeriesInstanceUID=${ct.seriesInstanceUid}`]);
    expect(incomingAffectedSopClasses(studyRoot.output, 'C-MOVE RSP')).toEqual(Array(4).fill('MOVEStudyRootQueryRetrieveInformationModel'));
    // A refusal before any sub-operation (0xA801) names it too.
    const unknown = await move(AE, 'NOBODY', '-P', ['QueryRetrieveLevel=STUDY', 'PatientID=P-400', `StudyInstanceUID=${ct.studyInstanceUid}`]);
    expect(unknown.output).toMatch(/0xa801/i);
    expect(incomingAffectedSopClasses(unknown.output, 'C-MOVE RSP')).toEqual(['MOVEPatientRootQueryRetrieveInformationModel']);
  });

  it('an AE title not registered for the calling clinic is 0xA801, even one registered for another clinic', async () => {
    const unknown = await move(AE, 'NOBODY', '-S', ['QueryRetrieveLevel=STUDY', `StudyInstanceUID=${ct.studyInstanceUid}`]);
    expect(unknown.output).toMatch(/MoveDestinationUnknown|a801/i);
    const foreignOut = await destination(otherClinicId, 'WS_TWO');
    const foreign = await move(AE, 'WS_TWO', '-S', ['QueryRetrieveLevel=STUDY', `StudyInstanceUID=${ct.studyInstanceUid}`]);
    expect(foreign.output).toMatch(/MoveDestinationUnknown|a801/i);
    expect((await fs.readdir(foreignOut)).length).toBe(0);
  });

  it("another clinic's study moves nothing, even to the caller's own destination", async () => {
    const out = await destination(clinicId, 'WS_THREE');
    const run = await move(AE, 'WS_THREE', '-S', ['QueryRetrieveLevel=STUDY', `StudyInstanceUID=${other.studyInstanceUid}`]);
    // As for a study that does not exist: success with zero sub-operations.
    expect(run.output).toMatch(/DIMSE Status\s*:\s*0x0000/);
    expect(lastCount(run.output, 'Completed')).toBe(0);
    expect(lastCount(run.output, 'Failed')).toBe(0);
    expect((await fs.readdir(out)).length).toBe(0);
    // Its owner moves it to its own destination.
    const ownerOut = await destination(otherClinicId, 'WS_FOUR');
    await move(OTHER_AE, 'WS_FOUR', '-S', ['QueryRetrieveLevel=STUDY', `StudyInstanceUID=${other.studyInstanceUid}`]);
    expect([...(await received(ownerOut)).keys()]).toEqual(other.sopInstanceUids);
  });

  it('a destination that is down: every sub-operation failed, 0xA702', async () => {
    const port = await freePort();
    await catalog.pool.query('INSERT INTO dimse_move_destinations (clinic_id, ae_title, host, port) VALUES ($1, $2, $3, $4)', [clinicId, 'WS_DOWN', '127.0.0.1', port]);
    const run = await move(AE, 'WS_DOWN', '-S', ['QueryRetrieveLevel=STUDY', `StudyInstanceUID=${ct.studyInstanceUid}`]);
    expect(run.output).toMatch(/0xa702/i);
    expect(lastCount(run.output, 'Failed')).toBe(5);
    expect(await lastTransferred()).toMatchObject({ status: '0xA702', completed: 0, failed: 5 });
  });

  it('a destination that goes away mid-move: what was stored counts, the rest failed, 0xB000', async () => {
    const vanishing = net.createServer((socket) => new ScriptedDestination(socket, (n) => (n > 1 ? 'drop' : 0x0000)));
    await new Promise<void>((resolve) => vanishing.listen(0, '127.0.0.1', resolve));
    const address = vanishing.address();
    const port = typeof address === 'object' && address !== null ? address.port : 0;
    try {
      await catalog.pool.query('INSERT INTO dimse_move_destinations (clinic_id, ae_title, host, port) VALUES ($1, $2, $3, $4)', [clinicId, 'WS_GONE', '127.0.0.1', port]);
      const run = await move(AE, 'WS_GONE', '-S', ['QueryRetrieveLevel=STUDY', `StudyInstanceUID=${ct.studyInstanceUid}`]);
      expect(run.output).toMatch(/0xb000/i);
      expect(lastCount(run.output, 'Completed')).toBe(1);
      expect(lastCount(run.output, 'Failed')).toBe(4);
      expect(await lastTransferred()).toMatchObject({ status: '0xB000', completed: 1, failed: 4, remaining: 0 });
      // The archive calls the destination as its own AE title, not as whatever the C-MOVE SCU called it.
      expect(ScriptedDestination.callingAeTitles).toEqual(['YUNYING']);
      // The C-MOVE's own association is unharmed: the next move on a new one works.
      const out = await destination(clinicId, 'WS_AFTER');
      const again = await move(AE, 'WS_AFTER', '-S', ['QueryRetrieveLevel=SERIES', `StudyInstanceUID=${ct.studyInstanceUid}`, `SeriesInstanceUID=${ctSecond.seriesInstanceUid}`]);
      expect(lastCount(again.output, 'Completed')).toBe(2);
      expect((await received(out)).size).toBe(2);
    } finally {
      await new Promise<void>((resolve) => vanishing.close(() => resolve()));
    }
  });

  it('C-CANCEL (dcmjs-dimse as SCU) stops the move between two sub-operations: 0xFE00 with what remained', async () => {
    const out = await destination(clinicId, 'WS_CANCEL');
    const final = await new Promise<responses.CMoveResponse>((resolve, reject) => {
      const client = new Client();
      const request = new requests.CMoveRequest();
      request.setDataset(new Dataset({ QueryRetrieveLevel: 'STUDY', StudyInstanceUID: ct.studyInstanceUid }));
      request.getCommandDataset().setElement('MoveDestination', 'WS_CANCEL');
      let pendings = 0;
      let last: responses.CMoveResponse | undefined;
      request.on('response', (response: responses.CMoveResponse) => {
        if (response.getStatus() === constants.Status.Pending) {
          pendings += 1;
          if (pendings === 1) client.cancel(request);
        } else last = response;
      });
      client.on('networkError', (error: Error) => reject(error));
      client.on('closed', () => (last === undefined ? reject(new Error('no final C-MOVE-RSP')) : resolve(last)));
      client.addRequest(request);
      client.send('127.0.0.1', server.port, AE, 'YUNYING');
    });
    expect(final.getStatus()).toBe(0xfe00);
    expect(final.getRemaining()).toBeGreaterThan(0);
    expect(final.getCompleted() + final.getRemaining() + final.getFailures()).toBe(5);
    expect((await fs.readdir(out)).length).toBe(final.getCompleted());
  });

  it('a destination that stores with a warning (0xB007): counted as warnings, final 0xB000, nothing listed as failed', async () => {
    const coercing = net.createServer((socket) => new ScriptedDestination(socket, (n) => (n === 2 ? 0xb007 : 0x0000)));
    await new Promise<void>((resolve) => coercing.listen(0, '127.0.0.1', resolve));
    const address = coercing.address();
    const port = typeof address === 'object' && address !== null ? address.port : 0;
    try {
      await catalog.pool.query('INSERT INTO dimse_move_destinations (clinic_id, ae_title, host, port) VALUES ($1, $2, $3, $4)', [clinicId, 'WS_COERCE', '127.0.0.1', port]);
      const run = await move(AE, 'WS_COERCE', '-S', ['QueryRetrieveLevel=STUDY', `StudyInstanceUID=${ct.studyInstanceUid}`]);
      expect(run.output).toMatch(/0xb000/i);
      expect(lastCount(run.output, 'Completed')).toBe(4);
      expect(lastCount(run.output, 'Warning')).toBe(1);
      expect(lastCount(run.output, 'Failed')).toBe(0);
      expect(await lastTransferred()).toMatchObject({ status: '0xB000', completed: 4, warning: 1, failed: 0, failedSopInstanceUids: [] });
    } finally {
      await new Promise<void>((resolve) => coercing.close(() => resolve()));
    }
  });

  describe('DICOM TLS to the destination (PS3.15 B.1)', () => {
    /** storescp +tls with `pair` as its key and certificate, registered for clinic one with these TLS settings. */
    const tlsDestination = async (aeTitle: string, pair: { key: string; cert: string }, settings: { caPem: string | null; serverName: string | null }): Promise<string> => {
      const out = await fs.mkdtemp(path.join(dir, `${aeTitle}-`));
      // -ic: the archive presents no client certificate to destinations.
      const { port, child } = await startStorescp(aeTitle, out, ['+tls', pair.key, pair.cert, '-ic']);
      destinations.push(child);
      await catalog.pool.query('INSERT INTO dimse_move_destinations (clinic_id, ae_title, host, port, tls, tls_ca_pem, tls_server_name) VALUES ($1, $2, $3, $4, true, $5, $6)', [
        clinicId,
        aeTitle,
        '127.0.0.1',
        port,
        settings.caPem,
        settings.serverName,
      ]);
      return out;
    };
    const caPem = async (): Promise<string> => fs.readFile(pki.ca.cert, 'utf8');

    it('a destination whose certificate verifies (clinic CA, its DNS name) gets every instance over TLS', async () => {
      const out = await tlsDestination('WS_TLS', pki.issue('ws-tls', ['ws-tls.clinic.test']), { caPem: await caPem(), serverName: 'ws-tls.clinic.test' });
      const run = await move(AE, 'WS_TLS', '-S', ['QueryRetrieveLevel=STUDY', `StudyInstanceUID=${ct.studyInstanceUid}`]);
      expect(run.output).toMatch(/DIMSE Status\s*:\s*0x0000/);
      expect(lastCount(run.output, 'Completed')).toBe(5);
      const files = await received(out);
      expect([...files.keys()].sort()).toEqual([...ct.sopInstanceUids, ...ctSecond.sopInstanceUids].sort());
      for (const [uid, parts] of files) expect(Buffer.compare(parts.dataset, splitPart10(stored.get(uid)!).dataset)).toBe(0);
      expect(await lastTransferred()).toMatchObject({ moveDestination: 'WS_TLS', moveDestinationTls: true, status: '0x0000', completed: 5 });
    });

    it('a certificate not from the configured CA: no association, every sub-operation failed (0xA702) with the reason', async () => {
      const out = await tlsDestination('WS_ROGUE', pki.selfSigned('ws-rogue', ['ws-rogue.clinic.test']), { caPem: await caPem(), serverName: 'ws-rogue.clinic.test' });
      const run = await move(AE, 'WS_ROGUE', '-S', ['QueryRetrieveLevel=STUDY', `StudyInstanceUID=${ct.studyInstanceUid}`]);
      expect(run.output).toMatch(/0xa702/i);
      expect(run.output).toMatch(/Move destination TLS certificate not verified/);
      expect(lastCount(run.output, 'Failed')).toBe(5);
      expect((await fs.readdir(out)).length).toBe(0);
      expect(await lastTransferred()).toMatchObject({ status: '0xA702', completed: 0, failed: 5, reason: 'Move destination TLS certificate not verified' });
    });

    it("a certificate from the CA but for another name, and one the system CAs don't know: both refused", async () => {
      const wrongName = await tlsDestination('WS_MISNAMED', pki.issue('ws-misnamed', ['someone-else.clinic.test']), { caPem: await caPem(), serverName: 'ws-misnamed.clinic.test' });
      const misnamed = await move(AE, 'WS_MISNAMED', '-S', ['QueryRetrieveLevel=STUDY', `StudyInstanceUID=${ct.studyInstanceUid}`]);
      expect(misnamed.output).toMatch(/0xa702/i);
      expect(misnamed.output).toMatch(/Move destination TLS certificate not verified/);
      expect((await fs.readdir(wrongName)).length).toBe(0);
      // No CA configured: Node's default CAs, which never issued the clinic's certificates.
      const noCa = await tlsDestination('WS_NO_CA', pki.issue('ws-no-ca', ['ws-no-ca.clinic.test']), { caPem: null, serverName: 'ws-no-ca.clinic.test' });
      const systemCas = await move(AE, 'WS_NO_CA', '-S', ['QueryRetrieveLevel=STUDY', `StudyInstanceUID=${ct.studyInstanceUid}`]);
      expect(systemCas.output).toMatch(/Move destination TLS certificate not verified/);
      expect((await fs.readdir(noCa)).length).toBe(0);
    });

    it('a plain-TCP destination registered as TLS fails the sub-operations instead of sending in clear', async () => {
      const out = await fs.mkdtemp(path.join(dir, 'WS_CLEAR-'));
      const { port, child } = await startStorescp('WS_CLEAR', out, []);
      destinations.push(child);
      await catalog.pool.query("INSERT INTO dimse_move_destinations (clinic_id, ae_title, host, port, tls) VALUES ($1, 'WS_CLEAR', '127.0.0.1', $2, true)", [clinicId, port]);
      const run = await move(AE, 'WS_CLEAR', '-S', ['QueryRetrieveLevel=STUDY', `StudyInstanceUID=${ct.studyInstanceUid}`]);
      expect(run.output).toMatch(/0xa702/i);
      expect((await fs.readdir(out)).length).toBe(0);
    });

    it('TLS settings on a plain destination are refused by the table, not ignored', async () => {
      await expect(
        catalog.pool.query("INSERT INTO dimse_move_destinations (clinic_id, ae_title, host, port, tls_server_name) VALUES ($1, 'WS_HALF', '127.0.0.1', 104, 'ws.clinic.test')", [clinicId]),
      ).rejects.toThrow(/dimse_move_destinations_tls_settings/);
    });
  });
});
