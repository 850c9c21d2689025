/**
 * Cuts the bytes of a socket into whole PDUs (PS3.8 9.3.1: type, reserved, 32-bit big-endian length) for
 * dcmjs-dimse's reader, for three reasons:
 *  - a peer cannot make us buffer an arbitrarily large PDU: a declared length over the limit ends it;
 *  - dcmjs-dimse, handed one whole PDU per call, parses it without copying. Fed raw socket chunks, it
 *    joins every chunk onto the PDU received so far (Buffer.concat per chunk: a 256 KiB P-DATA arriving
 *    in 64 KiB reads was copied 2.5 times over);
 *  - a C-STORE's dataset is not copied on its way to the store: its PDV values (PS3.8 9.3.5.1) are handed
 *    to `onStoreData` as views of the socket's chunks, in order, and dcmjs-dimse gets the same PDVs with
 *    empty values (its state machine sees every fragment, command and last flags as sent). The receiver
 *    (association.scp.ts) pairs each empty value dcmjs-dimse writes into its store stream with the next
 *    entry. Before, every P-DATA PDU that spanned two reads (nearly all of a dataset's) was copied whole
 *    into a buffer of its size, then once more when the PDVs were joined into the instance.
 * Which PDVs are a C-STORE's dataset is read from the command set as dcmjs-dimse reads it: after a
 * command whose Command Field (0000,0100) is C-STORE-RQ and whose Command Data Set Type (0000,0800) is not
 * 0x0101, the data PDVs up to the one flagged last. Other PDUs are handed on as before: a view when they
 * lie in one chunk, else one copy of their exact size; other PDVs with their values (copied once).
 */

/** PS3.8 9.3.1: the P-DATA-TF PDU type. */
const P_DATA_TF = 0x04;
/** PS3.7 E.1: Command Field of a C-STORE-RQ, and the Command Data Set Type that means "no data set". */
const C_STORE_RQ = 0x0001;
const NO_DATA_SET = 0x0101;

export interface PduFramerEvents {
  /** A PDU declared a length over the limit: called once, and nothing more is returned. */
  onTooLarge(type: number, length: number): void;
  /** A P-DATA-TF PDU whose PDV items do not fit it: called once, and nothing more is returned. */
  onMalformed(reason: string): void;
  /** One PDV's worth of a C-STORE's dataset, as views of received chunks (possibly none: an empty value). */
  onStoreData(values: Buffer[]): void;
}

interface PDataPdu {
  /** Bytes of the PDU's variable field not yet read. */
  remaining: number;
  /** The PDV items handed to dcmjs-dimse (values emptied for a store's dataset). */
  items: Buffer[];
}

interface PdvInProgress {
  contextId: number;
  controlHeader: number;
  remaining: number;
  /** A C-STORE dataset fragment: its value goes to onStoreData, not to dcmjs-dimse. */
  toStore: boolean;
  parts: Buffer[];
}

export class PduFramer {
  private readonly header = Buffer.alloc(6);
  private headerFill = 0;
  /** A PDU other than P-DATA-TF being filled (header included) and how much of it has arrived. */
  private pdu: Buffer | null = null;
  private filled = 0;
  /** The P-DATA-TF PDU being read, its PDV item being read, and that item's header bytes so far. */
  private pData: PDataPdu | null = null;
  private pdv: PdvInProgress | null = null;
  private readonly pdvHeader = Buffer.alloc(6);
  private pdvHeaderFill = 0;
  /** The command set of the message being received, fragment by fragment, until its last fragment. */
  private command: Buffer[] = [];
  /** Data PDVs now belong to a C-STORE-RQ's dataset. */
  private storeDataExpected = false;
  private stopped = false;

  constructor(
    private readonly maxLength: number,
    private readonly events: PduFramerEvents,
  ) {}

  /** Feeds received bytes; returns the PDUs they complete, in order. */
  accept(chunk: Buffer): Buffer[] {
    const complete: Buffer[] = [];
    let at = 0;
    while (!this.stopped && at < chunk.length) {
      if (this.pData !== null) {
        at = this.readPData(chunk, at, complete);
        continue;
      }
      if (this.pdu !== null) {
        const take = Math.min(this.pdu.length - this.filled, chunk.length - at);
        chunk.copy(this.pdu, this.filled, at, at + take);
        this.filled += take;
        at += take;
        if (this.filled === this.pdu.length) {
          complete.push(this.pdu);
          this.pdu = null;
        }
        continue;
      }
      let type: number;
      let length: number;
      if (this.headerFill === 0 && chunk.length - at >= 6) {
        // The common case: the header is in this chunk, and perhaps the whole PDU.
        type = chunk.readUInt8(at);
        length = chunk.readUInt32BE(at + 2);
        if (!this.allowed(type, length)) break;
        if (type !== P_DATA_TF && chunk.length - at >= 6 + length) {
          complete.push(chunk.subarray(at, at + 6 + length));
          at += 6 + length;
          continue;
        }
        if (type !== P_DATA_TF) {
          this.pdu = Buffer.allocUnsafe(6 + length);
          this.filled = chunk.copy(this.pdu, 0, at);
          at = chunk.length;
          continue;
        }
        at += 6;
      } else {
        // A header cut across chunks.
        const take = Math.min(6 - this.headerFill, chunk.length - at);
        chunk.copy(this.header, this.headerFill, at, at + take);
        this.headerFill += take;
        at += take;
        if (this.headerFill < 6) break;
        this.headerFill = 0;
        type = this.header.readUInt8(0);
        length = this.header.readUInt32BE(2);
        if (!this.allowed(type, length)) break;
        if (type !== P_DATA_TF) {
          this.pdu = Buffer.allocUnsafe(6 + length);
          this.header.copy(this.pdu, 0);
          this.filled = 6;
          if (length === 0) {
            complete.push(this.pdu);
            this.pdu = null;
          }
          continue;
        }
      }
      this.pData = { remaining: length, items: [] };
      if (length === 0) this.endPData(complete);
    }
    return complete;
  }

