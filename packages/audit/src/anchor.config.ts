import type { Config } from '@yunying/config';
import type { WormRecordTarget } from '@yunying/storage';
import { FileCheckpointStore, type CheckpointStore } from './checkpoint';
import { ReplicaCheckpointStore } from './replica-checkpoint.store';

export interface AuditAnchorStores {
  checkpoints: CheckpointStore;
  /** Where audit segments are exported to and verified from; null with AUDIT_ANCHOR_STORE=dir. */
  segmentTargets: readonly WormRecordTarget[] | null;
  retentionDays: number;
}

/** The checkpoint store and segment targets AUDIT_ANCHOR_STORE asks for, over the replica targets of the store. */
export function auditAnchorStores(config: Config, targets: readonly WormRecordTarget[]): AuditAnchorStores {
  const { audit } = config;
  if (audit.anchorStore === 'dir') {
    return { checkpoints: new FileCheckpointStore(audit.checkpointDir, audit.chain), segmentTargets: null, retentionDays: audit.anchorRetentionDays };
  }
  return {
    checkpoints: new ReplicaCheckpointStore(targets, audit.chain, audit.anchorRetentionDays),
    segmentTargets: targets,
    retentionDays: audit.anchorRetentionDays,
  };
}
