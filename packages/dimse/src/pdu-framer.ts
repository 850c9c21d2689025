/**
 * Cuts the bytes of a socket into whole PDUs (PS3.8 9.3.1: type, reserved, 32-bit big-endian length), for
 * two reasons:
 *  - a peer cannot make us buffer an arbitrarily large PDU: a declared length over the limit ends it;
 *  - dcmjs-dimse, handed one whole PDU per call, parses it without copying. Fed raw socket chunks, it
 *    joins every chunk onto the PDU received so far (Buffer.concat per chunk: a 256 KiB P-DATA arriving
 *    in 64 KiB reads was copied 2.5 times over, ~1/10 of a DIMSE instance's main-thread CPU in the #14
 *    profile). Here a PDU that lies in one chunk is handed on as a view, any other is copied once into a
 *    buffer of its exact size.
 */
export class PduFramer {
  private readonly header = Buffer.alloc(6);
  private headerFill = 0;
  /** The PDU being filled (header included) and how much of it has arrived. */
  private pdu: Buffer | null = null;
  private filled = 0;
  private stopped = false;

  constructor(
    private readonly maxLength: number,
    private readonly onTooLarge: (type: number, length: number) => void,
  ) {}

  /**
   * Feeds received bytes; returns the PDUs they complete, in order. Once a PDU declares a length over the
   * limit, onTooLarge is called (once) and nothing more is returned.
   */
  accept(chunk: Buffer): Buffer[] {
    const complete: Buffer[] = [];
    let at = 0;
    while (!this.stopped && at < chunk.length) {
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
      if (this.headerFill === 0 && chunk.length - at >= 6) {
        // The common case: the header is in this chunk, and perhaps the whole PDU.
        const length = chunk.readUInt32BE(at + 2);
        if (!this.allowed(chunk.readUInt8(at), length)) break;
        if (chunk.length - at >= 6 + length) {
          complete.push(chunk.subarray(at, at + 6 + length));
          at += 6 + length;
        } else {
          this.pdu = Buffer.allocUnsafe(6 + length);
          this.filled = chunk.copy(this.pdu, 0, at);
          at = chunk.length;
        }
        continue;
      }
      // A header cut across chunks.
      const take = Math.min(6 - this.headerFill, chunk.length - at);
      chunk.copy(this.header, this.headerFill, at, at + take);
      this.headerFill += take;
      at += take;
      if (this.headerFill < 6) break;
      this.headerFill = 0;
      const length = this.header.readUInt32BE(2);
      if (!this.allowed(this.header.readUInt8(0), length)) break;
      this.pdu = Buffer.allocUnsafe(6 + length);
      this.header.copy(this.pdu, 0);
      this.filled = 6;
      if (length === 0) {
        complete.push(this.pdu);
        this.pdu = null;
      }
    }
    return complete;
  }

  private allowed(type: number, length: number): boolean {
    if (length <= this.maxLength) return true;
    this.stopped = true;
    this.onTooLarge(type, length);
    return false;
  }
}
