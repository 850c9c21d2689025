import type { AuditSink } from '@yunying/audit';
import { inTransaction, type Pool } from '@yunying/catalog';
import { isoDate } from '../reading/patient-age';
import { auditRead, type Caller } from '../reading/reading.audit';
import { findingsOf, type VisitFinding } from './follow-up.findings';
import { noduleTracks, type NoduleTrack } from './follow-up.tracks';
import { PriorsRepository, type PatientStudyRow } from './priors.repository';
import { compareMostRecentFirst, isEarlier, isThyroidStudy } from './priors.rules';
import type { PriorsService } from './priors.service';

/** Earlier thyroid visits compared with the current one: a decade of yearly check-ups is more than a reader scans. */
export const MAX_FOLLOW_UP_PRIORS = 4;

export interface FollowUpView {
  studyInstanceUid: string;
  thyroid: boolean;
  /** Oldest first, the current study last; `aiResult` false when the visit has no AI nodule result to compare. */
  visits: { studyInstanceUid: string; studyDate: string | null; aiResult: boolean }[];
  nodules: (Omit<NoduleTrack, 'history'> & { history: (FollowUpEntry | null)[] })[];
  rule: string;
}

export interface FollowUpEntry {
  sizeMm: { long: number; short: number } | null;
  trLevel: string | null;
  centre: { x: number; y: number };
  sopInstanceUid: string;
  frameNumber: number;
}

function entry(f: VisitFinding | null): FollowUpEntry | null {
  return f ? { sizeMm: f.sizeMm, trLevel: f.trLevel, centre: f.centre, sopInstanceUid: f.sopInstanceUid, frameNumber: f.frameNumber } : null;
}

/**
 * Nodule follow-up (issue #20): the AI's nodules of the current thyroid study matched with those of the
 * patient's earlier thyroid studies (the priors' linking and tenancy), a size history per nodule and
 * growth by the ACR rule. Each study whose AI result is read gets its own audit record, appended after the read
 * and before the answer through the process's group-committing audit log (reading.audit.ts auditRead).
 */
export class FollowUpService {
  private readonly repo = new PriorsRepository();

  constructor(
    private readonly pool: Pool,
    private readonly priors: PriorsService,
    private readonly audit: AuditSink,
  ) {}

  async get(caller: Caller, studyUid: string): Promise<FollowUpView> {
    // A transaction because finding the patient's studies may index this one first (priors.service.ts).
    const { current, earlier, visits, images } = await inTransaction(this.pool, async (client) => {
      const { current, others } = await this.priors.patientStudies(client, caller, studyUid);
      const earlier = isThyroidStudy(current)
        ? others.filter((s) => isEarlier(s, current) && isThyroidStudy(s)).sort(compareMostRecentFirst).slice(0, MAX_FOLLOW_UP_PRIORS).reverse()
        : [];
      const visits: PatientStudyRow[] = [...earlier, current];
      return { current, earlier, visits, images: await this.repo.usableAiImages(client, visits.map((v) => v.id)) };
    });
    const findings = visits.map((v) => findingsOf(images.get(v.id)));
    // Appended together, so they share the audit log's commits.
    await Promise.all(
      visits.map((v) =>
        auditRead(this.audit, caller, {
          type: 'DICOM Instances Accessed',
          studyInstanceUid: v.studyInstanceUid,
          clinicId: v.clinicId,
          details: v === current ? { what: 'nodule-follow-up', priors: earlier.map((e) => e.studyInstanceUid) } : { what: 'nodule-follow-up', forStudy: studyUid },
        }),
      ),
    );
    return {
      studyInstanceUid: studyUid,
      thyroid: isThyroidStudy(current),
      visits: visits.map((v) => ({ studyInstanceUid: v.studyInstanceUid, studyDate: isoDate(v.studyDate), aiResult: images.has(v.id) })),
      nodules: earlier.length === 0 ? [] : noduleTracks(findings).map((t) => ({ ...t, history: t.history.map(entry) })),
      rule: 'ACR TI-RADS: growth is an increase of at least 20 % and at least 2 mm in two dimensions, or at least 50 % in volume (volume only when three dimensions are measured)',
    };
  }
}
