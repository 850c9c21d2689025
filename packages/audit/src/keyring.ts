import crypto from 'node:crypto';
import fs from 'node:fs';
import { createSecretFileOnce, isDigestAlgorithm, type DigestAlgorithm } from '@yunying/core';

/**
 * The audit chain's MAC keys (issue #17). They live in a file outside the database (AUDIT_MAC_KEY_FILE),
 * one key per line as `<id>:<base64 of at least 32 bytes>`; `#` starts a comment. The LAST line is the
 * key new records are written with; earlier lines stay so that records written under them still verify
 * (rotation = append a line and restart). A record stores the key's id, never the key.
 */
export interface AuditMacKey {
  id: string;
  key: crypto.KeyObject;
}

export interface AuditKeyring {
  /** The MAC algorithm of new records (a record keeps the one it was written with). */
  algorithm: DigestAlgorithm;
  current: AuditMacKey;
  byId: ReadonlyMap<string, AuditMacKey>;
}

const KEY_ID = /^[A-Za-z0-9._-]{1,64}$/;
const MIN_KEY_BYTES = 32;

export class AuditKeyError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'AuditKeyError';
  }
}

/** Parses a key file's text. Errors name the line, never a key's bytes. */
export function parseAuditKeyFile(text: string, algorithm: DigestAlgorithm, source = 'the audit MAC key file'): AuditKeyring {
  const keys: AuditMacKey[] = [];
  text.split(/\r?\n/).forEach((raw, index) => {
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) return;
    const colon = line.indexOf(':');
    const id = colon > 0 ? line.slice(0, colon) : '';
    const material = colon > 0 ? Buffer.from(line.slice(colon + 1), 'base64') : Buffer.alloc(0);
    if (!KEY_ID.test(id)) throw new AuditKeyError(`${source}, line ${index + 1}: expected <id>:<base64 key>, the id 1-64 of A-Z a-z 0-9 . _ -`);
    if (material.length < MIN_KEY_BYTES) throw new AuditKeyError(`${source}, line ${index + 1}: key "${id}" has fewer than ${MIN_KEY_BYTES} bytes`);
    if (keys.some((k) => k.id === id)) throw new AuditKeyError(`${source}, line ${index + 1}: key id "${id}" appears twice`);
    keys.push({ id, key: crypto.createSecretKey(material) });
  });
  const current = keys[keys.length - 1];
  if (current === undefined) throw new AuditKeyError(`${source} holds no key`);
  return { algorithm, current, byId: new Map(keys.map((k) => [k.id, k])) };
}

/** A new key line: a dated id (so rotations sort and read well) and 32 random bytes. */
export function newAuditKeyLine(now = new Date()): string {
  const id = `k${now.toISOString().slice(0, 10).replace(/-/g, '')}-${crypto.randomBytes(3).toString('hex')}`;
  return `${id}:${crypto.randomBytes(MIN_KEY_BYTES).toString('base64')}\n`;
}

// Shared with the other generated secrets; re-exported for existing callers.
export { createSecretFileOnce };

export interface AuditKeySettings {
  macKeyFile: string;
  macAlgorithm: DigestAlgorithm;
  /** Development and embedded defaults only: create the file with a fresh key when it is missing. */
  generateMissing: boolean;
}

export function loadAuditKeyring(settings: AuditKeySettings): AuditKeyring {
  if (!fs.existsSync(settings.macKeyFile)) {
    if (!settings.generateMissing) throw new AuditKeyError(`the audit MAC key file ${settings.macKeyFile} does not exist (AUDIT_MAC_KEY_FILE)`);
    createSecretFileOnce(settings.macKeyFile, `# Yunying audit chain MAC keys: <id>:<base64>; the last line signs new records. Keep outside the database.\n${newAuditKeyLine()}`);
  }
  return parseAuditKeyFile(fs.readFileSync(settings.macKeyFile, 'utf8'), settings.macAlgorithm, `AUDIT_MAC_KEY_FILE (${settings.macKeyFile})`);
}

// One keyring per process, installed at boot (services/launcher) before anything appends: every append
// site then MACs with it without each of them carrying the key. Tests install one in test/support.
let installed: AuditKeyring | null = null;

export function installAuditKeyring(keyring: AuditKeyring): void {
  installed = keyring;
}

export function installedAuditKeyring(): AuditKeyring | null {
  return installed;
}

export function requireAuditKeyring(): AuditKeyring {
  if (installed === null) throw new AuditKeyError('no audit MAC key is installed: the process must call installAuditKeyring() at start-up');
  return installed;
}

export function isMacAlgorithm(value: string | null): value is DigestAlgorithm {
  return value !== null && isDigestAlgorithm(value);
}
