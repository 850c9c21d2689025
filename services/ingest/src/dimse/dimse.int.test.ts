import { createHash } from 'node:crypto';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { Writable } from 'node:stream';
import { Registry } from 'prom-client';
import { createLogger } from '@yunying/core';
import { createTestCatalog, type TestCatalog } from '@yunying/catalog/testing';
import { SopClass, TransferSyntax, parseInstance } from '@yunying/dicom';
import { corrupt, makeInstance, makeStudy, newUid } from '@yunying/dicom/testing';
import { ReplicatedStore } from '@yunying/storage';
import { takeFsTargetOffline, tempFsTargets, type TempFsTargets } from '@yunying/storage/testing';
import { describeUnless, findExecutable } from '../../../../test/support/skip';
import { IngestPipeline, type InstanceOutcome, type Sender } from '../ingest.pipeline';
import { startDimseServer, type DimseServer } from './index';
import { RawScu, cStoreCommand, pData, pdu, respondedToOf, statusOf, storePdus, runDcmtk, type DcmtkRun } from '@yunying/dimse/testing';

const AE = 'CLINIC_US1';
const SCP_AE = 'YUNYING';
const CLIENT_TIMEOUT_MS = 30_000;

/** dcmtk tools with this file's client timeout. */
const dcmtk = (tool: string, args: string[], timeoutMs = CLIENT_TIMEOUT_MS): Promise<DcmtkRun> => runDcmtk(tool, args, timeoutMs);

const dcmtkMissing = findExecutable('storescu') === null || findExecutable('echoscu') === null || findExecutable('dcmsend') === null ? 'dcmtk (echoscu, storescu, dcmsend) not installed' : null;

