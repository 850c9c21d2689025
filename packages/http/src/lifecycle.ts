import type { Logger } from '@yunying/core';

/** Something to stop on shutdown, in reverse order of registration (servers first, pools last). */
export interface Closeable {
  name: string;
  close: () => Promise<void>;
}

/**
 * Collects what a process started and stops it all once on SIGTERM/SIGINT: HTTP servers drain, job
 * workers finish their current job, then queues, Redis and Postgres close. A second signal, or the grace
 * period running out, exits at once.
 */
export class Lifecycle {
  private readonly closeables: Closeable[] = [];
  private stopping: Promise<void> | undefined;

  constructor(private readonly logger: Logger) {}

  add(closeable: Closeable): void {
    this.closeables.push(closeable);
  }

  stop(): Promise<void> {
    this.stopping ??= (async () => {
      for (const item of [...this.closeables].reverse()) {
        try {
          await item.close();
          this.logger.info({ component: item.name }, 'closed');
        } catch (error) {
          this.logger.error({ component: item.name, err: error }, 'close failed');
        }
      }
    })();
    return this.stopping;
  }

  handleSignals(graceMs: number): void {
    let signalled = false;
    const onSignal = (signal: NodeJS.Signals): void => {
      if (signalled) {
        this.logger.warn({ signal }, 'second signal: exiting now');
        process.exit(1);
      }
      signalled = true;
      this.logger.info({ signal }, 'shutting down');
      const timer = setTimeout(() => {
        this.logger.error('shutdown grace period exceeded: exiting');
        process.exit(1);
      }, graceMs + 5000);
      timer.unref();
      this.stop()
        .then(() => process.exit(0))
        .catch(() => process.exit(1));
    };
    process.on('SIGTERM', onSignal);
    process.on('SIGINT', onSignal);
  }
}
