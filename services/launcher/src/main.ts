import { allocatorTuned, loadConfigOrExit, RECOMMENDED_GLIBC_TUNABLES } from '@yunying/config';
import { createLogger, describeError } from '@yunying/core';
import type { StartedService } from '@yunying/http';
import { tuneHeapForRole } from './heap';
import { startRoles } from './roles';

/** What a person at a terminal reads once everything listens (the READY line is for scripts). */
function upBanner(started: StartedService[]): string {
  const lines = started.map((s) => {
    const extra = s.extra ? '  ' + Object.entries(s.extra).map(([k, v]) => `${k}: ${v}`).join('  ') : '';
    return `  ${s.role.padEnd(10)} ${s.url}   (health: ${s.url}/readyz)${extra}`;
  });
  return `\nYunying is up:\n${lines.join('\n')}\n\n`;
}

/** Whether the C library is glibc (not musl, not another OS): the only one that reads GLIBC_TUNABLES. */
function runsOnGlibc(): boolean {
  const report = process.report.getReport() as { header?: { glibcVersionRuntime?: string } };
  return typeof report.header?.glibcVersionRuntime === 'string';
}

/**
 * The process entry point. ROLE=all runs every role in this one process (the embedded default of
 * `npm start`); ROLE=ingest|inference|viewer|keeper runs one, for scale-out.
 */
async function main(): Promise<void> {
  const config = loadConfigOrExit();
  const logger = createLogger({ level: config.logLevel, service: `yunying-${config.role}`, format: config.logFormat });
  const heapFlag = tuneHeapForRole(config.role);
  if (heapFlag !== null) logger.info({ v8Flag: heapFlag }, 'heap tuned for the ingest role');
  // The C library reads its allocator settings before this process runs any code: all it can do is say so.
  if (runsOnGlibc()) {
    if (allocatorTuned(process.env.GLIBC_TUNABLES)) logger.info('C library allocator tuned (GLIBC_TUNABLES)');
    else logger.warn({ recommended: RECOMMENDED_GLIBC_TUNABLES }, 'GLIBC_TUNABLES lacks the recommended allocator settings: each ingested instance costs more CPU (docs/operations.md)');
  }
  const { started, lifecycle } = await startRoles(config, logger);
  lifecycle.handleSignals(config.shutdownGraceSeconds * 1000);
  // One machine-readable line for scripts (system tests, process managers) to wait on; the banner too on a
  // terminal. Written straight to stdout: `npm start` puts no filter between the launcher and the terminal,
  // so nothing can block the launcher's output or its shutdown.
  process.stdout.write(`YUNYING_READY ${JSON.stringify(started)}\n`);
  if (process.stdout.isTTY) process.stdout.write(upBanner(started));
}

main().catch((error: unknown) => {
  process.stderr.write(`yunying failed to start: ${describeError(error)}\n`);
  process.exit(1);
});
