export * from './catalogue';
export * from './queues';
export * from './outbox';
export * from './workers';
