export * from './config';
export { envSchema, type Env, type OidcClientSetting } from './schema';
export { renderConfigReference, replaceConfigReference } from './docs';
export { RECOMMENDED_GLIBC_TUNABLES, allocatorTuned } from './allocator';
