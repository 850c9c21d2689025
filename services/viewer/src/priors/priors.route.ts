import { SecureRouter, type Authenticator } from '@yunying/auth';
import type { Pool } from '@yunying/catalog';
import { callerOf, studyUidParam } from '../reading/queue.route';
import { PriorsService } from './priors.service';

/** GET /api/studies/{uid}/priors: the patient's other studies the caller may see (issue #20). */
export function priorsRoutes(pool: Pool, authenticator: Authenticator): SecureRouter {
  const priors = new PriorsService(pool);
  const routes = new SecureRouter('viewer.priors', authenticator);
  routes.get(
    '/api/studies/:studyUid/priors',
    { scope: 'clinic-data', roles: ['radiologist', 'clinic'], description: 'the same patient’s other studies (PatientID + issuer, within the caller’s clinics), most recent first' },
    async (req, res) => {
      res.setHeader('Cache-Control', 'no-store');
      res.json(await priors.list(callerOf(req), studyUidParam(req)));
    },
  );
  return routes;
}
