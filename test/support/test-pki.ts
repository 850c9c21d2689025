import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';

export interface KeyPair {
  key: string;
  cert: string;
}

export interface TestPki {
  ca: KeyPair;
  /** A key and a certificate from the CA, for CN `name` and, when given, these DNS names (subjectAltName). */
  issue(name: string, dnsNames?: string[]): KeyPair;
  /** A self-signed key and certificate: right name, no trusted issuer. */
  selfSigned(name: string, dnsNames?: string[]): KeyPair;
}

/**
 * A throwaway PKI in `dir` made with the openssl CLI (as CI has it): a CA and the certificates a test
 * needs, valid for two days, RSA 2048, unencrypted keys. The same recipe as the SCP-side credentials
 * test (services/ingest/src/dimse/credentials.int.test.ts), with subjectAltName for server certificates:
 * Node checks a server's name against its DNS SANs.
 */
export function makeTestPki(dir: string, caName = 'Yunying test CA'): TestPki {
  const openssl = (...args: string[]): void => {
    execFileSync('openssl', args, { cwd: dir, stdio: 'pipe' });
  };
  const file = (name: string): KeyPair => ({ key: path.join(dir, `${name}.key`), cert: path.join(dir, `${name}.crt`) });
  const san = (dnsNames: string[] | undefined): string[] => (dnsNames === undefined || dnsNames.length === 0 ? [] : ['-addext', `subjectAltName=${dnsNames.map((d) => `DNS:${d}`).join(',')}`]);
  const ca = file('ca');
  openssl('req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', ca.key, '-out', ca.cert, '-days', '2', '-subj', `/CN=${caName}`);
  return {
    ca,
    issue(name, dnsNames) {
      const f = file(name);
      openssl('req', '-newkey', 'rsa:2048', '-nodes', '-keyout', f.key, '-out', `${name}.csr`, '-subj', `/CN=${name}`, ...san(dnsNames));
      // `x509 -req` drops the request's extensions (-copy_extensions is OpenSSL 3 only): the SAN goes in an extension file.
      const extensions = path.join(dir, `${name}.ext`);
      fs.writeFileSync(extensions, `basicConstraints=CA:FALSE\n${dnsNames === undefined || dnsNames.length === 0 ? '' : `subjectAltName=${dnsNames.map((d) => `DNS:${d}`).join(',')}\n`}`);
      openssl('x509', '-req', '-in', `${name}.csr`, '-CA', ca.cert, '-CAkey', ca.key, '-CAcreateserial', '-out', f.cert, '-days', '2', '-extfile', extensions);
      return f;
    },
    selfSigned(name, dnsNames) {
      const f = file(name);
      openssl('req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', f.key, '-out', f.cert, '-days', '2', '-subj', `/CN=${name}`, ...san(dnsNames));
      return f;
    },
  };
}
