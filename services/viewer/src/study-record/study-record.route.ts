import { SecureRouter, type Authenticator } from '@yunying/auth';
import type { Pool } from '@yunying/catalog';
import { callerOf, studyUidParam } from '../reading/queue.route';
import { StudyRecordService } from './study-record.service';

/**
 * GET /api/audit/studies/{uid}/record: the study's instance versions, copies, locks and verification
 * history, and its signed report versions, for the auditor console (auditors and admins, like the rest of it).
 */
export function studyRecordRoutes(pool: Pool, authenticator: Authenticator, staleVerificationSeconds: number): SecureRouter {
  const records = new StudyRecordService(pool, staleVerificationSeconds * 1000);
  const routes = new SecureRouter('viewer.study-record', authenticator);
  routes.get(
    '/api/audit/studies/:studyUid/record',
    { scope: 'audit', roles: ['auditor', 'admin'], description: 'a study as a record: versions, copies, locks, verification history, signed reports (audited)' },
    async (req, res) => {
      res.setHeader('Cache-Control', 'no-store');
      res.json(await records.get(callerOf(req), studyUidParam(req)));
    },
  );
  return routes;
}
