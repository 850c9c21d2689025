export { PatientIndexer } from './patient-indexer';
export { PatientIndexAdmin } from './patient-index.admin';
export { patientIndexRoutes } from './patient-index.route';
export { startPatientIndexSweep } from './patient-index.sweep';
