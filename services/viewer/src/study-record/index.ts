export { studyRecordRoutes } from './study-record.route';
export type { StudyRecordView } from './study-record.service';
