import { spawn } from 'node:child_process';
import net from 'node:net';

/**
 * A deliberately minimal DICOM upper-layer client for tests that real SCUs cannot express: a dataset
 * with broken bytes (dcmtk re-encodes what it parsed, so it never sends one), a connection dropped
 * mid-dataset, an oversized PDU, silence. PS3.8 9.3 PDU layouts; commands in Implicit VR LE (PS3.7 6.3.1).
 */

export interface RawContext {
  id: number;
  abstractSyntaxUid: string;
  transferSyntaxUids: string[];
}

export interface Pdu {
  type: number;
  body: Buffer;
}

function padded(text: string, length: number): Buffer {
  return Buffer.from(text.padEnd(length, ' ').slice(0, length), 'latin1');
}

function item(type: number, body: Buffer): Buffer {
  const header = Buffer.alloc(4);
  header.writeUInt8(type, 0);
  header.writeUInt16BE(body.length, 2);
  return Buffer.concat([header, body]);
}

export function pdu(type: number, body: Buffer): Buffer {
  const header = Buffer.alloc(6);
  header.writeUInt8(type, 0);
  header.writeUInt32BE(body.length, 2);
  return Buffer.concat([header, body]);
}

function uid(value: string): Buffer {
  return Buffer.from(value.length % 2 === 0 ? value : `${value}\0`, 'latin1');
}

function implicitElement(tag: number, value: Buffer): Buffer {
  const header = Buffer.alloc(8);
  header.writeUInt16LE(tag >>> 16, 0);
  header.writeUInt16LE(tag & 0xffff, 2);
  header.writeUInt32LE(value.length, 4);
  return Buffer.concat([header, value]);
}

function us(value: number): Buffer {
  const out = Buffer.alloc(2);
  out.writeUInt16LE(value, 0);
  return out;
}

export function cStoreCommand(options: { messageId: number; sopClassUid: string; sopInstanceUid: string }): Buffer {
  const rest = Buffer.concat([
    implicitElement(0x00000002, uid(options.sopClassUid)),
    implicitElement(0x00000100, us(0x0001)),
    implicitElement(0x00000110, us(options.messageId)),
    implicitElement(0x00000700, us(0x0000)),
    implicitElement(0x00000800, us(0x0000)),
    implicitElement(0x00001000, uid(options.sopInstanceUid)),
  ]);
  const length = Buffer.alloc(4);
  length.writeUInt32LE(rest.length, 0);
  return Buffer.concat([implicitElement(0x00000000, length), rest]);
}

/** A C-FIND-RQ command set (PS3.7 9.1.2.1), an Identifier follows. */
export function cFindCommand(options: { messageId: number; sopClassUid: string }): Buffer {
  const rest = Buffer.concat([
    implicitElement(0x00000002, uid(options.sopClassUid)),
    implicitElement(0x00000100, us(0x0020)),
    implicitElement(0x00000110, us(options.messageId)),
    implicitElement(0x00000700, us(0x0000)),
    implicitElement(0x00000800, us(0x0000)),
  ]);
  const length = Buffer.alloc(4);
  length.writeUInt32LE(rest.length, 0);
  return Buffer.concat([implicitElement(0x00000000, length), rest]);
}

/** A C-FIND Identifier in Implicit VR Little Endian: (tag, value) pairs of the default repertoire, an odd one padded with a space (so no UID values). */
export function implicitIdentifier(elements: [tag: number, value: string][]): Buffer {
  return Buffer.concat(elements.sort((a, b) => a[0] - b[0]).map(([tag, value]) => implicitElement(tag, Buffer.from(value.length % 2 === 0 ? value : `${value} `, 'latin1'))));
}

/** One P-DATA-TF with one PDV. */
export function pData(contextId: number, value: Buffer, command: boolean, last: boolean): Buffer {
  const header = Buffer.alloc(6);
  header.writeUInt32BE(value.length + 2, 0);
  header.writeUInt8(contextId, 4);
  header.writeUInt8((command ? 1 : 0) | (last ? 2 : 0), 5);
  return pdu(0x04, Buffer.concat([header, value]));
}

