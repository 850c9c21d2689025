import { Dataset, requests } from 'dcmjs-dimse';
import { TransferSyntax } from '@yunying/dicom';

/**
 * A dataset already encoded in its transfer syntax: dcmjs-dimse writes whatever
 * `getDenaturalizedDataset()` returns into the P-DATA PDVs, so the stored bytes go out as they are
 * instead of through dcmjs's parse and re-encode.
 */
class EncodedDataset extends Dataset {
  constructor(
    private bytes: Buffer,
    transferSyntaxUid: string,
    sopClassUid: string,
    sopInstanceUid: string,
  ) {
    super({ SOPClassUID: sopClassUid, SOPInstanceUID: sopInstanceUid }, transferSyntaxUid);
  }

  override getDenaturalizedDataset(): Buffer {
    return this.bytes;
  }

  /** Drops the bytes once sent: dcmjs-dimse keeps every request it sent for the association's lifetime. */
  release(): void {
    this.bytes = Buffer.alloc(0);
  }
}

/** Frees the dataset of a sub-operation's C-STORE-RQ once it is answered (a long C-GET would hold every instance otherwise). */
export function releaseStoreDataset(request: requests.CStoreRequest): void {
  const dataset = request.getDataset();
  if (dataset instanceof EncodedDataset) dataset.release();
}

/** The two encodings one converts into the other without touching a value (PS3.5 A.1, A.2). */
const TRIVIAL = new Set<string>([TransferSyntax.ImplicitVRLittleEndian, TransferSyntax.ExplicitVRLittleEndian]);

export type SyntaxChoice = { ok: true; transferSyntaxUid: string; convert: boolean } | { ok: false; reason: string };

/**
 * Which transfer syntax a stored instance goes out in, given the syntaxes the peer accepted for its SOP
 * class: the stored one when accepted; Implicit <-> Explicit VR Little Endian when only the other was
 * accepted; otherwise none (the archive does not transcode pixel data, the sub-operation fails with why).
 */
export function chooseOutgoingSyntax(stored: string, accepted: readonly string[]): SyntaxChoice {
  if (accepted.includes(stored)) return { ok: true, transferSyntaxUid: stored, convert: false };
  if (accepted.length === 0) return { ok: false, reason: 'SOP class not accepted by the peer' };
  if (TRIVIAL.has(stored)) {
    const other = accepted.find((uid) => TRIVIAL.has(uid));
    if (other !== undefined) return { ok: true, transferSyntaxUid: other, convert: true };
  }
  // Short enough for an Error Comment (LO, 64 characters) with any transfer syntax UID.
  return { ok: false, reason: `Stored ${stored} not accepted; no transcoding` };
}

/** Re-encodes a native Little Endian dataset in the other VR encoding (dcmjs reads and writes it). */
export function convertNativeDataset(dataset: Buffer, from: string, to: string): Buffer {
  if (!TRIVIAL.has(from) || !TRIVIAL.has(to)) throw new Error(`cannot convert ${from} to ${to}`);
  const parsed = new Dataset(dataset, from);
  parsed.setTransferSyntaxUid(to);
  return parsed.getDenaturalizedDataset();
}

/** A C-STORE-RQ carrying `dataset` (already in `transferSyntaxUid`). */
export function storeRequest(item: { sopClassUid: string; sopInstanceUid: string; transferSyntaxUid: string; dataset: Buffer }, moveOriginator?: { aeTitle: string; messageId: number }): requests.CStoreRequest {
  const request = new requests.CStoreRequest(new EncodedDataset(item.dataset, item.transferSyntaxUid, item.sopClassUid, item.sopInstanceUid));
  request.setAffectedSopClassUid(item.sopClassUid);
  request.setAffectedSopInstanceUid(item.sopInstanceUid);
  if (moveOriginator !== undefined) {
    // PS3.7 9.1.1.1: the C-MOVE's originator, so the destination can tell which move the instance belongs to.
    // Set on the element map: setElement is typed for strings, and (0000,1031) is a US.
    const command = request.getCommandDataset().getElements();
    command.MoveOriginatorApplicationEntityTitle = moveOriginator.aeTitle;
    command.MoveOriginatorMessageID = moveOriginator.messageId;
  }
  return request;
}
