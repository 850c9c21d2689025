import crypto from 'node:crypto';
import type { Pool } from '@yunying/catalog';
import type { WormRecordTarget } from '@yunying/storage';
import { readAuditRecords } from './audit-chain.repository';
import { copyProblems } from './replica-checkpoint.store';
import { isSegmentHeader, segmentHeaderSignatureValid, segmentLine, segmentPrefix, splitSegment, type SignedSegmentHeader } from './segment';
import { readAllVersions } from './worm';

/**
 * - removed / changed: an exported record is no longer in the database, or no longer reads as exported
 *   (`seqs` names them; content is never shown);
 * - gap: records between two segments were never exported (or a whole segment is gone from every copy);
 * - invalid: a segment whose header, signature, body hash or record links do not hold (on every copy);
 * - missing / deleted / overwritten / unreachable / differs / invalid-copy: as for checkpoints.
 */
export interface SegmentProblem {
  segment: string;
  problem: 'removed' | 'changed' | 'gap' | 'invalid' | 'missing' | 'deleted' | 'overwritten' | 'unreachable' | 'differs' | 'invalid-copy';
  targets?: string[];
  /** Record numbers as ranges, `5-7,9`. */
  seqs?: string;
  detail?: string;
}

export interface SegmentVerification {
  ok: boolean;
  segments: number;
  recordsChecked: number;
  /** Last record number exported (and checked); 0 when nothing was exported yet. */
  exportedThrough: number;
  problems: SegmentProblem[];
}

/** `[1,2,3,5]` -> `1-3,5`; at most `max` ranges, then `...` (a huge deletion stays a short message). */
export function seqRanges(seqs: readonly number[], max = 50): string {
  const out: string[] = [];
  let i = 0;
  while (i < seqs.length && out.length < max) {
    let j = i;
    while (j + 1 < seqs.length && seqs[j + 1] === (seqs[j] ?? 0) + 1) j++;
    out.push(i === j ? String(seqs[i]) : `${seqs[i]}-${seqs[j]}`);
    i = j + 1;
  }
  return i < seqs.length ? `${out.join(',')},...` : out.join(',');
}

export interface ParsedSegment {
  header: SignedSegmentHeader;
  lines: string[];
}

/** A segment that holds together on its own: signed header, body hash, and records linking one to the next. */
export function parseSegment(bytes: Buffer, chain: string, publicKeys: readonly crypto.KeyObject[]): ParsedSegment | string {
  const parts = splitSegment(bytes);
  if (parts === null || !isSegmentHeader(parts.header, chain)) return 'not a segment of this chain';
  const header = parts.header;
  if (!segmentHeaderSignatureValid(header, publicKeys)) return 'the header signature does not verify under a known signing key';
  if (crypto.createHash('sha256').update(parts.body).digest('hex') !== header.bodySha256) return 'the body does not match its SHA-256';
  const lines = parts.body.toString('utf8').split('\n');
  if (lines.pop() !== '') return 'the body does not end with a newline';
  if (lines.length !== header.count || header.lastSeq - header.firstSeq + 1 !== header.count) return 'the record count does not match the range';
  let prev = header.prevHash;
  for (const [i, line] of lines.entries()) {
    let r: { seq?: unknown; prevHash?: unknown; hash?: unknown };
    try {
      r = JSON.parse(line) as typeof r;
    } catch {
      return `record ${header.firstSeq + i} is not JSON`;
    }
    if (r.seq !== header.firstSeq + i || r.prevHash !== prev || typeof r.hash !== 'string') return `record ${header.firstSeq + i} does not continue the segment`;
    prev = r.hash;
  }
  if (prev !== header.lastHash) return 'the last record is not the one the header names';
  return { header, lines };
}

/**
 * Checks every exported segment (all versions on all targets) against the audit rows: a row removed or edited
 * since its export is reported by number. Segments must follow one another (each continuing the previous one's
 * last link), so a segment removed from every copy shows as a gap.
 */
export async function verifyAuditSegments(
  pool: Pool,
  targets: readonly WormRecordTarget[],
  chain: string,
  publicKeys: readonly crypto.KeyObject[],
): Promise<SegmentVerification> {
  const prefix = segmentPrefix(chain);
  const all = await readAllVersions(targets, prefix);
  const problems: SegmentProblem[] = [];
  const segments: ParsedSegment[] = [];
  for (const [key, byTarget] of all.byKey) {
    const name = key.slice(prefix.length);
    for (const p of copyProblems(targets, byTarget, all.unreachable)) problems.push({ segment: name, problem: p.problem, targets: [p.target] });
    const contents = new Map<string, { bytes: Buffer; targets: string[] }>();
    for (const [target, copies] of byTarget) {
      for (const c of copies) {
        const id = crypto.createHash('sha256').update(c.bytes).digest('hex');
        const entry = contents.get(id) ?? { bytes: c.bytes, targets: [] };
        entry.targets.push(target);
        contents.set(id, entry);
      }
    }
    const parsed = [...contents.values()].map((c) => ({ ...c, parsed: parseSegment(c.bytes, chain, publicKeys) }));
    const valid = parsed.filter((p): p is typeof p & { parsed: ParsedSegment } => typeof p.parsed !== 'string');
    const invalid = parsed.filter((p) => typeof p.parsed === 'string');
    const chosen = valid[0];
    if (chosen === undefined) {
      const why = invalid[0]?.parsed;
      problems.push({ segment: name, problem: 'invalid', detail: typeof why === 'string' ? why : 'unreadable' });
      continue;
    }
    if (invalid.length > 0) problems.push({ segment: name, problem: 'invalid-copy', targets: invalid.flatMap((p) => p.targets) });
    else if (valid.length > 1) problems.push({ segment: name, problem: 'differs', targets: valid.flatMap((p) => p.targets) });
    segments.push(chosen.parsed);
  }
  segments.sort((a, b) => a.header.firstSeq - b.header.firstSeq);
  let recordsChecked = 0;
  let expected = 1;
  let prevHash: string | null = null;
  for (const segment of segments) {
    const { header, lines } = segment;
    const name = `${String(header.firstSeq).padStart(15, '0')}-${String(header.lastSeq).padStart(15, '0')}.ndjson`;
    if (header.firstSeq !== expected || (prevHash !== null && header.prevHash !== prevHash)) {
      const gap: SegmentProblem = { segment: name, problem: 'gap', detail: `expected the segment to start at record ${expected}` };
      if (header.firstSeq > expected) gap.seqs = header.firstSeq - 1 === expected ? String(expected) : `${expected}-${header.firstSeq - 1}`;
      problems.push(gap);
    }
    const removed: number[] = [];
    const changed: number[] = [];
    const records = await readAuditRecords(pool, header.firstSeq, header.lastSeq);
    const bySeq = new Map(records.map((record) => [record.seq, record]));
    for (const [i, line] of lines.entries()) {
      const seq = header.firstSeq + i;
      const record = bySeq.get(seq);
      if (record === undefined) removed.push(seq);
      else if (segmentLine(record) !== line) changed.push(seq);
    }
    if (removed.length > 0) problems.push({ segment: name, problem: 'removed', seqs: seqRanges(removed) });
    if (changed.length > 0) problems.push({ segment: name, problem: 'changed', seqs: seqRanges(changed) });
    recordsChecked += lines.length;
    expected = header.lastSeq + 1;
    prevHash = header.lastHash;
  }
  return { ok: problems.length === 0, segments: segments.length, recordsChecked, exportedThrough: expected - 1, problems };
}
