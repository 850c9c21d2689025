import type { Registry } from 'prom-client';
import type { Counter } from 'prom-client';
import { counter } from '@yunying/http';

/** The keeper's metrics. Labels are replica names and fixed outcome words, never keys or UIDs. */
export interface KeeperMetrics {
  /** outcome: ok | missing | corrupt | unreachable | tampered (written behind the archive, #17) | unprotected (target lock configuration) */
  verified: Counter<string>;
  verifiedBytes: Counter<string>;
  /** outcome: repaired | failed */
  repaired: Counter<string>;
  orphans: Counter<string>;
  /** outcome: requested | approved | rejected | executed | blocked | refused */
  disposals: Counter<string>;
  /** outcome: extended | missing | failed */
  locksExtended: Counter<string>;
}

export function keeperMetrics(registry: Registry): KeeperMetrics {
  return {
    verified: counter(registry, 'yunying_keeper_copies_verified_total', 'Copies verified by the scrubber, by replica target and outcome', ['target', 'outcome']),
    verifiedBytes: counter(registry, 'yunying_keeper_scrub_bytes_total', 'Bytes re-read by the scrubber, by replica target', ['target']),
    repaired: counter(registry, 'yunying_keeper_copies_repaired_total', 'Copy repairs, by replica target and outcome', ['target', 'outcome']),
    orphans: counter(registry, 'yunying_keeper_orphans_found_total', 'Objects found on a replica target but absent from the catalog (first sighting)', ['target']),
    disposals: counter(registry, 'yunying_keeper_disposals_total', 'Disposal workflow steps, by outcome', ['outcome']),
    locksExtended: counter(registry, 'yunying_keeper_locks_extended_total', "Copy locks extended to their study's retain-until, by replica target and outcome", ['target', 'outcome']),
  };
}
