/**
 * DIMSE messages written without dcmjs: a response's command set (PS3.7 9.3, E.1) and the P-DATA-TF PDUs
 * that carry it and its data set (PS3.8 9.3.5, E.2), as one buffer for one socket write.
 *
 * Why: dcmjs-dimse encodes every command set through dcmjs (a naturalized dataset, a dictionary lookup per
 * element and growing buffer streams) and writes the command and the data set in separate socket writes.
 * For a C-FIND with 1000 matches that was most of the time per pending response (bench:find, profiled:
 * two thirds of the send path in `getDenaturalizedCommandDataset`). A C-FIND-RSP command set has six
 * elements at most; the unit test checks the bytes against dcmjs-dimse's own writer.
 */

/** (0000,0800) Command Data Set Type: 0x0101 means no data set; dcmjs-dimse writes 0x0202 for one. */
const NO_DATA_SET = 0x0101;
const DATA_SET_PRESENT = 0x0202;
/** dcmjs-dimse never sends PDUs longer than this, whatever the peer accepts (0 included). */
const MAX_PDU_LENGTH = 4 * 1024 * 1024;
/** PS3.8 9.3.1: the P-DATA-TF PDU type. */
const P_DATA_TF = 0x04;
/** A PDV item's header in the PDU's variable field: Item-length (4), Presentation-context-ID (1), Message Control Header (1). */
const PDV_HEADER = 6;

/** The command-set elements a response carries (PS3.7 Annex E), in tag order. */
type CommandElement = { tag: number; vr: 'UI' | 'US' | 'LO'; value: string | number };

/** Implicit VR Little Endian, each element as tag, 4-byte length, value padded to even length (UI with NUL, LO with space). */
export function encodeCommandSet(elements: readonly CommandElement[]): Buffer {
  const sorted = [...elements].sort((a, b) => a.tag - b.tag);
  const values = sorted.map((element) => valueOf(element));
  const bodyLength = values.reduce((sum, value) => sum + 8 + value.length, 0);
  const out = Buffer.allocUnsafe(12 + bodyLength);
  // (0000,0000) Command Group Length, UL: the bytes after this element.
  out.writeUInt32LE(0x00000000, 0);
  out.writeUInt32LE(4, 4);
  out.writeUInt32LE(bodyLength, 8);
  let at = 12;
  sorted.forEach((element, i) => {
    const value = values[i] as Buffer;
    out.writeUInt16LE(element.tag >>> 16, at);
    out.writeUInt16LE(element.tag & 0xffff, at + 2);
    out.writeUInt32LE(value.length, at + 4);
    value.copy(out, at + 8);
    at += 8 + value.length;
  });
  return out;
}

function valueOf(element: CommandElement): Buffer {
  if (element.vr === 'US') {
    const value = Buffer.allocUnsafe(2);
    value.writeUInt16LE(element.value as number, 0);
    return value;
  }
  // The command set is in the default repertoire (PS3.7 6.3.1); callers pass ASCII (errorComment() cleans it).
  const text = Buffer.from(String(element.value), 'latin1');
  if (text.length % 2 === 0) return text;
  return Buffer.concat([text, Buffer.from([element.vr === 'UI' ? 0x00 : 0x20])]);
}

export interface ResponseCommand {
  /** (0000,0100), e.g. 0x8020 C-FIND-RSP. */
  commandField: number;
  /** (0000,0002): the request's, as PS3.7 9.1.2.1 requires of a response. */
  affectedSopClassUid: string;
  /** (0000,0120) */
  messageIdBeingRespondedTo: number;
  /** (0000,1000), which a C-STORE-RSP carries (PS3.7 9.3.1.2). */
  affectedSopInstanceUid?: string;
  /** (0000,0900) */
  status: number;
  /** (0000,0902), at most 64 characters of the default repertoire. */
  errorComment?: string;
  hasDataSet: boolean;
}

export const CommandField = { CStoreResponse: 0x8001, CFindResponse: 0x8020 } as const;

export function encodeResponseCommand(response: ResponseCommand): Buffer {
  const elements: CommandElement[] = [
    { tag: 0x00000002, vr: 'UI', value: response.affectedSopClassUid },
    { tag: 0x00000100, vr: 'US', value: response.commandField },
    { tag: 0x00000120, vr: 'US', value: response.messageIdBeingRespondedTo },
    { tag: 0x00000800, vr: 'US', value: response.hasDataSet ? DATA_SET_PRESENT : NO_DATA_SET },
    { tag: 0x00000900, vr: 'US', value: response.status },
  ];
  if (response.errorComment !== undefined) elements.push({ tag: 0x00000902, vr: 'LO', value: response.errorComment });
  if (response.affectedSopInstanceUid !== undefined) elements.push({ tag: 0x00001000, vr: 'UI', value: response.affectedSopInstanceUid });
  return encodeCommandSet(elements);
}

/**
 * The P-DATA-TF PDUs of one DIMSE message, concatenated: the command set in one PDV, then the data set
 * (when any) in fragments of one PDV per PDU so that no PDU's variable field exceeds the peer's Maximum
 * Length (PS3.8 D.1; 0 means no limit, then dcmjs-dimse's 4 MiB), the last fragment flagged.
 * The same framing dcmjs-dimse uses, so an SCU sees no difference.
 */
export function pDataTfMessage(presentationContextId: number, command: Buffer, dataSet: Buffer | null, maxPduLength: number): Buffer {
  const limit = maxPduLength === 0 ? MAX_PDU_LENGTH : Math.min(maxPduLength, MAX_PDU_LENGTH);
  const chunk = Math.max(1, limit - PDV_HEADER);
  // dcmjs-dimse sends a command set in one PDV whatever the limit; ours are ~100 bytes, far below any Maximum Length.
  const fragments: { bytes: Buffer; controlHeader: number }[] = [{ bytes: command, controlHeader: 0x03 }];
  if (dataSet !== null) {
    // Message Control Header (PS3.8 E.2): bit 0 command (1) or data set (0), bit 1 last fragment. An empty
    // data set still goes out as one empty last fragment, as the command set announced one.
    const count = Math.max(1, Math.ceil(dataSet.length / chunk));
    for (let i = 0; i < count; i += 1) fragments.push({ bytes: dataSet.subarray(i * chunk, (i + 1) * chunk), controlHeader: i === count - 1 ? 0x02 : 0x00 });
  }
  const total = fragments.reduce((sum, f) => sum + 6 + PDV_HEADER + f.bytes.length, 0);
  const out = Buffer.allocUnsafe(total);
  let at = 0;
  for (const fragment of fragments) {
    out.writeUInt8(P_DATA_TF, at);
    out.writeUInt8(0, at + 1);
    out.writeUInt32BE(PDV_HEADER + fragment.bytes.length, at + 2);
    out.writeUInt32BE(2 + fragment.bytes.length, at + 6);
    out.writeUInt8(presentationContextId, at + 10);
    out.writeUInt8(fragment.controlHeader, at + 11);
    fragment.bytes.copy(out, at + 12);
    at += 12 + fragment.bytes.length;
  }
  return out;
}
