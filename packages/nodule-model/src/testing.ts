/** Test helpers for packages that use the triage model. */
export { syntheticFrame } from './synthetic.frame';
export { scoredImage, type AiNoduleSpec } from './scored-image.fixture';