/** A US element of a command set received in one P-DATA-TF (one PDV, Implicit VR LE). */
function commandUs(pData: Pdu, wanted: number, name: string): number {
  const value = pData.body.subarray(6);
  for (let at = 0; at + 8 <= value.length; ) {
    const tag = ((value.readUInt16LE(at) << 16) | value.readUInt16LE(at + 2)) >>> 0;
    const length = value.readUInt32LE(at + 4);
    if (tag === wanted) return value.readUInt16LE(at + 8);
    at += 8 + length;
  }
  throw new Error(`no ${name} in the command`);
}

/** (0000,0900) Status of a command set received in one P-DATA-TF. */
export function statusOf(pData: Pdu): number {
  return commandUs(pData, 0x00000900, 'Status (0000,0900)');
}

/** (0000,0120) Message ID Being Responded To of a response received in one P-DATA-TF. */
export function respondedToOf(pData: Pdu): number {
  return commandUs(pData, 0x00000120, 'Message ID Being Responded To (0000,0120)');
}

/** PS3.7 D.3.3.3 Asynchronous Operations Window: outstanding operations the requestor may invoke / perform (0: unlimited). */
export interface AsyncWindow {
  invoked: number;
  performed: number;
}

/** The P-DATA-TF PDUs of one C-STORE-RQ: the command, then the dataset in PDVs of `chunk` bytes. */
export function storePdus(contextId: number, command: Buffer, dataset: Buffer, chunk = 16_000): Buffer {
  const pdus = [pData(contextId, command, true, true)];
  for (let at = 0; at < dataset.length; at += chunk) {
    const part = dataset.subarray(at, Math.min(dataset.length, at + chunk));
    pdus.push(pData(contextId, part, false, at + chunk >= dataset.length));
  }
  return Buffer.concat(pdus);
}

export class RawScu {
  private received = Buffer.alloc(0);
  private waiting: ((pdu: Pdu | null) => void) | undefined;
  private ended = false;
  readonly closed: Promise<void>;

  private constructor(readonly socket: net.Socket) {
    socket.setNoDelay(true);
    socket.on('data', (chunk: Buffer) => {
      this.received = Buffer.concat([this.received, chunk]);
      this.deliver();
    });
    this.closed = new Promise((resolve) => socket.once('close', () => resolve()));
    socket.on('error', () => undefined);
    void this.closed.then(() => {
      this.ended = true;
      this.deliver();
    });
  }

  static connect(port: number): Promise<RawScu> {
    return new Promise((resolve, reject) => {
      const socket = net.connect(port, '127.0.0.1', () => resolve(new RawScu(socket)));
      socket.once('error', reject);
    });
  }

  private take(): Pdu | null {
    if (this.received.length < 6) return null;
    const length = this.received.readUInt32BE(2);
    if (this.received.length < 6 + length) return null;
    const out = { type: this.received.readUInt8(0), body: this.received.subarray(6, 6 + length) };
    this.received = this.received.subarray(6 + length);
    return out;
  }

  private deliver(): void {
    if (!this.waiting) return;
    const next = this.take();
    if (next !== null || this.ended) {
      const resolve = this.waiting;
      this.waiting = undefined;
      resolve(next);
    }
  }

  /** The next PDU, or null when the server closed the connection first. */
  next(): Promise<Pdu | null> {
    return new Promise((resolve) => {
      this.waiting = resolve;
      this.deliver();
    });
  }

  send(bytes: Buffer): void {
    this.socket.write(bytes);
  }

