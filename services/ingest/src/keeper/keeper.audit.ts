import type { AuditActor } from '@yunying/audit';

/** The actor of work the archive does on its own (scrubs, repairs, sweeps, disposal execution). */
export const KEEPER_ACTOR: AuditActor = { username: 'system:keeper', role: null, userId: null, clinicId: null };
