export * from './config';
export { envSchema, type Env } from './schema';
export { renderConfigReference, replaceConfigReference } from './docs';
