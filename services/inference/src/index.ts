export { startInferenceService } from './inference.service';
