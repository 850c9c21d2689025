export { priorsRoutes } from './priors.route';
