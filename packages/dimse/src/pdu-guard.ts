/**
 * Watches the PDU headers on a socket (PS3.8 9.3.1: type, reserved, 32-bit big-endian length) so that a
 * peer cannot make dcmjs-dimse buffer an arbitrarily large PDU: it accumulates each PDU whole before
 * parsing it. Runs beside dcmjs-dimse's own reader on the same `data` events; it only counts bytes.
 */
export class PduGuard {
  private header = Buffer.alloc(6);
  private headerFill = 0;
  private remaining = 0;

  constructor(
    private readonly maxLength: number,
    private readonly onTooLarge: (type: number, length: number) => void,
  ) {}

  /** Feeds received bytes; returns false (and calls onTooLarge once) when a PDU declares a length over the limit. */
  accept(chunk: Buffer): boolean {
    let at = 0;
    while (at < chunk.length) {
      if (this.remaining > 0) {
        const take = Math.min(this.remaining, chunk.length - at);
        this.remaining -= take;
        at += take;
        continue;
      }
      const take = Math.min(6 - this.headerFill, chunk.length - at);
      chunk.copy(this.header, this.headerFill, at, at + take);
      this.headerFill += take;
      at += take;
      if (this.headerFill < 6) break;
      this.headerFill = 0;
      const type = this.header.readUInt8(0);
      const length = this.header.readUInt32BE(2);
      if (length > this.maxLength) {
        this.onTooLarge(type, length);
        return false;
      }
      this.remaining = length;
    }
    return true;
  }
}
