import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { RequestHandler } from 'express';

/** One registry per process: ROLE=all serves the same metrics from every service's /metrics. */
export function createMetricsRegistry(): Registry {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry, prefix: 'yunying_' });
  return registry;
}

/** Request counts and durations labelled by route pattern (never by raw path: UIDs would explode cardinality). */
export function httpMetrics(registry: Registry, service: string): RequestHandler {
  const existing = registry.getSingleMetric('yunying_http_request_duration_seconds');
  const duration =
    (existing as Histogram<'service' | 'method' | 'route' | 'status'> | undefined) ??
    new Histogram({
      name: 'yunying_http_request_duration_seconds',
      help: 'HTTP request duration by service, method, route pattern and status',
      labelNames: ['service', 'method', 'route', 'status'],
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
      registers: [registry],
    });
  return (req, res, next) => {
    const end = duration.startTimer();
    res.on('finish', () => {
      const route = (req.route as { path?: unknown } | undefined)?.path;
      end({ service, method: req.method, route: typeof route === 'string' ? req.baseUrl + route : 'unmatched', status: String(res.statusCode) });
    });
    next();
  };
}

export function counter(registry: Registry, name: string, help: string, labelNames: string[] = []): Counter<string> {
  const existing = registry.getSingleMetric(name);
  if (existing) return existing as Counter<string>;
  return new Counter({ name, help, labelNames, registers: [registry] });
}

export function gauge(registry: Registry, name: string, help: string, labelNames: string[] = []): Gauge<string> {
  const existing = registry.getSingleMetric(name);
  if (existing) return existing as Gauge<string>;
  return new Gauge({ name, help, labelNames, registers: [registry] });
}

export function histogram(registry: Registry, name: string, help: string, labelNames: string[] = [], buckets?: number[]): Histogram<string> {
  const existing = registry.getSingleMetric(name);
  if (existing) return existing as Histogram<string>;
  return new Histogram({ name, help, labelNames, registers: [registry], ...(buckets ? { buckets } : {}) });
}
