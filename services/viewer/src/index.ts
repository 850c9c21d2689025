export { startViewerService } from './viewer.service';
