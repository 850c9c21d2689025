import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import { authenticator } from 'otplib';

/**
 * TOTP second factor (RFC 6238: SHA-1, 6 digits, 30 s, what authenticator apps expect) with otplib 12 (13 is
 * ESM-only through its dependencies, which the test runner cannot load). The
 * secret is sealed with AES-256-GCM (user id as associated data, so a sealed secret moved to another user
 * does not open) under a key that is not in the database.
 */
export class TotpSecrets {
  constructor(private readonly key: Buffer) {}

  newSecret(): string {
    // 20 bytes (160 bits, RFC 4226's recommendation), base32 as authenticator apps expect.
    return authenticator.generateSecret(20);
  }

  uri(secret: string, username: string): string {
    return authenticator.keyuri(username, 'Yunying', secret);
  }

  seal(userId: string, secret: string): string {
    const iv = randomBytes(12);
    const cipher = createCipheriv('aes-256-gcm', this.key, iv);
    cipher.setAAD(Buffer.from(userId));
    const body = Buffer.concat([cipher.update(secret, 'utf8'), cipher.final()]);
    return ['v1', iv.toString('base64url'), cipher.getAuthTag().toString('base64url'), body.toString('base64url')].join('.');
  }

  open(userId: string, sealed: string): string {
    const [version, iv, tag, body] = sealed.split('.');
    if (version !== 'v1' || iv === undefined || tag === undefined || body === undefined) throw new Error('unknown sealed TOTP secret format');
    const decipher = createDecipheriv('aes-256-gcm', this.key, Buffer.from(iv, 'base64url'));
    decipher.setAAD(Buffer.from(userId));
    decipher.setAuthTag(Buffer.from(tag, 'base64url'));
    return Buffer.concat([decipher.update(Buffer.from(body, 'base64url')), decipher.final()]).toString('utf8');
  }

  /**
   * The time step of `code` when it is valid now (one step of clock drift either way) and later than
   * `afterStep` (a code is accepted once); null otherwise.
   */
  check(secret: string, code: string, afterStep: number, now: Date): number | null {
    if (!/^\d{6}$/.test(code)) return null;
    const delta = authenticator.clone({ epoch: now.getTime(), window: 1 }).checkDelta(code, secret);
    if (delta === null) return null;
    const step = Math.floor(now.getTime() / 30_000) + delta;
    return step > afterStep ? step : null;
  }
}