  /** A-ASSOCIATE-RQ; returns the answer PDU and, for an AC, the accepted transfer syntax per context id. */
  async associate(callingAe: string, calledAe: string, contexts: RawContext[], options: { asyncOps?: AsyncWindow } = {}): Promise<{ pdu: Pdu | null; accepted: Map<number, string>; asyncOps: AsyncWindow | null }> {
    const items = [item(0x10, Buffer.from('1.2.840.10008.3.1.1.1', 'latin1'))];
    for (const c of contexts) {
      const subItems = [item(0x30, Buffer.from(c.abstractSyntaxUid, 'latin1')), ...c.transferSyntaxUids.map((ts) => item(0x40, Buffer.from(ts, 'latin1')))];
      items.push(item(0x20, Buffer.concat([Buffer.from([c.id, 0, 0, 0]), ...subItems])));
    }
    const maxLength = Buffer.alloc(4);
    maxLength.writeUInt32BE(16384, 0);
    const userItems = [item(0x51, maxLength), item(0x52, Buffer.from('1.2.3.4', 'latin1'))];
    if (options.asyncOps !== undefined) {
      const window = Buffer.alloc(4);
      window.writeUInt16BE(options.asyncOps.invoked, 0);
      window.writeUInt16BE(options.asyncOps.performed, 2);
      userItems.push(item(0x53, window));
    }
    items.push(item(0x50, Buffer.concat(userItems)));
    const version = Buffer.from([0x00, 0x01, 0x00, 0x00]);
    this.send(pdu(0x01, Buffer.concat([version, padded(calledAe, 16), padded(callingAe, 16), Buffer.alloc(32), ...items])));
    const answer = await this.next();
    const accepted = new Map<number, string>();
    let asyncOps: AsyncWindow | null = null;
    if (answer?.type === 0x02) {
      for (let at = 68; at + 4 <= answer.body.length; ) {
        const type = answer.body.readUInt8(at);
        const length = answer.body.readUInt16BE(at + 2);
        if (type === 0x21 && answer.body.readUInt8(at + 6) === 0) {
          const tsLength = answer.body.readUInt16BE(at + 10);
          accepted.set(answer.body.readUInt8(at + 4), answer.body.subarray(at + 12, at + 12 + tsLength).toString('latin1').replace(/\0+$/, ''));
        }
        if (type === 0x50) {
          for (let sub = at + 4; sub + 4 <= at + 4 + length; sub += 4 + answer.body.readUInt16BE(sub + 2)) {
            if (answer.body.readUInt8(sub) === 0x53) asyncOps = { invoked: answer.body.readUInt16BE(sub + 4), performed: answer.body.readUInt16BE(sub + 6) };
          }
        }
        at += 4 + length;
      }
    }
    return { pdu: answer, accepted, asyncOps };
  }

  /** A C-STORE-RQ command then the dataset in PDVs of `chunk` bytes. */
  sendStore(contextId: number, command: Buffer, dataset: Buffer, chunk = 16_000): void {
    this.send(storePdus(contextId, command, dataset, chunk));
  }

  async release(): Promise<Pdu | null> {
    this.send(pdu(0x05, Buffer.alloc(4)));
    return this.next();
  }

  destroy(): void {
    this.socket.destroy();
  }
}

export interface DcmtkRun {
  code: number | null;
  output: string;
  ms: number;
}

/**
 * Runs a dcmtk tool (echoscu, storescu, findscu, getscu, movescu …) to completion, or kills it at
 * `timeoutMs`, with TCP_NODELAY=1 as INTEROP-NOTES asks; stdout and stderr together in `output`.
 */
