import { StoreStatus, errorComment, type StoreAnswer } from '@yunying/dimse';
import type { InstanceOutcome } from '../ingest.pipeline';

/**
 * The C-STORE answer for a pipeline outcome (PS3.4 B.2.3). The pipeline's rejections already carry a
 * PS3.7 status as `failureReason` (see @yunying/dicom rejection.ts), so DIMSE and STOW answer alike.
 */
export function answerForOutcome(outcome: InstanceOutcome): StoreAnswer {
  switch (outcome.status) {
    case 'stored':
    case 'already_stored':
    case 'new_version':
      return { status: StoreStatus.Success };
    case 'rejected':
      return { status: outcome.failureReason, errorComment: errorComment(outcome.message) };
  }
}
