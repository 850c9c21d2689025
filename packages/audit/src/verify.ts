import type crypto from 'node:crypto';
import type { Pool } from '@yunying/catalog';
import { readAuditRecords, readChainHead, seqOfLink } from './audit-chain.repository';
import { checkpointSignatureValid, type CheckpointStore, type ParsedCheckpoint, type SignedAuditCheckpoint } from './checkpoint';
import type { AuditRecord } from './event-types';
import { GENESIS_HASH, hashAuditRecord, macAuditRecord } from './hash';
import { installedAuditKeyring, isMacAlgorithm, type AuditKeyring } from './keyring';

/**
 * - changed: a legacy (unkeyed) record no longer hashes to its link, or a record was rewritten so the next
 *   one no longer points at it;
 * - mac-mismatch: a keyed record's MAC does not verify under its key: edited, or re-hashed without the key;
 * - unknown-key: a record names a MAC key or algorithm this process does not hold;
 * - unkeyed: a legacy-format record after the first keyed one (written by someone without the key);
 * - removed: a gap in seq, or the chain head records more than the table holds;
 * - reordered / inserted: see below;
 * - truncated: a signed checkpoint records the chain further than it now goes (tail removed, head rewritten);
 * - checkpoint-mismatch: the record at a checkpoint's seq is not the one that was signed;
 * - checkpoint-invalid: a checkpoint file that does not parse or whose SM2 signature does not verify.
 */
export type ChainProblem =
  | 'changed'
  | 'mac-mismatch'
  | 'unknown-key'
  | 'unkeyed'
  | 'removed'
  | 'reordered'
  | 'inserted'
  | 'truncated'
  | 'checkpoint-mismatch'
  | 'checkpoint-invalid';

export interface ChainVerified {
  ok: true;
  count: number;
  headSeq: number;
  headHash: string;
  /** Records verified as legacy SHA-256 links (written before migration 0900). */
  legacyCount: number;
  /** seq of the first keyed record (the keyed genesis); null when none yet. */
  keyedFromSeq: number | null;
  checkpointsChecked: number;
  latestCheckpoint: { seq: number; createdAt: string } | null;
}

/**
 * A checkpoint copy that is not as written, with the chain itself still judged on the valid copies (any one
 * validly signed copy proves what the chain was). The `differs` and `invalid-copy` kinds are found here; the
 * others come from the store (CheckpointCopyProblem). Names and targets only: a checkpoint holds no content.
 */
export interface AnchorProblem {
  checkpoint: string;
  seq: number | null;
  problem: 'missing' | 'deleted' | 'overwritten' | 'unreachable' | 'differs' | 'invalid-copy';
  targets: string[];
}

/** At most this many anchor problems are listed (a lost target would otherwise list every checkpoint). */
export const MAX_ANCHOR_PROBLEMS = 200;

export type ChainVerification = (ChainVerified | { ok: false; count: number; firstBadSeq: number; problem: ChainProblem; detail: string }) & {
  /** Copies of checkpoints that are missing, hidden, overwritten or differ; empty when all agree. */
  anchorProblems?: AnchorProblem[];
};

export interface CheckpointVerification {
  store: CheckpointStore;
  /** Public keys checkpoints may be signed with (the current signer's and retired ones). */
  publicKeys: readonly crypto.KeyObject[];
}

export interface VerifyOptions {
  pageSize?: number;
  /** MAC keys to verify keyed records with; default: the keyring installed at start-up. */
  keyring?: AuditKeyring | null;
  checkpoints?: CheckpointVerification;
  /** Start after a record already proven (e.g. the latest checkpoint) instead of from record 1. */
  startAfter?: { seq: number; hash: string };
}

interface Link {
  seq: number;
  hash: string;
  prevHash: string | null;
}

type LinkCheck = { ok: true } | { ok: false; problem: ChainProblem; detail: string };

function checkLink(record: AuditRecord, keyring: AuditKeyring | null, keyedFromSeq: number | null): LinkCheck {
  if (record.macKeyId === null) {
    if (keyedFromSeq !== null) {
      return { ok: false, problem: 'unkeyed', detail: `record ${record.seq} is an unkeyed link after the keyed chain began at record ${keyedFromSeq}: it was written or rewritten without the MAC key` };
    }
    if (hashAuditRecord(record) !== record.hash) return { ok: false, problem: 'changed', detail: `record ${record.seq} (legacy link) does not match its hash` };
    return { ok: true };
  }
  const key = keyring?.byId.get(record.macKeyId);
  if (key === undefined || !isMacAlgorithm(record.macAlg)) {
    return { ok: false, problem: 'unknown-key', detail: `record ${record.seq} names MAC key "${record.macKeyId}" (${String(record.macAlg)}), which this verifier does not hold` };
  }
  if (macAuditRecord(record, key, record.macAlg) !== record.hash) {
    return { ok: false, problem: 'mac-mismatch', detail: `record ${record.seq} does not match its MAC (key ${record.macKeyId}): it was changed after it was written` };
  }
  return { ok: true };
}

