export * from './database';
export * from './migrate';
export * from './archive.repository';
export * from './archive.batch';
export * from './copy-versions';
