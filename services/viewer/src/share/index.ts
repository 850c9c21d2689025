export { shareRoutes, type ShareRouteOptions } from './share.route';
export { ShareService, DEFAULT_SHARE_LIMITS, type ShareLimits } from './share.service';