export function runDcmtk(tool: string, args: string[], timeoutMs = 60_000): Promise<DcmtkRun> {
  const started = Date.now();
  return new Promise((resolve, reject) => {
    const child = spawn(tool, args, { env: { ...process.env, TCP_NODELAY: '1' }, stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stdout.on('data', (c: Buffer) => (output += c.toString()));
    child.stderr.on('data', (c: Buffer) => (output += c.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.once('error', reject);
    child.once('close', (code) => {
      clearTimeout(timer);
      resolve({ code, output, ms: Date.now() - started });
    });
  });
}

/**
 * The Affected SOP Class UID of every incoming DIMSE message of one type in a dcmtk `-d` log, as dcmtk names
 * it (e.g. 'MOVEPatientRootQueryRetrieveInformationModel'); `messageType` as dcmtk prints it ('C-GET RSP').
 * Only incoming messages: the request dcmtk sent is dumped too, and must not be counted as an answer.
 */
export function incomingAffectedSopClasses(output: string, messageType: string): string[] {
  const messages = output.split(/=+ INCOMING DIMSE MESSAGE =+/).slice(1).map((part) => part.split(/=+ END DIMSE MESSAGE =+/)[0] ?? '');
  return messages
    .filter((message) => new RegExp(`Message Type\\s*:\\s*${messageType}\\b`).test(message))
    .map((message) => /Affected SOP Class UID\s*:\s*(\S+)/.exec(message)?.[1] ?? '(none)');
}

/** One instance for storeWindowed: its dataset in the encoding of its transfer syntax (no Part 10 header). */
export interface WindowedInstance {
  sopClassUid: string;
  transferSyntaxUid: string;
  sopInstanceUid: string;
  dataset: Buffer;
}

/**
 * A C-STORE SCU that uses the asynchronous operations window (PS3.7 D.3.3.3), which dcmtk's storescu
 * (3.6.7) cannot: one association proposing `window`, as many C-STOREs outstanding as the acceptor
 * grants, the next sent as soon as a response comes back. One presentation context per (SOP class,
 * transfer syntax). Resolves with the status of every answered instance by SOP Instance UID; those
 * unanswered when the association ended (refused, aborted, the server killed) are absent.
 */
export async function storeWindowed(options: { port: number; callingAe: string; calledAe: string; window: number; instances: WindowedInstance[]; pdvBytes?: number }): Promise<Map<string, number>> {
  const statuses = new Map<string, number>();
  const contexts: RawContext[] = [];
  const contextOf = new Map<string, number>();
  for (const instance of options.instances) {
    const key = `${instance.sopClassUid}|${instance.transferSyntaxUid}`;
    if (contextOf.has(key)) continue;
    const id = 1 + 2 * contexts.length;
    contextOf.set(key, id);
    contexts.push({ id, abstractSyntaxUid: instance.sopClassUid, transferSyntaxUids: [instance.transferSyntaxUid] });
  }
  let scu: RawScu;
  try {
    scu = await RawScu.connect(options.port);
  } catch {
    return statuses;
  }
  try {
    const { pdu: answer, asyncOps } = await scu.associate(options.callingAe, options.calledAe, contexts, { asyncOps: { invoked: options.window, performed: 1 } });
    if (answer?.type !== 0x02) return statuses;
    // The acceptor's answer bounds us; none means synchronous, 0 unlimited.
    const window = asyncOps === null ? 1 : asyncOps.invoked === 0 ? options.window : asyncOps.invoked;
    const byMessageId = new Map<number, string>();
    let outstanding = 0;
    let next = 0;
    while (next < options.instances.length || outstanding > 0) {
      while (next < options.instances.length && outstanding < window) {
        const instance = options.instances[next];
        if (instance === undefined) break;
        const messageId = (next % 0xffff) + 1;
        byMessageId.set(messageId, instance.sopInstanceUid);
        const contextId = contextOf.get(`${instance.sopClassUid}|${instance.transferSyntaxUid}`) ?? 1;
        scu.send(storePdus(contextId, cStoreCommand({ messageId, sopClassUid: instance.sopClassUid, sopInstanceUid: instance.sopInstanceUid }), instance.dataset, options.pdvBytes));
        next += 1;
        outstanding += 1;
      }
      const response = await scu.next();
      if (response?.type !== 0x04) return statuses;
      const sopInstanceUid = byMessageId.get(respondedToOf(response));
      if (sopInstanceUid !== undefined) statuses.set(sopInstanceUid, statusOf(response));
      outstanding -= 1;
    }
    await scu.release();
    return statuses;
  } finally {
    scu.destroy();
  }
}
