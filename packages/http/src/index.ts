export * from './problem';
export * from './request-context';
export * from './metrics';
export * from './readiness';
export * from './service-app';
export * from './serve';
export * from './lifecycle';
export { Router } from 'express';
export * from './service-context';
