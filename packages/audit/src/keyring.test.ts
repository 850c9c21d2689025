import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { AuditKeyError, loadAuditKeyring, parseAuditKeyFile } from './keyring';
import { loadCheckpointSigner } from './checkpoint';

const key = (byte: number, n = 32): string => Buffer.alloc(n, byte).toString('base64');

describe('audit MAC key file', () => {
  it('takes the last key as current and keeps the earlier ones for verification', () => {
    const ring = parseAuditKeyFile(`# comment\nold:${key(1)}\n\nnew:${key(2)}\n`, 'sm3');
    expect(ring.current.id).toBe('new');
    expect([...ring.byId.keys()]).toEqual(['old', 'new']);
    expect(ring.algorithm).toBe('sm3');
  });

  it('refuses short keys, bad ids, duplicates and an empty file without echoing key bytes', () => {
    expect(() => parseAuditKeyFile(`k:${key(1, 16)}`, 'sm3')).toThrow(/line 1: key "k" has fewer than 32 bytes/);
    expect(() => parseAuditKeyFile(`bad id:${key(1)}`, 'sm3')).toThrow(/line 1: expected <id>:<base64 key>/);
    expect(() => parseAuditKeyFile(`a:${key(1)}\na:${key(2)}`, 'sm3')).toThrow(/line 2: key id "a" appears twice/);
    expect(() => parseAuditKeyFile('# nothing\n', 'sm3')).toThrow(AuditKeyError);
    try {
      parseAuditKeyFile(`k:${key(9, 16)}`, 'sm3');
    } catch (error) {
      expect((error as Error).message).not.toContain(key(9, 16));
    }
  });

  it('generates a missing key file (0600) only when allowed, and the same keys on the next start', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'yy-keys-'));
    try {
      const file = path.join(dir, 'secrets', 'audit-mac.keys');
      expect(() => loadAuditKeyring({ macKeyFile: file, macAlgorithm: 'sm3', generateMissing: false })).toThrow(/does not exist \(AUDIT_MAC_KEY_FILE\)/);
      const first = loadAuditKeyring({ macKeyFile: file, macAlgorithm: 'sm3', generateMissing: true });
      expect(fs.statSync(file).mode & 0o777).toBe(0o600);
      const again = loadAuditKeyring({ macKeyFile: file, macAlgorithm: 'sm3', generateMissing: true });
      expect(again.current.id).toBe(first.current.id);
      expect(again.current.key.export().equals(first.current.key.export())).toBe(true);

      const pem = path.join(dir, 'secrets', 'audit-signing.pem');
      expect(() => loadCheckpointSigner(pem, false)).toThrow(/AUDIT_SIGNING_KEY_FILE/);
      const signer = loadCheckpointSigner(pem, true);
      expect(loadCheckpointSigner(pem, false).keyId).toBe(signer.keyId);
      expect(fs.statSync(pem).mode & 0o777).toBe(0o600);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
