import crypto from 'node:crypto';
import type { Pool } from '@yunying/catalog';
import { AppError, describeError } from '@yunying/core';
import type { RecordVersion, WormRecordTarget } from '@yunying/storage';
import { latestStudyRetainUntil, readAuditRecords } from './audit-chain.repository';
import { asSm2PublicKey, publicKeyId, type CheckpointSigner } from './checkpoint';
import type { AuditRecord } from './event-types';
import { canonicalJson, GENESIS_HASH } from './hash';
import { verifyAuditChain, type ChainVerification } from './verify';
import { auditRecordPrefix, retainUntilFrom } from './worm';

/**
 * Off-host copies of the audit records (issue #17; 网络安全法 Art. 21: logs kept at least six months). The keeper
 * exports the records written since the last export as one immutable segment object in every replica target
 * (`audit/<chain>/segments/<first>-<last>.ndjson`, write-once, retention-locked): a header line (the range, the
 * link of its last record, SHA-256 of the body, SM2-signed like a checkpoint), then one record per line as read
 * from the database. Only records that verify are exported, and each segment continues the previous one's last
 * link, so the segments form the chain again outside the database; verifyAuditSegments compares them with the
 * rows and reports a superuser's deleted or edited records by number.
 */
export interface AuditSegmentHeader {
  format: 'yy-audit-segment-1';
  chain: string;
  firstSeq: number;
  lastSeq: number;
  count: number;
  /** The link the first record points at (the previous segment's lastHash, or the genesis). */
  prevHash: string;
  /** The link (keyed MAC) of the last record. */
  lastHash: string;
  bodySha256: string;
  createdAt: string;
  signerKeyId: string;
  algorithm: 'SM2-SM3';
}

export interface SignedSegmentHeader extends AuditSegmentHeader {
  signature: string;
}

export const SEGMENT_FORMAT = 'yy-audit-segment-1';

/** One record per line, dates as ISO strings: what a row reads back as, so a comparison is a string compare. */
export function segmentLine(record: AuditRecord): string {
  return JSON.stringify({ ...record, occurredAt: record.occurredAt.toISOString() });
}

export function segmentKey(chain: string, firstSeq: number, lastSeq: number): string {
  return `${segmentPrefix(chain)}${String(firstSeq).padStart(15, '0')}-${String(lastSeq).padStart(15, '0')}.ndjson`;
}

export function segmentPrefix(chain: string): string {
  return `${auditRecordPrefix(chain)}segments/`;
}

function headerBytes(header: AuditSegmentHeader): Buffer {
  const { format, chain, firstSeq, lastSeq, count, prevHash, lastHash, bodySha256, createdAt, signerKeyId, algorithm } = header;
  return Buffer.from(canonicalJson({ format, chain, firstSeq, lastSeq, count, prevHash, lastHash, bodySha256, createdAt, signerKeyId, algorithm }));
}

export function segmentHeaderSignatureValid(header: SignedSegmentHeader, publicKeys: readonly crypto.KeyObject[]): boolean {
  const found = publicKeys.find((k) => publicKeyId(k) === header.signerKeyId);
  if (found === undefined) return false;
  try {
    return crypto.verify('sm3', headerBytes(header), asSm2PublicKey(found), Buffer.from(header.signature, 'base64'));
  } catch {
    return false;
  }
}

export function buildSegment(signer: CheckpointSigner, chain: string, prevHash: string, records: readonly AuditRecord[], now: Date): { header: SignedSegmentHeader; bytes: Buffer } {
  const first = records[0];
  const last = records[records.length - 1];
  if (first === undefined || last === undefined) throw new AppError('internal', 'audit segment: no records');
  const body = Buffer.from(records.map((r) => `${segmentLine(r)}\n`).join(''));
  const header: AuditSegmentHeader = {
    format: SEGMENT_FORMAT,
    chain,
    firstSeq: first.seq,
    lastSeq: last.seq,
    count: records.length,
    prevHash,
    lastHash: last.hash,
    bodySha256: crypto.createHash('sha256').update(body).digest('hex'),
    createdAt: now.toISOString(),
    signerKeyId: signer.keyId,
    algorithm: 'SM2-SM3',
  };
  const signed: SignedSegmentHeader = { ...header, signature: crypto.sign('sm3', headerBytes(header), signer.privateKey).toString('base64') };
  return { header: signed, bytes: Buffer.concat([Buffer.from(`${JSON.stringify(signed)}\n`), body]) };
}

/** Splits a segment object into its header (unchecked) and body; null when it has no header line. */
export function splitSegment(bytes: Buffer): { header: unknown; body: Buffer } | null {
  const nl = bytes.indexOf(0x0a);
  if (nl < 0) return null;
  try {
    return { header: JSON.parse(bytes.subarray(0, nl).toString('utf8')) as unknown, body: bytes.subarray(nl + 1) };
  } catch {
    return null;
  }
}

export function isSegmentHeader(value: unknown, chain: string): value is SignedSegmentHeader {
  const h = value as Partial<SignedSegmentHeader> | null;
  const seq = (n: unknown): boolean => typeof n === 'number' && Number.isSafeInteger(n) && n > 0;
  return (
    h !== null &&
    typeof h === 'object' &&
    h.format === SEGMENT_FORMAT &&
    h.chain === chain &&
    seq(h.firstSeq) &&
    seq(h.lastSeq) &&
    seq(h.count) &&
    typeof h.prevHash === 'string' &&
    typeof h.lastHash === 'string' &&
    typeof h.bodySha256 === 'string' &&
    typeof h.createdAt === 'string' &&
    typeof h.signerKeyId === 'string' &&
    h.algorithm === 'SM2-SM3' &&
    typeof h.signature === 'string'
  );
}

