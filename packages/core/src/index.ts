export * from './errors';
export * from './context';
export * from './logger';
export * from './digest';
export * from './secret-file';
