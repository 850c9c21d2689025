/**
 * The one list of Yunying's queues, job names and payloads. Producers and workers are typed from it;
 * the workers start only if every queue and job of it has a handler (workers.ts startCatalogueWorkers).
 * Every job is retried by DEFAULT_JOB_OPTIONS (queues.ts).
 *
 * Payloads carry ids and a request id only — never patient data (names, IDs, dates of birth).
 */
export interface JobCatalogue {
  study: {
    /** An instance of the study was stored; the study may not be complete yet. */
    'study.announced': { studyInstanceUid: string; requestId?: string };
  };
  triage: {
    /** The study has been quiet for the configured period: triage it with this model version. */
    'triage.run': { studyInstanceUid: string; modelId: string; modelVersion: string; instanceCount: number; requestId?: string };
  };
}
// Copy repair is not a job: the keeper's repair loop reads the copies to repair from the catalog
// (services/ingest/src/keeper/repair.service.ts), so a lost Redis loses no repair.

export type QueueName = keyof JobCatalogue;
export type JobName<Q extends QueueName> = keyof JobCatalogue[Q] & string;
export type JobPayload<Q extends QueueName, J extends JobName<Q>> = JobCatalogue[Q][J];

export const QUEUE_NAMES: readonly QueueName[] = ['study', 'triage'];

export const JOB_NAMES: { [Q in QueueName]: readonly JobName<Q>[] } = {
  study: ['study.announced'],
  triage: ['triage.run'],
};

/** Deterministic job ids make a repeated enqueue harmless (bull ignores a job id it already holds). */
export const jobIds = {
  studyAnnounced: (studyInstanceUid: string, lastInstanceAtMs: number) => `announced:${studyInstanceUid}:${lastInstanceAtMs}`,
  /** The stable check fired before the quiet period had passed: look again when it has (one per last arrival). */
  studyRecheck: (studyInstanceUid: string, lastInstanceAtMs: number) => `recheck:${studyInstanceUid}:${lastInstanceAtMs}`,
  triage: (studyInstanceUid: string, modelVersion: string, instanceCount: number) => `triage:${studyInstanceUid}:${modelVersion}:${instanceCount}`,
};

const PHI_LIKE = /patient|birth|name/i;

/** Guards the "ids only" rule at the producer: a payload key that smells of patient data is a bug. */
export function assertNoPatientData(payload: object): void {
  for (const key of Object.keys(payload)) {
    if (PHI_LIKE.test(key)) throw new Error(`job payload must not carry patient data (key "${key}")`);
  }
}
