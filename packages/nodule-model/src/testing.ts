/** Test helpers for packages that use the nodule model (e.g. the inference service's tests). */
export { syntheticGray } from './synthetic';
export type { SyntheticSpec } from './synthetic';
