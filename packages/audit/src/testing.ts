import crypto from 'node:crypto';
import { installAuditKeyring, parseAuditKeyFile, type AuditKeyring } from './keyring';

/**
 * A fresh random MAC keyring for a test process (installed by test/support/jest.setup.ts, so every test that
 * appends audit records writes keyed links as a service would). Never used outside tests.
 */
export function testAuditKeyring(id = 'test-key', algorithm: AuditKeyring['algorithm'] = 'sm3'): AuditKeyring {
  return parseAuditKeyFile(`${id}:${crypto.randomBytes(32).toString('base64')}\n`, algorithm, 'test keyring');
}

export function installTestAuditKeyring(): AuditKeyring {
  const keyring = testAuditKeyring();
  installAuditKeyring(keyring);
  return keyring;
}
