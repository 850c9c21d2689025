import { AppError, createLogger } from '@yunying/core';
import { SopClass, TransferSyntax } from '@yunying/dicom';
import { waitFor } from '../../../test/support/wait';
import { wrapPart10 } from './part10';
import { startScpServer, type ScpServer, type ScpServerOptions } from './scp.server';
import type { AssociationDecision, ReceivedInstance, StoreContext } from './scp.types';
import type { StoreAnswer } from './store-status';
import { RawScu, cStoreCommand, pdu, statusOf } from './testing';

const implementation = { classUid: '1.2.826.0.1.3680043.10.1557.99', versionName: 'YY_TEST' };
const usContext = { id: 1, abstractSyntaxUid: SopClass.UltrasoundImage, transferSyntaxUids: [TransferSyntax.ExplicitVRLittleEndian] };
// Never parsed by the SCP: any bytes stand for a dataset.
const dataset = Buffer.from('an even-length stand-in for a dataset!', 'latin1');

interface Session {
  sender: string;
}

describe('startScpServer (loopback, raw upper-layer client)', () => {
  const servers: ScpServer[] = [];
  const events: string[] = [];
  const stored: { bytes: Buffer; byteLength: number; session: Session; callingAe: string }[] = [];

  async function start(overrides: Partial<ScpServerOptions<Session>> = {}): Promise<ScpServer> {
    const server = await startScpServer<Session>({
      host: '127.0.0.1',
      port: 0,
      implementation,
      logger: createLogger({ level: 'silent', service: 'dimse-test' }),
      shuttingDownComment: 'Shutting down; retry later',
      onAssociation: ({ callingAe }): AssociationDecision<Session> =>
        callingAe === 'KNOWN' ? { accept: true, session: { sender: `ae:${callingAe}` } } : { accept: false, reason: 'calling_ae_not_recognized', outcome: 'unknown_ae' },
      onStore: (instance: ReceivedInstance, context: StoreContext<Session>): Promise<StoreAnswer> => {
        stored.push({ byteLength: instance.byteLength, bytes: instance.toBuffer(), session: context.session, callingAe: context.callingAe });
        return Promise.resolve({ status: 0x0000 });
      },
      observer: {
        associationDecided: (outcome) => events.push(`decided:${outcome}`),
        associationEnded: (how) => events.push(`ended:${how}`),
        storeAnswered: (status) => events.push(`answered:${status.toString(16)}`),
      },
      ...overrides,
    });
    servers.push(server);
    return server;
  }

  async function storeOne(server: ScpServer, sopClassUid: string = SopClass.UltrasoundImage, bytes: Buffer = dataset): Promise<{ scu: RawScu; status: number }> {
    const scu = await RawScu.connect(server.port);
    const { pdu: answer } = await scu.associate('KNOWN', 'ANY', [usContext]);
    expect(answer?.type).toBe(0x02);
    scu.sendStore(1, cStoreCommand({ messageId: 7, sopClassUid, sopInstanceUid: '1.2.3.4' }), bytes);
    const response = await scu.next();
    expect(response?.type).toBe(0x04);
    return { scu, status: statusOf(response!) };
  }

  beforeEach(() => {
    events.length = 0;
    stored.length = 0;
  });

  afterAll(async () => {
    await Promise.all(servers.map((s) => s.close()));
  });

  it('hands the handler the dataset, byte for byte, behind a Part 10 header, and answers its status', async () => {
    const server = await start();
    const { scu, status } = await storeOne(server);
    expect(status).toBe(0x0000);
    expect(stored).toHaveLength(1);
    const expected = wrapPart10({ mediaStorageSopClassUid: SopClass.UltrasoundImage, mediaStorageSopInstanceUid: '1.2.3.4', transferSyntaxUid: TransferSyntax.ExplicitVRLittleEndian, sourceApplicationEntityTitle: 'KNOWN' }, [dataset], implementation);
    expect(stored[0]!.bytes.equals(expected)).toBe(true);
    expect(stored[0]!.byteLength).toBe(expected.length);
    expect(stored[0]).toMatchObject({ session: { sender: 'ae:KNOWN' }, callingAe: 'KNOWN' });
    expect((await scu.release())?.type).toBe(0x06); // A-RELEASE-RP
    await scu.closed;
    expect(events).toEqual(['decided:accepted', 'answered:0', 'ended:released']);
  });

  it('sends the rejection the service chose, and a transient one when the service cannot decide', async () => {
    const server = await start();
    const stranger = await RawScu.connect(server.port);
    const rejected = (await stranger.associate('STRANGER', 'ANY', [usContext])).pdu;
    expect(rejected?.type).toBe(0x03); // A-ASSOCIATE-RJ
    expect([...rejected!.body.subarray(1, 4)]).toEqual([1, 1, 3]); // permanent, service-user, calling AE not recognized
    await stranger.closed;

    const failing = await start({ onAssociation: () => Promise.reject(new Error('registry down')) });
    const scu = await RawScu.connect(failing.port);
    const transient = (await scu.associate('KNOWN', 'ANY', [usContext])).pdu;
    expect([...transient!.body.subarray(1, 4)]).toEqual([2, 3, 1]); // transient, service-provider (presentation), congestion
    await scu.closed;
    expect(events).toEqual(['decided:rejected_unknown_ae', 'decided:rejected_unavailable']);
  });

  it('answers without calling the handler: over the size limit 0xA700, SOP class not the context 0x0122', async () => {
    const server = await start({ maxInstanceBytes: 10 });
    expect((await storeOne(server)).status).toBe(0xa700);
    expect((await storeOne(server, SopClass.CTImage)).status).toBe(0xa700); // the size check comes first
    const roomy = await start();
    expect((await storeOne(roomy, SopClass.CTImage)).status).toBe(0x0122);
    expect(stored).toHaveLength(0);
  });

  it('answers 0xA700 when the handler outlives storeTimeoutMs, and maps a handler exception', async () => {
    const slow = await start({ storeTimeoutMs: 100, onStore: () => new Promise<StoreAnswer>((resolve) => setTimeout(() => resolve({ status: 0 }), 1_000)) });
    expect((await storeOne(slow)).status).toBe(0xa700);
    const broken = await start({ onStore: () => Promise.reject(new AppError('unprocessable', 'cannot')) });
    expect((await storeOne(broken)).status).toBe(0xc000);
    const flaky = await start({ onStore: () => Promise.reject(new Error('disk hiccup')) });
    expect((await storeOne(flaky)).status).toBe(0xa700);
  });

  it('aborts a PDU that declares a length far over the limit', async () => {
    const server = await start();
    const scu = await RawScu.connect(server.port);
    await scu.associate('KNOWN', 'ANY', [usContext]);
    const header = pdu(0x04, Buffer.alloc(0));
    header.writeUInt32BE(0x7fffffff, 2);
    scu.send(Buffer.concat([header, Buffer.alloc(1000)]));
    expect((await scu.next())?.type).toBe(0x07); // A-ABORT
    await scu.closed;
  });

  it('closes a silent connection and aborts an idle association', async () => {
    const server = await start({ associationTimeoutMs: 200, pduTimeoutMs: 200 });
    const silent = await RawScu.connect(server.port);
    expect(await silent.next()).toBeNull();
    const idle = await RawScu.connect(server.port);
    await idle.associate('KNOWN', 'ANY', [usContext]);
    expect((await idle.next())?.type).toBe(0x07);
    await idle.closed;
    expect(events).toEqual(['ended:timeout', 'decided:accepted', 'ended:timeout']);
  });

  it('on close, answers the C-STORE in flight before aborting the association', async () => {
    let finish: (() => void) | undefined;
    const server = await start({
      onStore: () =>
        new Promise<StoreAnswer>((resolve) => {
          finish = () => resolve({ status: 0 });
        }),
    });
    const scu = await RawScu.connect(server.port);
    await scu.associate('KNOWN', 'ANY', [usContext]);
    scu.sendStore(1, cStoreCommand({ messageId: 1, sopClassUid: SopClass.UltrasoundImage, sopInstanceUid: '1.2.3.5' }), dataset);
    const answer = await waitFor('the C-STORE to reach onStore', () => Promise.resolve(finish), 10_000, 10);
    const closing = server.close();
    answer();
    const response = await scu.next();
    expect(statusOf(response!)).toBe(0x0000);
    expect((await scu.next())?.type).toBe(0x07);
    await closing;
  });
});
