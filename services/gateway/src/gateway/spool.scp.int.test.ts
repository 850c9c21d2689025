import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { createLogger } from '@yunying/core';
import { SopClass, TransferSyntax } from '@yunying/dicom';
import { corrupt, makeStudy, newUid } from '@yunying/dicom/testing';
import type { ScpServer } from '@yunying/dimse';
import { RawScu, cStoreCommand, respondedToOf, runDcmtk, statusOf, storePdus, storeWindowed } from '@yunying/dimse/testing';
import { describeUnless, findExecutable } from '../../../../test/support/skip';
import { gatewayMetrics } from './gateway.metrics';
import { Spool } from './spool';
import { startSpoolScp } from './spool.scp';

const AE = 'US_ROOM1';
const GATEWAY_AE = 'YUNYING_GW';
const WINDOW = 8;

const dcmtkMissing = findExecutable('storescu') === null ? 'dcmtk (storescu) not installed' : null;

/**
 * The gateway's spool SCP with its asynchronous operations window (PS3.7 D.3.3.3): a raw SCU that proposes
 * a window (dcmtk's storescu cannot) beside a real synchronous storescu; every answer checked against
 * what the spool holds.
 */
describeUnless(dcmtkMissing, 'gateway spool SCP: asynchronous operations window', () => {
  let dir: string;
  let spool: Spool;
  let server: ScpServer;
  const usContext = { id: 1, abstractSyntaxUid: SopClass.UltrasoundImage, transferSyntaxUids: [TransferSyntax.ExplicitVRLittleEndian] };

  beforeAll(async () => {
    dir = await fs.mkdtemp(path.join(os.tmpdir(), 'yunying-gw-scp-'));
    spool = await Spool.open(path.join(dir, 'spool'), 1024 * 1024 * 1024, 1000);
    server = await startSpoolScp({
      host: '127.0.0.1',
      port: 0,
      allowedCallingAe: [],
      spool,
      metrics: gatewayMetrics(spool, () => null),
      logger: createLogger({ level: 'silent', service: 'gateway-test' }),
      onSpoolFull: () => undefined,
      maxOperationsInvoked: WINDOW,
    });
  });

  afterAll(async () => {
    await server.close();
    spool.close();
    await fs.rm(dir, { recursive: true, force: true });
  });

  /** The spooled file that holds this dataset (a Part 10 header, then the dataset byte for byte). */
  const spooledWith = async (dataset: Buffer): Promise<string | undefined> => {
    for (const file of spool.pendingFiles()) {
      const bytes = await fs.readFile(file.path);
      if (bytes.subarray(128, 132).toString('latin1') === 'DICM' && bytes.subarray(bytes.length - dataset.length).equals(dataset)) return file.path;
    }
    return undefined;
  };

  it('grants a proposed window: six C-STOREs sent before any response are each answered 0x0000 once spooled, while a synchronous storescu association stores too', async () => {
    const sopInstanceUids = Array.from({ length: 6 }, () => newUid());
    const study = newUid();
    const datasets = sopInstanceUids.map((sopInstanceUid, i) => corrupt.withoutPart10Header({ studyInstanceUid: study, sopInstanceUid, instanceNumber: i + 1 }));
    const parallel = makeStudy(3);
    const parallelFiles = await Promise.all(
      parallel.files.map(async (bytes, i) => {
        const file = path.join(dir, `parallel-${i}.dcm`);
        await fs.writeFile(file, bytes);
        return file;
      }),
    );
    const before = spool.pendingFiles().length;

    const scu = await RawScu.connect(server.port);
    const { pdu: answer, asyncOps } = await scu.associate(AE, GATEWAY_AE, [usContext], { asyncOps: { invoked: 12, performed: 12 } });
    expect(answer?.type).toBe(0x02);
    // min(12 proposed, 8 ours) of the requestor's operations outstanding; ours (none here) one at a time.
    expect(asyncOps).toEqual({ invoked: WINDOW, performed: 1 });
    const synchronous = runDcmtk('storescu', ['-aet', 'US_ROOM2', '-aec', GATEWAY_AE, '-td', '20', '127.0.0.1', String(server.port), ...parallelFiles], 60_000);
    // All six requests in one write: nothing is answered before the last one is sent.
    scu.send(Buffer.concat(datasets.map((dataset, i) => storePdus(1, cStoreCommand({ messageId: i + 1, sopClassUid: SopClass.UltrasoundImage, sopInstanceUid: sopInstanceUids[i]! }), dataset))));
    const answered: { messageId: number; status: number }[] = [];
    for (let i = 0; i < datasets.length; i += 1) {
      const response = await scu.next();
      expect(response?.type).toBe(0x04);
      const messageId = respondedToOf(response!);
      answered.push({ messageId, status: statusOf(response!) });
      // The acknowledgement rule: an answered instance is already in pending/ (written, fsync'd, renamed).
      expect(await spooledWith(datasets[messageId - 1]!)).toBeDefined();
    }
    // Any order (PS3.7 8.3.3.2), each request answered exactly once.
    expect(answered.map((a) => a.messageId).sort((a, b) => a - b)).toEqual([1, 2, 3, 4, 5, 6]);
    expect(answered.every((a) => a.status === 0x0000)).toBe(true);
    expect((await scu.release())?.type).toBe(0x06);
    await scu.closed;

    const run = await synchronous;
    expect(run.code).toBe(0);
    expect(spool.pendingFiles().length).toBe(before + datasets.length + parallel.files.length);
  });

  it('without a proposal stays synchronous (no sub-item in the A-ASSOCIATE-AC) and aborts a C-STORE sent before the one before it is answered', async () => {
    const scu = await RawScu.connect(server.port);
    const { pdu: answer, asyncOps } = await scu.associate(AE, GATEWAY_AE, [usContext]);
    expect(answer?.type).toBe(0x02);
    expect(asyncOps).toBeNull();
    const stores = [newUid(), newUid()].map((sopInstanceUid) => ({ sopInstanceUid, dataset: corrupt.withoutPart10Header({ sopInstanceUid }) }));
    scu.send(Buffer.concat(stores.map(({ sopInstanceUid, dataset }, i) => storePdus(1, cStoreCommand({ messageId: i + 1, sopClassUid: SopClass.UltrasoundImage, sopInstanceUid }), dataset))));
    expect((await scu.next())?.type).toBe(0x07); // A-ABORT
    await scu.closed;
    expect(await spooledWith(stores[1]!.dataset)).toBeUndefined();
  });

  it('keeps a window of C-STOREs outstanding to the end, as a modality that uses one does', async () => {
    const instances = Array.from({ length: 20 }, () => {
      const sopInstanceUid = newUid();
      return { sopClassUid: SopClass.UltrasoundImage, transferSyntaxUid: TransferSyntax.ExplicitVRLittleEndian, sopInstanceUid, dataset: corrupt.withoutPart10Header({ sopInstanceUid }) };
    });
    const statuses = await storeWindowed({ port: server.port, callingAe: AE, calledAe: GATEWAY_AE, window: 16, instances });
    expect([...statuses.values()]).toEqual(instances.map(() => 0x0000));
    for (const instance of instances) expect(await spooledWith(instance.dataset)).toBeDefined();
  });
});