  /** Reads P-DATA-TF bytes from `at`: PDV headers, then values (views), up to the PDU's end. */
  private readPData(chunk: Buffer, at: number, complete: Buffer[]): number {
    const pData = this.pData as PDataPdu;
    if (this.pdv === null) {
      const take = Math.min(6 - this.pdvHeaderFill, chunk.length - at, pData.remaining);
      chunk.copy(this.pdvHeader, this.pdvHeaderFill, at, at + take);
      this.pdvHeaderFill += take;
      pData.remaining -= take;
      at += take;
      if (this.pdvHeaderFill < 6) {
        if (pData.remaining === 0) this.malformed('a PDV item header runs past the end of its P-DATA-TF PDU');
        return at;
      }
      this.pdvHeaderFill = 0;
      const itemLength = this.pdvHeader.readUInt32BE(0);
      if (itemLength < 2 || itemLength - 2 > pData.remaining) {
        this.malformed('a PDV item length does not fit its P-DATA-TF PDU');
        return at;
      }
      const controlHeader = this.pdvHeader.readUInt8(5);
      this.pdv = { contextId: this.pdvHeader.readUInt8(4), controlHeader, remaining: itemLength - 2, toStore: this.storeDataExpected && (controlHeader & 0x01) === 0, parts: [] };
    } else {
      const take = Math.min(this.pdv.remaining, chunk.length - at);
      this.pdv.parts.push(chunk.subarray(at, at + take));
      this.pdv.remaining -= take;
      pData.remaining -= take;
      at += take;
    }
    if (this.pdv.remaining === 0) this.endPdv(pData);
    if (this.pdv === null && pData.remaining === 0) this.endPData(complete);
    return at;
  }

  private endPdv(pData: PDataPdu): void {
    const { contextId, controlHeader, toStore, parts } = this.pdv as PdvInProgress;
    this.pdv = null;
    const isCommand = (controlHeader & 0x01) !== 0;
    const isLast = (controlHeader & 0x02) !== 0;
    let value: Buffer;
    if (toStore) {
      this.events.onStoreData(parts);
      value = Buffer.alloc(0);
    } else {
      value = parts.length === 1 ? (parts[0] as Buffer) : Buffer.concat(parts);
    }
    const item = Buffer.allocUnsafe(6 + value.length);
    item.writeUInt32BE(2 + value.length, 0);
    item.writeUInt8(contextId, 4);
    item.writeUInt8(controlHeader, 5);
    value.copy(item, 6);
    pData.items.push(item);
    if (isCommand) {
      this.command.push(value);
      if (isLast) {
        this.storeDataExpected = expectsStoreDataset(Buffer.concat(this.command));
        this.command = [];
      }
    } else if (isLast) {
      this.storeDataExpected = false;
    }
  }

  private endPData(complete: Buffer[]): void {
    const { items } = this.pData as PDataPdu;
    this.pData = null;
    const header = Buffer.allocUnsafe(6);
    header.writeUInt8(P_DATA_TF, 0);
    header.writeUInt8(0, 1);
    header.writeUInt32BE(items.reduce((sum, item) => sum + item.length, 0), 2);
    complete.push(Buffer.concat([header, ...items]));
  }

  private allowed(type: number, length: number): boolean {
    if (length <= this.maxLength) return true;
    this.stopped = true;
    this.events.onTooLarge(type, length);
    return false;
  }

  private malformed(reason: string): void {
    this.stopped = true;
    this.events.onMalformed(reason);
  }
}

/**
 * Whether a command set (Implicit VR Little Endian, PS3.7 6.3.1) is a C-STORE-RQ followed by a data set:
 * the test dcmjs-dimse makes (Command Field 0x0001, Command Data Set Type other than 0x0101).
 */
export function expectsStoreDataset(command: Buffer): boolean {
  let commandField: number | undefined;
  let dataSetType: number | undefined;
  for (let at = 0; at + 8 <= command.length; ) {
    const group = command.readUInt16LE(at);
    const element = command.readUInt16LE(at + 2);
    const length = command.readUInt32LE(at + 4);
    if (group === 0x0000 && length >= 2 && at + 10 <= command.length) {
      if (element === 0x0100) commandField = command.readUInt16LE(at + 8);
      if (element === 0x0800) dataSetType = command.readUInt16LE(at + 8);
    }
    at += 8 + length;
  }
  return commandField === C_STORE_RQ && dataSetType !== NO_DATA_SET;
}
