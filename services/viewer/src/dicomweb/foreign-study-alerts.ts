import type { Express, Request } from 'express';
import type { Logger } from '@yunying/core';
import type { Principal } from '@yunying/auth';
import { AccessAudit, type AccessAuditSink, type StudyOwnerLookup } from './access-audit';

/** The API routes that name a study in their path (besides DICOMweb, which alerts in its services). */
const STUDY_ROUTES = ['/api/studies/:studyUid', '/api/queue/:studyUid'];

/**
 * Refused accesses on the JSON API (#17 finding 5): a 404 or 403 answered to a request that names a study of a
 * clinic the caller may not see becomes the same Security Alert as on DICOMweb (`access-refused`,
 * resource `api`). The routes themselves answer 404 through their SQL tenancy filter and stay unchanged; the
 * check runs after the answer is sent, so it neither delays nor changes it. A failure to record is logged.
 */
export function foreignStudyAlerts(app: Express, deps: { audit: AccessAuditSink; studies: StudyOwnerLookup; logger: Logger }): void {
  const audit = new AccessAudit(deps.audit, deps.studies);
  app.use(STUDY_ROUTES, (req: Request & { principal?: Principal }, res, next) => {
    const studyUid = typeof req.params.studyUid === 'string' ? req.params.studyUid : undefined;
    res.on('finish', () => {
      if ((res.statusCode !== 404 && res.statusCode !== 403) || req.principal === undefined || studyUid === undefined) return;
      if (!/^[0-9.]{1,64}$/.test(studyUid)) return;
      audit.refusedIfForeign({ principal: req.principal, sourceIp: req.ip ?? null }, studyUid, 'api').catch((error: unknown) => {
        deps.logger.error({ err: error instanceof Error ? error.message : String(error) }, 'could not audit a refused study access');
      });
    });
    next();
  });
}