describeUnless(dcmtkMissing, 'DIMSE SCP with real dcmtk clients', () => {
  let catalog: TestCatalog;
  let storage: TempFsTargets;
  let server: DimseServer;
  let clinicId: string;
  let otherClinicId: string;
  let dir: string;
  let metrics: Registry;
  const outcomes: { outcome: InstanceOutcome; sender: Sender }[] = [];
  const logLines: string[] = [];

  const store = (...args: string[]): Promise<DcmtkRun> => dcmtk('storescu', ['-v', '-aet', AE, '-aec', SCP_AE, '-td', '20', '127.0.0.1', String(server.port), ...args]);
  const echo = (aet: string, aec = SCP_AE, port = server.port): Promise<DcmtkRun> => dcmtk('echoscu', ['-aet', aet, '-aec', aec, '-ta', '10', '127.0.0.1', String(port)]);
  const write = async (name: string, bytes: Buffer): Promise<string> => {
    const file = path.join(dir, name);
    await fs.writeFile(file, bytes);
    return file;
  };
  const instancesOf = async (sopInstanceUids: string[]): Promise<{ sop_instance_uid: string; clinic_id: string; transfer_syntax_uid: string; sha256: string }[]> =>
    (
      await catalog.pool.query<{ sop_instance_uid: string; clinic_id: string; transfer_syntax_uid: string; sha256: string }>(
        'SELECT sop_instance_uid, clinic_id, transfer_syntax_uid, sha256 FROM instances WHERE sop_instance_uid = ANY($1) ORDER BY instance_number',
        [sopInstanceUids],
      )
    ).rows;
  const metric = async (name: string, labels: Record<string, string>): Promise<number> => {
    const found = (await metrics.getSingleMetric(name)?.get())?.values.find((v) => Object.entries(labels).every(([k, l]) => v.labels[k] === l));
    return found?.value ?? 0;
  };

  beforeAll(async () => {
    catalog = await createTestCatalog('dimse');
    storage = await tempFsTargets();
    dir = await fs.mkdtemp(path.join(os.tmpdir(), 'yunying-dimse-'));
    const clinic = await catalog.pool.query<{ id: string }>("INSERT INTO clinics (code, name, dimse_auth) VALUES ('us-1', 'US clinic one', 'ae_only') RETURNING id");
    clinicId = clinic.rows[0]!.id;
    await catalog.pool.query('INSERT INTO clinic_ae_titles (ae_title, clinic_id) VALUES ($1, $2)', [AE, clinicId]);
    const other = await catalog.pool.query<{ id: string }>("INSERT INTO clinics (code, name, dimse_auth) VALUES ('us-2', 'US clinic two', 'ae_only') RETURNING id");
    otherClinicId = other.rows[0]!.id;
    await catalog.pool.query('INSERT INTO clinic_ae_titles (ae_title, clinic_id) VALUES ($1, $2)', ['CLINIC_US2', otherClinicId]);

    const logger = createLogger({
      level: 'debug',
      service: 'ingest-test',
      destination: new Writable({
        write(chunk: Buffer, _encoding, callback) {
          logLines.push(chunk.toString());
          callback();
        },
      }),
    });
    const pipeline = new IngestPipeline({
      pool: catalog.pool,
      store: new ReplicatedStore({ targets: storage.targets }),
      logger,
      metrics: new Registry(),
      parseLimits: {},
      retentionMinYears: 15,
    });
    metrics = new Registry();
    server = await startDimseServer({
      host: '127.0.0.1',
      port: 0,
      aeTitle: SCP_AE,
      checkCalledAe: false,
      pool: catalog.pool,
      pipeline: {
        openBatch: (sender, expectedStudyUid, limits) => {
          const batch = pipeline.openBatch(sender, expectedStudyUid, limits);
          return {
            add: (bytes) => {
              const started = batch.add(bytes);
              void started.outcome.then((outcome) => outcomes.push({ outcome, sender }));
              return started;
            },
          };
        },
      },
      logger,
      metrics,
    });
  });

  afterAll(async () => {
    await server?.close();
    await storage?.cleanup();
    await catalog?.drop();
    if (dir) await fs.rm(dir, { recursive: true, force: true });
  });

  beforeEach(() => {
    outcomes.length = 0;
  });

  it('answers C-ECHO for a known calling AE (any called AE)', async () => {
    const run = await echo(AE, 'WHATEVER');
    expect(run.output).not.toMatch(/reject/i);
    expect(run.code).toBe(0);
  });

  it('rejects an unknown calling AE at association, stores nothing and audits a Security Alert', async () => {
    const echoRun = await echo('STRANGER');
    expect(echoRun.code).not.toBe(0);
    expect(echoRun.output).toMatch(/Calling AE Title Not Recognized/i);

    const study = makeStudy(1);
    const file = await write('stranger.dcm', study.files[0]!);
    const run = await dcmtk('storescu', ['-aet', 'STRANGER', '-aec', SCP_AE, '127.0.0.1', String(server.port), file]);
    expect(run.code).not.toBe(0);
    expect(outcomes).toHaveLength(0);
    expect(await instancesOf(study.sopInstanceUids)).toHaveLength(0);

    const audit = await catalog.pool.query<{ event_type: string; actor_username: string; outcome: number; details: { reason: string } }>(
      "SELECT event_type, actor_username, outcome, details FROM audit_events WHERE actor_username = 'ae:STRANGER'",
    );
    expect(audit.rows.length).toBeGreaterThanOrEqual(2);
    expect(audit.rows[0]).toMatchObject({ event_type: 'Security Alert', outcome: 4, details: { reason: 'calling AE title not recognized' } });
    expect(await metric('yunying_dimse_associations_total', { outcome: 'rejected_calling_ae_not_recognized' })).toBeGreaterThanOrEqual(2);
  });

  it('stores a study sent by storescu: every instance for the sending clinic, three verified copies; again changes nothing', async () => {
    const study = makeStudy(3, { patientName: 'Secret^Patient', patientId: 'SECRET-PID-77' });
    const files = await Promise.all(study.files.map((bytes, i) => write(`study-${i}.dcm`, bytes)));

    const run = await store(...files);
    // On failure, show why the pipeline refused (an environment problem shows up here, not as a bare 167).
    expect({ code: run.code, refused: outcomes.filter((o) => o.outcome.status === 'rejected') }).toEqual({ code: 0, refused: [] });
    expect(outcomes.map((o) => o.outcome.status)).toEqual(['stored', 'stored', 'stored']);
    expect(outcomes[0]!.sender).toMatchObject({ clinicId, via: 'DIMSE', actor: { username: `ae:${AE}`, role: 'device', clinicId }, sourceIp: expect.stringContaining('127.0.0.1') });

    const rows = await instancesOf(study.sopInstanceUids);
    expect(rows.map((r) => r.sop_instance_uid)).toEqual(study.sopInstanceUids);
    for (const row of rows) {
      expect(row.clinic_id).toBe(clinicId);
      const copies = await catalog.pool.query<{ target: string; object_key: string; state: string; sha256: string }>(
        'SELECT target, object_key, state, sha256 FROM copies WHERE sha256 = $1 ORDER BY target',
        [row.sha256],
      );
      expect(copies.rows.map((c) => [c.target, c.state])).toEqual([
        ['fs-1', 'ok'],
        ['fs-2', 'ok'],
        ['fs-3', 'ok'],
      ]);
      for (const copy of copies.rows) {
        const target = storage.targets.find((t) => t.name === copy.target)!;
        const stored = await fs.readFile(path.join(target.root, ...copy.object_key.split('/')));
        expect(createHash('sha256').update(stored).digest('hex')).toBe(copy.sha256);
        // The stored object is the Part 10 file this SCP wrapped around the received dataset.
        const parsed = parseInstance(stored);
        expect(parsed.sopInstanceUid).toBe(row.sop_instance_uid);
        expect(parsed.transferSyntaxUid).toBe(TransferSyntax.ExplicitVRLittleEndian);
        expect(stored.subarray(128, 132).toString('latin1')).toBe('DICM');
        expect(stored.includes(Buffer.from(AE, 'latin1'))).toBe(true); // (0002,0016) Source AE
      }
    }

    outcomes.length = 0;
    const again = await store(...files);
    expect(again.code).toBe(0);
    expect(outcomes.map((o) => o.outcome.status)).toEqual(['already_stored', 'already_stored', 'already_stored']);
    const count = await catalog.pool.query<{ n: string }>('SELECT count(*) AS n FROM instances WHERE sop_instance_uid = ANY($1)', [study.sopInstanceUids]);
    expect(Number(count.rows[0]!.n)).toBe(3);
    expect(await metric('yunying_dimse_cstore_total', { status: '0x0000' })).toBeGreaterThanOrEqual(6);
    // Logs carry AE titles and UIDs, never patient names or ids.
    expect(logLines.join('')).not.toMatch(/Secret\^Patient|SECRET-PID-77/);
  });

  it('keeps JPEG Baseline as sent (storescu -xy and dcmsend)', async () => {
    const viaStorescu = makeInstance({ transferSyntax: TransferSyntax.JPEGBaseline, photometric: 'YBR_FULL', frames: 3 });
    const viaDcmsend = makeInstance({ transferSyntax: TransferSyntax.JPEGBaseline });
    const storescuFile = await write('jpeg-storescu.dcm', viaStorescu);
    const dcmsendFile = await write('jpeg-dcmsend.dcm', viaDcmsend);

    const run = await store('-xy', storescuFile);
    expect(run.code).toBe(0);
    const sent = await dcmtk('dcmsend', ['-aet', AE, '-aec', SCP_AE, '127.0.0.1', String(server.port), dcmsendFile]);
    expect(sent.code).toBe(0);

    const uids = [parseInstance(viaStorescu).sopInstanceUid, parseInstance(viaDcmsend).sopInstanceUid];
    const rows = await instancesOf(uids);
    expect(rows).toHaveLength(2);
    for (const row of rows) {
      expect(row.transfer_syntax_uid).toBe(TransferSyntax.JPEGBaseline);
      expect(row.clinic_id).toBe(clinicId);
    }
    expect(outcomes.map((o) => o.outcome.status === 'rejected' ? 'rejected' : o.outcome.transferSyntaxUid)).toEqual([TransferSyntax.JPEGBaseline, TransferSyntax.JPEGBaseline]);
  });

  it('answers a dataset it cannot understand with 0xC000, and one that does not match its SOP class with 0xA900, promptly', async () => {
    const deepUid = newUid();
    const shortUid = newUid();
    const tooDeep = corrupt.deepNesting(20, { sopInstanceUid: deepUid }); // parses in dcmtk, refused by ours (nesting limit 16)
    const shortPixels = makeInstance({ sopInstanceUid: shortUid, extra: { Rows: 64 } }); // Rows x Columns larger than the Pixel Data
    const deepFile = await write('deep.dcm', tooDeep);
    const shortFile = await write('short-pixels.dcm', shortPixels);

    const deep = await store(deepFile);
    expect(deep.code).toBe(0xc0); // storescu exits with the high byte of the failure status
    expect(deep.ms).toBeLessThan(10_000);
    expect(deep.output).toMatch(/Received Store Response \(Error: CannotUnderstand\)/);

    const short = await store(shortFile);
    expect(short.code).toBe(0xa9);
    expect(short.ms).toBeLessThan(10_000);
    expect(short.output).toMatch(/Received Store Response \(.*(0xa900|DoesNotMatch).*\)/i);

    expect(outcomes.map((o) => (o.outcome.status === 'rejected' ? o.outcome.failureReason : 0))).toEqual([0xc000, 0xa900]);
    expect(await instancesOf([deepUid, shortUid])).toHaveLength(0);
    expect(await metric('yunying_dimse_cstore_total', { status: '0xC000' })).toBeGreaterThanOrEqual(1);
  });

  it('refuses with 0xA700 (retryable) when a replica target is down and the quorum is 3 of 3', async () => {
    const instance = makeInstance();
    const file = await write('quorum.dcm', instance);
    const restore = await takeFsTargetOffline(storage.targets[1]!);
    let run: DcmtkRun;
    try {
      run = await store(file);
    } finally {
      await restore();
    }
    expect(run.code).toBe(167); // INTEROP-NOTES: storescu's exit code for "out of resources"
    expect(run.output).toMatch(/Received Store Response \(Refused: OutOfResources\)/);
    expect(outcomes[0]?.outcome).toMatchObject({ status: 'rejected', failureReason: 0xa700, retryable: true });
    expect(await instancesOf([parseInstance(instance).sopInstanceUid])).toHaveLength(0);

    // The same file once the target is back: stored (the retry the status asked for).
    outcomes.length = 0;
    expect((await store(file)).code).toBe(0);
    expect(await instancesOf([parseInstance(instance).sopInstanceUid])).toHaveLength(1);
  });

  it('files each instance under the clinic of the AE that sent it, and a UID of another clinic is refused', async () => {
    const instance = makeInstance();
    const file = await write('clinic-two.dcm', instance);
    const run = await dcmtk('storescu', ['-aet', 'CLINIC_US2', '-aec', SCP_AE, '127.0.0.1', String(server.port), file]);
    expect(run.code).toBe(0);
    const [row] = await instancesOf([parseInstance(instance).sopInstanceUid]);
    expect(row?.clinic_id).toBe(otherClinicId);

    const again = await store(file); // the same SOP Instance UID from clinic one
    expect(again.code).not.toBe(0);
    expect(again.output).toMatch(/Received Store Response \(.*0x110\)/);
  });

  it('stores what was sent before an A-ABORT (storescu --abort) and keeps serving', async () => {
    const instance = makeInstance();
    const run = await store('--abort', await write('abort.dcm', instance));
    expect(run.code).toBe(0);
    expect(await instancesOf([parseInstance(instance).sopInstanceUid])).toHaveLength(1);
    expect((await echo(AE)).code).toBe(0);
  });

  describe('over a raw upper-layer connection', () => {
    const usContext = { id: 1, abstractSyntaxUid: SopClass.UltrasoundImage, transferSyntaxUids: [TransferSyntax.ExplicitVRLittleEndian] };

    it('negotiates an asynchronous operations window: six C-STOREs sent before any response are each answered 0x0000 once durable, three copies each, while a parallel storescu association stores too', async () => {
      const study = newUid();
      const sopInstanceUids = Array.from({ length: 6 }, () => newUid());
      const datasets = sopInstanceUids.map((sopInstanceUid, i) => corrupt.withoutPart10Header({ studyInstanceUid: study, sopInstanceUid, instanceNumber: i + 1 }));
      const parallelStudy = makeStudy(3);
      const parallelFiles = await Promise.all(parallelStudy.files.map((bytes, i) => write(`parallel-${i}.dcm`, bytes)));

      const scu = await RawScu.connect(server.port);
      const { pdu: answer, accepted, asyncOps } = await scu.associate(AE, SCP_AE, [usContext], { asyncOps: { invoked: 8, performed: 8 } });
      expect(answer?.type).toBe(0x02);
      expect(accepted.get(1)).toBe(TransferSyntax.ExplicitVRLittleEndian);
      // PS3.7 D.3.3.3: up to 8 of the requestor's operations outstanding; ours (sub-operations) one at a time.
      expect(asyncOps).toEqual({ invoked: 8, performed: 1 });
      const parallel = store(...parallelFiles);
      // All six requests in one write: nothing is answered before the last one is sent.
      scu.send(Buffer.concat(datasets.map((dataset, i) => storePdus(1, cStoreCommand({ messageId: i + 1, sopClassUid: SopClass.UltrasoundImage, sopInstanceUid: sopInstanceUids[i]! }), dataset))));
      const answered: { messageId: number; status: number }[] = [];
      for (let i = 0; i < datasets.length; i += 1) {
        const response = await scu.next();
        expect(response?.type).toBe(0x04);
        answered.push({ messageId: respondedToOf(response!), status: statusOf(response!) });
      }
      // Responses may come in any order (PS3.7 8.3.3.2); each request gets exactly one.
      expect(answered.map((a) => a.messageId).sort((a, b) => a - b)).toEqual([1, 2, 3, 4, 5, 6]);
      expect(answered.every((a) => a.status === 0x0000)).toBe(true);
      expect((await scu.release())?.type).toBe(0x06);
      await scu.closed;

      const rows = await instancesOf(sopInstanceUids);
      expect(rows.map((r) => r.sop_instance_uid).sort()).toEqual([...sopInstanceUids].sort());
      for (const row of rows) {
        const copies = await catalog.pool.query<{ target: string; state: string }>('SELECT target, state FROM copies WHERE sha256 = $1 ORDER BY target', [row.sha256]);
        expect(copies.rows.map((c) => [c.target, c.state])).toEqual([
          ['fs-1', 'ok'],
          ['fs-2', 'ok'],
          ['fs-3', 'ok'],
        ]);
      }
      const counted = await catalog.pool.query<{ number_of_instances: number }>('SELECT number_of_instances FROM studies WHERE study_instance_uid = $1', [study]);
      expect(counted.rows[0]?.number_of_instances).toBe(6);
      expect((await parallel).code).toBe(0);
      expect(await instancesOf(parallelStudy.sopInstanceUids)).toHaveLength(3);
    });

    it('without a proposed window stays synchronous (no sub-item in the A-ASSOCIATE-AC) and aborts a C-STORE sent before the one before it is answered', async () => {
      const scu = await RawScu.connect(server.port);
      const { pdu: answer, asyncOps } = await scu.associate(AE, SCP_AE, [usContext]);
      expect(answer?.type).toBe(0x02);
      expect(asyncOps).toBeNull();
      const datasets = [newUid(), newUid()].map((sopInstanceUid) => ({ sopInstanceUid, dataset: corrupt.withoutPart10Header({ sopInstanceUid }) }));
      scu.send(Buffer.concat(datasets.map(({ sopInstanceUid, dataset }, i) => storePdus(1, cStoreCommand({ messageId: i + 1, sopClassUid: SopClass.UltrasoundImage, sopInstanceUid }), dataset))));
      expect((await scu.next())?.type).toBe(0x07); // A-ABORT
      await scu.closed;
      expect(await instancesOf([datasets[1]!.sopInstanceUid])).toHaveLength(0);
    });

    it('answers a truncated dataset with 0xC000 instead of hanging, and stores nothing', async () => {
      const full = makeInstance();
      const sopInstanceUid = parseInstance(full).sopInstanceUid;
      const dataset = corrupt.withoutPart10Header({});
      const scu = await RawScu.connect(server.port);
      const { pdu: answer, accepted } = await scu.associate(AE, SCP_AE, [usContext]);
      expect(answer?.type).toBe(0x02);
      expect(accepted.get(1)).toBe(TransferSyntax.ExplicitVRLittleEndian);
      scu.sendStore(1, cStoreCommand({ messageId: 1, sopClassUid: SopClass.UltrasoundImage, sopInstanceUid }), corrupt.truncate(dataset, dataset.length - 200));
      const response = await scu.next();
      expect(response?.type).toBe(0x04);
      expect(statusOf(response!)).toBe(0xc000);
      expect((await scu.release())?.type).toBe(0x06);
      await scu.closed;
      expect(await instancesOf([sopInstanceUid])).toHaveLength(0);
    });

    it('answers 0xA900 when the dataset is not of the SOP class the command names', async () => {
      const dataset = corrupt.withoutPart10Header({}); // an Ultrasound Image
      const ctContext = { id: 3, abstractSyntaxUid: SopClass.CTImage, transferSyntaxUids: [TransferSyntax.ExplicitVRLittleEndian] };
      const scu = await RawScu.connect(server.port);
      await scu.associate(AE, SCP_AE, [ctContext]);
      scu.sendStore(3, cStoreCommand({ messageId: 7, sopClassUid: SopClass.CTImage, sopInstanceUid: newUid() }), dataset);
      const response = await scu.next();
      expect(statusOf(response!)).toBe(0xa900);
      await scu.release();
    });

    it('refuses contexts it does not serve and transfer syntaxes the parser does not know', async () => {
      const scu = await RawScu.connect(server.port);
      const { accepted } = await scu.associate(AE, SCP_AE, [
        { id: 1, abstractSyntaxUid: '1.2.840.10008.5.1.4.1.2.2.2', transferSyntaxUids: [TransferSyntax.ImplicitVRLittleEndian] }, // Study Root MOVE
        { id: 3, abstractSyntaxUid: SopClass.UltrasoundImage, transferSyntaxUids: ['1.2.840.10008.1.2.4.999'] },
        { id: 5, abstractSyntaxUid: SopClass.UltrasoundMultiFrameImage, transferSyntaxUids: [TransferSyntax.ExplicitVRLittleEndian, TransferSyntax.JPEGBaseline] },
        { id: 7, abstractSyntaxUid: '1.2.840.10008.1.1', transferSyntaxUids: [TransferSyntax.ImplicitVRLittleEndian] },
      ]);
      expect([...accepted.entries()]).toEqual([
        [5, TransferSyntax.JPEGBaseline],
        [7, TransferSyntax.ImplicitVRLittleEndian],
      ]);
      await scu.release();
    });

    it('survives a connection dropped mid-dataset: nothing stored, the next association works', async () => {
      const full = makeInstance();
      const sopInstanceUid = parseInstance(full).sopInstanceUid;
      const dataset = corrupt.withoutPart10Header({});
      const scu = await RawScu.connect(server.port);
      await scu.associate(AE, SCP_AE, [usContext]);
      scu.send(pData(1, cStoreCommand({ messageId: 1, sopClassUid: SopClass.UltrasoundImage, sopInstanceUid }), true, true));
      scu.send(pData(1, dataset.subarray(0, 100), false, false));
      scu.destroy();
      await scu.closed;
      expect((await echo(AE)).code).toBe(0);
      expect(await instancesOf([sopInstanceUid])).toHaveLength(0);
    });

    it('aborts a PDU that declares a length far over the limit', async () => {
      const scu = await RawScu.connect(server.port);
      await scu.associate(AE, SCP_AE, [usContext]);
      const header = pdu(0x04, Buffer.alloc(0));
      header.writeUInt32BE(0x7fffffff, 2);
      scu.send(Buffer.concat([header, Buffer.alloc(1000)]));
      const answer = await scu.next();
      expect(answer?.type).toBe(0x07); // A-ABORT
      await scu.closed;
    });
  });

  describe('with short timeouts and limits', () => {
    let strict: DimseServer;
    beforeAll(async () => {
      strict = await startDimseServer({
        host: '127.0.0.1',
        port: 0,
        aeTitle: SCP_AE,
        checkCalledAe: true,
        pool: catalog.pool,
        pipeline: {
          openBatch: () => {
            throw new Error('must not be called');
          },
        },
        logger: createLogger({ level: 'silent', service: 'ingest-test' }),
        metrics: new Registry(),
        associationTimeoutMs: 300,
        pduTimeoutMs: 300,
        maxInstanceBytes: 1000,
      });
    });
    afterAll(async () => {
      await strict?.close();
    });

    it('checks the called AE title when configured to', async () => {
      expect((await echo(AE, 'NOT_YUNYING', strict.port)).code).not.toBe(0);
      expect((await echo(AE, SCP_AE, strict.port)).code).toBe(0);
    });

    it('closes a connection that sends no A-ASSOCIATE-RQ, and aborts an idle association', async () => {
      const silent = await RawScu.connect(strict.port);
      expect(await silent.next()).toBeNull();
      const idle = await RawScu.connect(strict.port);
      await idle.associate(AE, SCP_AE, [usContext()]);
      expect((await idle.next())?.type).toBe(0x07);
      await idle.closed;
    });

    it('drains an instance over maxInstanceBytes and answers 0xA700', async () => {
      const run = await dcmtk('storescu', ['-v', '-aet', AE, '-aec', SCP_AE, '-td', '20', '127.0.0.1', String(strict.port), await write('big.dcm', makeInstance({ rows: 64, columns: 64 }))]);
      expect(run.code).toBe(167);
      expect(run.output).toMatch(/Received Store Response \(Refused: OutOfResources\)/);
    });
  });
});

function usContext(): { id: number; abstractSyntaxUid: string; transferSyntaxUids: string[] } {
  return { id: 1, abstractSyntaxUid: SopClass.UltrasoundImage, transferSyntaxUids: [TransferSyntax.ExplicitVRLittleEndian] };
}