export interface SegmentExportOptions {
  /** Days each segment stays locked at least (≥ 183: six months); longer when a study it names is kept longer. */
  retentionDays: number;
  /** Records per segment at most: bounds the memory of one export. */
  maxRecords?: number;
}

export type SegmentExportOutcome =
  | { exported: true; key: string; firstSeq: number; lastSeq: number; count: number }
  | { exported: false; reason: 'up-to-date' }
  | { exported: false; reason: 'chain-broken'; verification: ChainVerification }
  | { exported: false; reason: 'last-segment-invalid' };

/**
 * The last exported segment, found by name in the targets (names sort by seq), never in the database: the
 * newest name whose header verifies under the signer. A newer name that does not verify (written by someone
 * holding a target's credentials) is passed over here and reported by verifyAuditSegments; 'invalid' only
 * when none of the newest few verifies.
 */
async function lastExported(targets: readonly WormRecordTarget[], chain: string, publicKey: crypto.KeyObject): Promise<{ seq: number; hash: string } | 'invalid' | null> {
  const prefix = segmentPrefix(chain);
  const candidates: { key: string; target: WormRecordTarget; versionId: string | null }[] = [];
  let reached = 0;
  for (const target of targets) {
    let versions: RecordVersion[];
    try {
      versions = await target.listRecords(prefix);
    } catch {
      continue;
    }
    reached += 1;
    for (const v of versions) if (!v.deleteMarker) candidates.push({ key: v.key, target, versionId: v.versionId });
  }
  if (reached === 0) throw new AppError('unavailable', 'audit segments: no replica target could be listed', { retryable: true });
  if (candidates.length === 0) return null;
  candidates.sort((a, b) => (a.key < b.key ? 1 : a.key > b.key ? -1 : 0));
  for (const c of candidates.slice(0, 3 * targets.length + 3)) {
    let bytes: Uint8Array;
    try {
      bytes = await c.target.readRecord(c.key, c.versionId);
    } catch {
      continue;
    }
    const parts = splitSegment(Buffer.from(bytes));
    if (parts !== null && isSegmentHeader(parts.header, chain) && segmentHeaderSignatureValid(parts.header, [publicKey])) {
      return { seq: parts.header.lastSeq, hash: parts.header.lastHash };
    }
  }
  return 'invalid';
}

/** Max retain-until of the studies the records name: an audit trail is kept as long as its study. */
export async function studiesRetainUntil(pool: Pool, records: readonly Pick<AuditRecord, 'studyInstanceUid'>[]): Promise<Date | null> {
  const uids = [...new Set(records.flatMap((r) => (typeof r.studyInstanceUid === 'string' ? [r.studyInstanceUid] : [])))];
  if (uids.length === 0) return null;
  return latestStudyRetainUntil(pool, uids);
}

/** The later of now + `days` and the retain-until of the studies the records name. */
export async function segmentRetainUntil(pool: Pool, records: readonly Pick<AuditRecord, 'studyInstanceUid'>[], days: number, now = new Date()): Promise<Date> {
  const floor = retainUntilFrom(now, days);
  const study = await studiesRetainUntil(pool, records);
  return study !== null && study.getTime() > floor.getTime() ? new Date(Math.ceil(study.getTime() / 1000) * 1000) : floor;
}

/**
 * Exports the next segment: the records after the last exported one, up to the verified head (maxRecords at
 * most). The records are verified first, starting from the last segment's link, so a segment never carries a
 * forged record and always continues its predecessor.
 */
export async function exportAuditSegment(
  pool: Pool,
  signer: CheckpointSigner,
  targets: readonly WormRecordTarget[],
  chain: string,
  options: SegmentExportOptions,
  now = new Date(),
): Promise<SegmentExportOutcome> {
  const previous = await lastExported(targets, chain, signer.publicKey);
  if (previous === 'invalid') return { exported: false, reason: 'last-segment-invalid' };
  const verification = await verifyAuditChain(pool, previous ? { startAfter: { seq: previous.seq, hash: previous.hash } } : {});
  if (!verification.ok) return { exported: false, reason: 'chain-broken', verification };
  const from = (previous?.seq ?? 0) + 1;
  const to = Math.min(verification.headSeq, from + (options.maxRecords ?? 20_000) - 1);
  if (to < from) return { exported: false, reason: 'up-to-date' };
  const records = await readAuditRecords(pool, from, to);
  // Verified a moment ago; a row changed in between would break the chain of the segment itself.
  if (records.length !== to - from + 1 || records.some((r, i) => r.seq !== from + i)) {
    throw new AppError('unavailable', `audit segment ${from}..${to}: records changed while exporting`, { retryable: true });
  }
  const { bytes } = buildSegment(signer, chain, previous?.hash ?? GENESIS_HASH, records, now);
  const retainUntil = await segmentRetainUntil(pool, records, options.retentionDays, now);
  const key = segmentKey(chain, from, to);
  const results = await Promise.allSettled(targets.map((t) => t.putRecord(key, bytes, retainUntil)));
  const failed = results.flatMap((r, i) => (r.status === 'rejected' ? [`${targets[i]?.name ?? '?'}: ${describeError(r.reason)}`] : []));
  if (failed.length === results.length) throw new AppError('unavailable', `audit segment ${from}..${to} not written (${failed.join('; ')})`, { retryable: true });
  // Written where it could be: the next export continues from it; the verifier reports the missing copy.
  return { exported: true, key, firstSeq: from, lastSeq: to, count: records.length };
}
