import { Counter, Gauge, Registry, collectDefaultMetrics } from 'prom-client';
import type { Spool } from './spool';

/** Prometheus metrics of one gateway process (GET /metrics). Gauges of the spool are read on each scrape. */
export interface GatewayMetrics {
  registry: Registry;
  received: Counter<'outcome'>;
  associations: Counter<'result'>;
  forwarded: Counter<'outcome'>;
  forwardErrors: Counter<'kind'>;
  spoolFull: Gauge;
  archiveReachable: Gauge;
  refresh(): void;
}

export function gatewayMetrics(spool: Spool, archiveReachable: () => boolean | null): GatewayMetrics {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry, prefix: 'yunying_gateway_' });
  const received = new Counter({ name: 'yunying_gateway_cstore_total', help: 'C-STORE requests answered, by outcome', labelNames: ['outcome'], registers: [registry] });
  const associations = new Counter({ name: 'yunying_gateway_associations_total', help: 'Associations, by result', labelNames: ['result'], registers: [registry] });
  const forwarded = new Counter({ name: 'yunying_gateway_forwarded_total', help: 'Instances the archive answered, by outcome', labelNames: ['outcome'], registers: [registry] });
  const forwardErrors = new Counter({ name: 'yunying_gateway_forward_errors_total', help: 'Failed STOW-RS requests, by kind', labelNames: ['kind'], registers: [registry] });
  const spoolFull = new Gauge({ name: 'yunying_gateway_spool_full', help: 'ALARM: 1 while C-STOREs are refused because the spool is over its limit', registers: [registry] });
  const reachable = new Gauge({ name: 'yunying_gateway_archive_reachable', help: '1 when the last STOW-RS request got an answer, 0 when it did not', registers: [registry] });
  const queued = new Gauge({ name: 'yunying_gateway_spool_instances', help: 'Instances in the spool, by state', labelNames: ['state'], registers: [registry] });
  const bytes = new Gauge({ name: 'yunying_gateway_spool_bytes', help: 'Bytes held in the spool (pending + failed)', registers: [registry] });
  const limit = new Gauge({ name: 'yunying_gateway_spool_limit_bytes', help: 'Spool limit in bytes', registers: [registry] });
  const oldest = new Gauge({ name: 'yunying_gateway_oldest_pending_seconds', help: 'Age of the oldest instance waiting for the archive', registers: [registry] });
  const refresh = (): void => {
    const pending = spool.pendingFiles();
    queued.set({ state: 'pending' }, pending.length);
    queued.set({ state: 'failed' }, spool.failedCount());
    bytes.set(spool.bytes());
    limit.set(spool.limitBytes);
    const first = pending.reduce<number | null>((min, f) => (min === null ? f.receivedAt : Math.min(min, f.receivedAt)), null);
    oldest.set(first === null ? 0 : (Date.now() - first) / 1000);
    const r = archiveReachable();
    if (r !== null) reachable.set(r ? 1 : 0);
  };
  return {
    registry,
    received,
    associations,
    forwarded,
    forwardErrors,
    spoolFull,
    archiveReachable: reachable,
    refresh,
  };
}
