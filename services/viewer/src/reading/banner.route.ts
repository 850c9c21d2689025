import { SecureRouter, type Authenticator } from '@yunying/auth';
import type { BannerService } from './banner.service';
import { callerOf, studyUidParam } from './queue.route';

/** GET /api/studies/{uid}/banner: the patient banner of the viewer (readers and the sending clinic). */
export function bannerRoutes(banner: BannerService, authenticator: Authenticator): SecureRouter {
  const routes = new SecureRouter('viewer.banner', authenticator);
  routes.get(
    '/api/studies/:studyUid/banner',
    { scope: 'clinic-data', roles: ['radiologist', 'clinic'], description: 'patient and study identity for the viewer banner' },
    async (req, res) => {
      res.setHeader('Cache-Control', 'no-store');
      res.json(await banner.get(callerOf(req), studyUidParam(req)));
    },
  );
  return routes;
}
