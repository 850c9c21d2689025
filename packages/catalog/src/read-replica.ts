import type pg from 'pg';
import { createPool, type DatabaseSettings, type Pool, type QueryResultRow } from './database';
import { standbyLag } from './server.repository';

/**
 * What a read-only query needs of the catalog: a plain pg Pool satisfies it, and so does ReplicaReads.
 * Code that takes a CatalogReader promises to only read, so it may be served by a streaming replica.
 */
export interface CatalogReader {
  query<R extends QueryResultRow = QueryResultRow>(text: string, values?: unknown[]): Promise<pg.QueryResult<R>>;
}

export type ReadServer = 'replica' | 'primary';

export interface ReplicaReadsOptions {
  /** The replica is set aside while its replay is further behind the primary than this. */
  maxLagSeconds: number;
  /** How often the replica is checked (reachable, in recovery, lag); it is taken back on the first good check. */
  probeIntervalMs?: number;
  /** Called for every query with where it was answered (metrics). */
  onServed?: (server: ReadServer) => void;
  /** Called when the replica is set aside or taken back, with why (logs; never query text or values). */
  onStateChange?: (state: ReadServer, reason: string) => void;
}

/**
 * Errors that say the replica cannot answer now, not that the query is wrong: no connection (no SQLSTATE:
 * refused, reset, timeout), connection exceptions (08xxx), shutdown or start-up (57P01-57P03), too many
 * connections (53300), and a standby cancelling a query that conflicts with replay (40001). Anything else
 * (a syntax error, a constraint) is the query's own and would fail on the primary too: it is rethrown.
 */
export function isReplicaUnavailable(error: unknown): boolean {
  const code = typeof error === 'object' && error !== null && 'code' in error ? error.code : undefined;
  if (typeof code !== 'string' || !/^[0-9A-Z]{5}$/.test(code)) return true;
  return code.startsWith('08') || ['57P01', '57P02', '57P03', '53300', '40001'].includes(code);
}

/**
 * Read-only catalog queries on a streaming replica (CATALOG_READ_URL), where a few seconds of staleness
 * is harmless (QIDO/WADO lookups), with the primary answering whenever the replica cannot: unreachable,
 * restarting, or lagging more than maxLagSeconds. A failed replica query is retried once on the primary,
 * so a client never sees the replica go away; the replica is then left alone until a probe finds it
 * healthy again. Never for the write path, claims or jobs: those keep the primary pool.
 */
export class ReplicaReads implements CatalogReader {
  private state: ReadServer = 'primary';
  private readonly timer: NodeJS.Timeout;
  private probing: Promise<void> | null = null;
  private closed = false;

  constructor(
    private readonly primary: Pool,
    private readonly replica: Pool,
    private readonly options: ReplicaReadsOptions,
  ) {
    this.timer = setInterval(() => void this.probe(), options.probeIntervalMs ?? 2000);
    this.timer.unref();
  }

  /** A replica pool for `settings` (short connect timeout: a dead replica must not hold a reader up) over `primary`. */
  static open(primary: Pool, settings: DatabaseSettings, options: ReplicaReadsOptions): ReplicaReads {
    const replica = createPool({ ...settings, connectionTimeoutMillis: 1500 });
    return new ReplicaReads(primary, replica, options);
  }

  /** Where reads go now. */
  get serving(): ReadServer {
    return this.state;
  }

  async query<R extends QueryResultRow = QueryResultRow>(text: string, values?: unknown[]): Promise<pg.QueryResult<R>> {
    if (this.state === 'replica') {
      try {
        const result = await this.replica.query<R>(text, values);
        this.options.onServed?.('replica');
        return result;
      } catch (error) {
        if (!isReplicaUnavailable(error)) throw error;
        this.setState('primary', `replica query failed (${describe(error)})`);
      }
    }
    const result = await this.primary.query<R>(text, values);
    this.options.onServed?.('primary');
    return result;
  }

  /** Checks the replica once and moves reads to it or away from it; concurrent calls share one check. */
  probe(): Promise<void> {
    this.probing ??= this.check().finally(() => {
      this.probing = null;
    });
    return this.probing;
  }

  private async check(): Promise<void> {
    if (this.closed) return;
    try {
      const probe = await standbyLag(this.replica);
      const lag = probe?.lag ?? Number.POSITIVE_INFINITY;
      if (lag > this.options.maxLagSeconds) this.setState('primary', `replica lags ${lag.toFixed(1)} s (over ${this.options.maxLagSeconds} s)`);
      else this.setState('replica', probe?.standby === true ? 'replica healthy' : 'read URL is not a standby (no lag)');
    } catch (error) {
      this.setState('primary', `replica unreachable (${describe(error)})`);
    }
  }

  private setState(state: ReadServer, reason: string): void {
    if (this.state === state || this.closed) return;
    this.state = state;
    this.options.onStateChange?.(state, reason);
  }

  async close(): Promise<void> {
    this.closed = true;
    clearInterval(this.timer);
    await this.probing;
    await this.replica.end();
  }
}

/** An error's code or class name, never its message (a message may quote query values). */
function describe(error: unknown): string {
  if (typeof error === 'object' && error !== null && 'code' in error && typeof error.code === 'string') return error.code;
  return error instanceof Error ? error.constructor.name : 'error';
}
