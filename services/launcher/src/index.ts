export { startRoles, type RunningRoles } from './roles';
