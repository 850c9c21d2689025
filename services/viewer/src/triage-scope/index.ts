export { triageScopeRoutes } from './triage-scope.route';
