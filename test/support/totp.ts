import { createHmac } from 'node:crypto';

/**
 * RFC 6238 (SHA-1, 6 digits, 30 s steps, what authenticator apps use) written out here, independent of the
 * library the server uses: the code of time step `step` for a base32 key.
 */
export function totpForStep(base32: string, step: number): string {
  const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';
  let bits = '';
  for (const c of base32.replace(/[=\s]+/g, '').toUpperCase()) bits += alphabet.indexOf(c).toString(2).padStart(5, '0');
  const key = Buffer.from((bits.match(/.{8}/g) ?? []).map((b) => parseInt(b, 2)));
  const counter = Buffer.alloc(8);
  counter.writeBigUInt64BE(BigInt(step));
  const mac = createHmac('sha1', key).update(counter).digest();
  const offset = (mac[mac.length - 1] ?? 0) & 0x0f;
  return String((mac.readUInt32BE(offset) & 0x7fffffff) % 1_000_000).padStart(6, '0');
}

export function currentStep(now = Date.now()): number {
  return Math.floor(now / 30_000);
}

/**
 * An authenticator app for tests: each code it gives is for a later time step than the one before (the
 * server accepts a step once, and one step of clock drift either way), so consecutive sign-ins within one
 * 30 s step still get a fresh code without waiting.
 */
export class TestAuthenticator {
  private lastStep = 0;

  constructor(readonly secret: string) {}

  nextCode(): string {
    const step = Math.max(currentStep(), this.lastStep + 1);
    if (step > currentStep() + 1) throw new Error('TestAuthenticator: more than two codes within one step');
    this.lastStep = step;
    return totpForStep(this.secret, step);
  }

  /** A code the server must refuse (ten minutes old). */
  staleCode(): string {
    return totpForStep(this.secret, currentStep() - 20);
  }
}
