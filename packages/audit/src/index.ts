export * from './event-types';
export * from './hash';
export * from './audit.repository';
export * from './verify';
export * from './csv';
export * from './retention.repository';
export * from './audit.route';