/**
 * Walks the audit chain in seq order, a page at a time, checks each record's link (keyed MAC, or the legacy
 * SHA-256 before the keyed genesis) and its place in the chain, then checks the chain against every signed
 * checkpoint, and names the first thing wrong (see ChainProblem).
 * - reordered: a record is intact but links to another existing record than the one before it;
 * - inserted: a record sits between two records that link to each other directly.
 * Only records up to the head read at the start are checked, so appends during verification are fine;
 * checkpoints are listed before the head is read, so one written meanwhile is never mistaken for truncation.
 */
export async function verifyAuditChain(pool: Pool, options: VerifyOptions = {}): Promise<ChainVerification> {
  const keyring = options.keyring === undefined ? installedAuditKeyring() : options.keyring;
  const checkpoints = options.checkpoints ? await readCheckpoints(options.checkpoints, options.startAfter?.seq ?? 0) : { ok: true as const, list: [], anchorProblems: [] };
  if (!checkpoints.ok) return { ok: false, count: 0, ...checkpoints.failure, anchorProblems: checkpoints.anchorProblems };
  const result = await verifyAgainst(pool, options, keyring, checkpoints.list);
  return options.checkpoints ? { ...result, anchorProblems: checkpoints.anchorProblems } : result;
}

async function verifyAgainst(pool: Pool, options: VerifyOptions, keyring: AuditKeyring | null, checkpointList: SignedAuditCheckpoint[]): Promise<ChainVerification> {
  const pageSize = options.pageSize ?? 2000;
  const checkpoints = { list: checkpointList };
  const head = await readChainHead(pool);
  if (!head) return { ok: false, count: 0, firstBadSeq: 1, problem: 'removed', detail: 'the chain head is missing' };
  const headSeq = head.seq;
  const checkpointSeqs = new Set(checkpoints.list.map((c) => c.seq));
  const linkAt = new Map<number, string>();
  let count = 0;
  let legacyCount = 0;
  let keyedFromSeq: number | null = null;
  let expectedSeq = (options.startAfter?.seq ?? 0) + 1;
  let previous: Link | undefined = options.startAfter ? { ...options.startAfter, prevHash: null } : undefined;

  const fail = (firstBadSeq: number, problem: ChainProblem, detail: string): ChainVerification => ({ ok: false, count, firstBadSeq, problem, detail });

  for (;;) {
    const records = await readAuditRecords(pool, expectedSeq, headSeq, pageSize);
    for (const record of records) {
      const expectedPrev = previous?.hash ?? GENESIS_HASH;
      if (record.seq !== expectedSeq) {
        return fail(expectedSeq, 'removed', `records ${expectedSeq}..${record.seq - 1} are missing`);
      }
      const link = checkLink(record, keyring, keyedFromSeq);
      if (!link.ok) return fail(record.seq, link.problem, link.detail);
      if (record.prevHash !== expectedPrev) {
        if (previous && previous.prevHash === record.prevHash) {
          return fail(previous.seq, 'inserted', `record ${previous.seq} was inserted between records ${previous.seq - 1} and ${record.seq}`);
        }
        const linkedSeq = await seqOfLink(pool, record.prevHash);
        if (linkedSeq !== null) {
          return fail(record.seq, 'reordered', `record ${record.seq} follows record ${linkedSeq} in the chain, not record ${record.seq - 1}`);
        }
        if (previous) {
          // Either record N was rewritten and re-hashed, or records after N were removed and the rest renumbered
          // (which also needs the head rewritten); the links alone cannot tell which, so the detail says both.
          return fail(
            previous.seq,
            'changed',
            `record ${record.seq} links to a record that is not in the log: record ${previous.seq} was rewritten, or records after it were removed and the rest renumbered`,
          );
        }
        return fail(record.seq, 'changed', `record ${record.seq} does not start the chain`);
      }
      if (record.macKeyId === null) legacyCount += 1;
      else keyedFromSeq ??= record.seq;
      if (checkpointSeqs.has(record.seq)) linkAt.set(record.seq, record.hash);
      previous = { seq: record.seq, hash: record.hash, prevHash: record.prevHash };
      count += 1;
      expectedSeq += 1;
    }
    if (records.length < pageSize) break;
  }
  if (expectedSeq - 1 < headSeq) return fail(expectedSeq, 'removed', `records ${expectedSeq}..${headSeq} are missing (the chain head is at ${headSeq})`);
  if ((previous?.hash ?? GENESIS_HASH) !== head.hash) {
    return fail(headSeq, 'changed', `record ${headSeq} does not match the chain head`);
  }
  for (const checkpoint of checkpoints.list) {
    if (checkpoint.seq > headSeq) {
      return fail(
        headSeq + 1,
        'truncated',
        `records ${headSeq + 1}..${checkpoint.seq} are missing: the checkpoint signed at ${checkpoint.createdAt} records the chain up to record ${checkpoint.seq}`,
      );
    }
    if (linkAt.get(checkpoint.seq) !== checkpoint.hash) {
      return fail(checkpoint.seq, 'checkpoint-mismatch', `record ${checkpoint.seq} is not the record the checkpoint signed at ${checkpoint.createdAt} recorded`);
    }
  }
  const latest = checkpoints.list[checkpoints.list.length - 1];
  return {
    ok: true,
    count,
    headSeq,
    headHash: head.hash,
    legacyCount,
    keyedFromSeq,
    checkpointsChecked: checkpoints.list.length,
    latestCheckpoint: latest ? { seq: latest.seq, createdAt: latest.createdAt } : null,
  };
}

