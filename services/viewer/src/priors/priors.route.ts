import { SecureRouter, type Authenticator } from '@yunying/auth';
import type { CatalogReader, Pool } from '@yunying/catalog';
import type { AuditSink } from '@yunying/audit';
import { callerOf, studyUidParam } from '../reading/queue.route';
import { FollowUpService } from './follow-up.service';
import { PriorsService } from './priors.service';

/**
 * GET /api/studies/{uid}/priors: the patient's other studies the caller may see; GET .../nodule-follow-up:
 * the AI nodules matched across the thyroid visits (readers only, like the AI results themselves).
 */
export function priorsRoutes(pool: Pool, authenticator: Authenticator, audit: AuditSink, reads: CatalogReader = pool): SecureRouter {
  const priors = new PriorsService(pool, audit, reads);
  const routes = new SecureRouter('viewer.priors', authenticator);
  routes.get(
    '/api/studies/:studyUid/priors',
    { scope: 'clinic-data', roles: ['radiologist', 'clinic'], description: 'the same patient’s other studies (PatientID + issuer, within the caller’s clinics), most recent first' },
    async (req, res) => {
      res.setHeader('Cache-Control', 'no-store');
      res.json(await priors.list(callerOf(req), studyUidParam(req)));
    },
  );
  const followUp = new FollowUpService(pool, priors, audit);
  routes.get(
    '/api/studies/:studyUid/nodule-follow-up',
    { scope: 'clinic-data', roles: ['radiologist'], description: 'AI nodules matched with the earlier thyroid studies: size history and ACR growth' },
    async (req, res) => {
      res.setHeader('Cache-Control', 'no-store');
      res.json(await followUp.get(callerOf(req), studyUidParam(req)));
    },
  );
  return routes;
}
