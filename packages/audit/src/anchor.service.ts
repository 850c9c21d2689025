import { inTransaction, type Pool } from '@yunying/catalog';
import { headRecordKey, readChainHead } from './audit-chain.repository';
import { appendAuditEvent } from './audit.repository';
import { checkpointSignatureValid, signCheckpoint, type CheckpointSigner, type CheckpointStore, type SignedAuditCheckpoint } from './checkpoint';
import { requireAuditKeyring } from './keyring';
import { verifyAuditChain, type ChainVerification } from './verify';

const SYSTEM_ACTOR = { username: 'system', role: 'system' };

/**
 * At start-up, after migrations and once the MAC keyring is installed: when the chain's last record was not
 * written under the current key (legacy records after migration 0900, or a key rotation), append a Security
 * Alert saying so. That record is the keyed genesis: it MACs the previous link, so from then on the legacy
 * part (or the old key's part) cannot be re-hashed without breaking it. Idempotent: nothing when the head is
 * already under the current key or the chain is empty (its first record will be keyed anyway).
 */
export async function ensureKeyedGenesis(pool: Pool): Promise<number | null> {
  const keyring = requireAuditKeyring();
  return inTransaction(pool, async (client) => {
    const head = await headRecordKey(client);
    if (head === null || (head.macKeyId === keyring.current.id && head.macAlg === keyring.algorithm)) return null;
    const record = await appendAuditEvent(client, {
      type: 'Security Alert',
      action: 'E',
      actor: SYSTEM_ACTOR,
      details: {
        kind: head.macKeyId === null ? 'audit-keyed-genesis' : 'audit-mac-key-changed',
        keyId: keyring.current.id,
        algorithm: keyring.algorithm,
        previousKeyId: head.macKeyId,
        previousSeq: head.seq,
      },
    });
    return record.seq;
  });
}

export type CheckpointOutcome =
  | { written: true; checkpoint: SignedAuditCheckpoint }
  | { written: false; reason: 'empty' | 'unchanged' }
  | { written: false; reason: 'chain-broken'; verification: ChainVerification };

/**
 * Signs and stores a checkpoint of the current head, unless it is already checkpointed. The records since
 * the latest checkpoint are verified first: a head is never signed over a chain that does not verify (that
 * would bless a forgery); the caller raises the alarm instead.
 */
export async function writeCheckpoint(pool: Pool, signer: CheckpointSigner, store: CheckpointStore, now = new Date()): Promise<CheckpointOutcome> {
  const headSeq = (await readChainHead(pool))?.seq ?? 0;
  if (headSeq === 0) return { written: false, reason: 'empty' };
  const trusted = (await (store.newest ? store.newest(5) : store.list()))
    .flatMap((p) => (p.checkpoint !== undefined && checkpointSignatureValid(p.checkpoint, [signer.publicKey]) ? [p.checkpoint] : []))
    .sort((a, b) => a.seq - b.seq);
  const latest = trusted[trusted.length - 1];
  if (latest !== undefined && latest.seq >= headSeq) return { written: false, reason: 'unchanged' };
  const verification = await verifyAuditChain(pool, latest ? { startAfter: { seq: latest.seq, hash: latest.hash } } : {});
  if (!verification.ok) return { written: false, reason: 'chain-broken', verification };
  const checkpoint = signCheckpoint(signer, { chain: store.chain, seq: verification.headSeq, hash: verification.headHash }, now);
  await store.put(checkpoint);
  return { written: true, checkpoint };
}

/**
 * The keeper's scheduled anchoring: signs a checkpoint when the head moved; when the chain does not verify it
 * signs nothing and appends one Security Alert per distinct break (record number and kind, never content), so
 * the alarm reaches whoever watches the audit trail without adding a record every interval.
 */
export class AuditAnchor {
  private reported: string | null = null;

  constructor(
    private readonly pool: Pool,
    private readonly signer: () => CheckpointSigner,
    private readonly store: CheckpointStore,
  ) {}

  async tick(now = new Date()): Promise<CheckpointOutcome> {
    const outcome = await writeCheckpoint(this.pool, this.signer(), this.store, now);
    if (outcome.written || outcome.reason !== 'chain-broken' || outcome.verification.ok) return outcome;
    const { firstBadSeq, problem, detail } = outcome.verification;
    const key = `${firstBadSeq}:${problem}`;
    if (this.reported !== key) {
      await inTransaction(this.pool, (client) =>
        appendAuditEvent(client, {
          type: 'Security Alert',
          action: 'E',
          outcome: 12,
          actor: SYSTEM_ACTOR,
          details: { kind: 'audit-chain-broken', firstBadSeq, problem, detail },
        }),
      );
      this.reported = key;
    }
    return outcome;
  }
}