type CheckpointRead =
  | { ok: true; list: SignedAuditCheckpoint[]; anchorProblems: AnchorProblem[] }
  | { ok: false; failure: { firstBadSeq: number; problem: ChainProblem; detail: string }; anchorProblems: AnchorProblem[] };

/**
 * Every checkpoint after `afterSeq`, signatures checked, in seq order. Entries are grouped by name (a store of
 * several copies returns each distinct content of a name): a name counts when at least one of its contents is
 * validly signed, and is `checkpoint-invalid` only when none is; everything else about its copies is reported
 * as an AnchorProblem.
 */
async function readCheckpoints(source: CheckpointVerification, afterSeq: number): Promise<CheckpointRead> {
  const list: SignedAuditCheckpoint[] = [];
  const anchorProblems: AnchorProblem[] = [];
  const report = (p: AnchorProblem): void => {
    if (anchorProblems.length < MAX_ANCHOR_PROBLEMS) anchorProblems.push(p);
  };
  const groups = new Map<string, ParsedCheckpoint[]>();
  for (const parsed of await source.store.list()) groups.set(parsed.name, [...(groups.get(parsed.name) ?? []), parsed]);
  for (const [name, entries] of groups) {
    const valid = entries.flatMap((e) => (e.checkpoint !== undefined && checkpointSignatureValid(e.checkpoint, source.publicKeys) ? [e.checkpoint] : []));
    const seq = valid[0]?.seq ?? entries.find((e) => e.checkpoint !== undefined)?.checkpoint?.seq ?? null;
    if (valid.length === 0) {
      const first = entries[0];
      const detail = first?.checkpoint === undefined ? first?.problem ?? 'unreadable' : 'the signature does not verify under a known signing key';
      return { ok: false, failure: { firstBadSeq: seq ?? 0, problem: 'checkpoint-invalid', detail: `checkpoint ${name}: ${detail}` }, anchorProblems };
    }
    for (const e of entries) for (const c of e.copyProblems ?? []) report({ checkpoint: name, seq, problem: c.problem, targets: [c.target] });
    if (entries.length > 1) {
      const invalid = entries.filter((e) => e.checkpoint === undefined || !valid.includes(e.checkpoint));
      if (invalid.length > 0) report({ checkpoint: name, seq, problem: 'invalid-copy', targets: invalid.flatMap((e) => e.foundOn ?? []) });
      else report({ checkpoint: name, seq, problem: 'differs', targets: entries.flatMap((e) => e.foundOn ?? []) });
    }
    for (const checkpoint of valid) if (checkpoint.seq > afterSeq) list.push(checkpoint);
  }
  list.sort((a, b) => a.seq - b.seq);
  return { ok: true, list, anchorProblems };
}
