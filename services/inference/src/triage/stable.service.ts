/**
 * The stable-study check. Ingest announces every arrival ('study.announced', delayed by the quiet
 * period). When one fires, the study is stable if its last non-SR arrival is at least the quiet period
 * old; then one triage job is queued, its id naming (study, model version, instances seen), so a repeat
 * is harmless and a late arrival (more instances) makes a new job. Fired early (clock skew, a delay cut
 * short): a re-check is queued for when the period will have passed, one per last arrival.
 */
import type { Pool } from '@yunying/catalog';
import { jobIds, type JobPayload, type TypedQueue } from '@yunying/jobs';
import type { TriageManifest } from '@yunying/nodule-model';
import { studyActivity } from './triage.repository';

export type Announcement = 'queued' | 'not_quiet' | 'no_images' | 'gone';

export class StableStudyService {
  constructor(
    private readonly deps: {
      pool: Pool;
      studyQueue: TypedQueue<'study'>;
      triageQueue: TypedQueue<'triage'>;
      manifest: TriageManifest;
      quietSeconds: number;
      now?: () => number;
    },
  ) {}

  async onAnnounced(payload: JobPayload<'study', 'study.announced'>): Promise<Announcement> {
    const { studyInstanceUid } = payload;
    const activity = await studyActivity(this.deps.pool, studyInstanceUid);
    if (activity === null) return 'gone';
    if (activity.instanceCount === 0 || activity.lastArrival === null) return 'no_images';
    const quietMs = this.deps.quietSeconds * 1000;
    const since = (this.deps.now?.() ?? Date.now()) - activity.lastArrival.getTime();
    if (since < quietMs) {
      await this.deps.studyQueue.add(
        'study.announced',
        { studyInstanceUid },
        { jobId: jobIds.studyRecheck(studyInstanceUid, activity.lastArrival.getTime()), delay: quietMs - since + 50 },
      );
      return 'not_quiet';
    }
    await this.enqueueTriage(studyInstanceUid, activity.instanceCount);
    return 'queued';
  }

  async enqueueTriage(studyInstanceUid: string, instanceCount: number): Promise<void> {
    const { manifest } = this.deps;
    await this.deps.triageQueue.add(
      'triage.run',
      { studyInstanceUid, modelId: manifest.id, modelVersion: manifest.version, instanceCount },
      // Retries: the queue's DEFAULT_JOB_OPTIONS (triage.worker.ts stores the failure on the last attempt).
      { jobId: jobIds.triage(studyInstanceUid, manifest.version, instanceCount) },
    );
  }
}
