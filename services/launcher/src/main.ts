import { loadConfigOrExit } from '@yunying/config';
import { createLogger, describeError } from '@yunying/core';
import { startRoles } from './roles';

/**
 * The process entry point. ROLE=all runs every role in this one process (the embedded default of
 * `npm start`); ROLE=ingest|inference|viewer|keeper runs one, for scale-out.
 */
async function main(): Promise<void> {
  const config = loadConfigOrExit();
  const logger = createLogger({ level: config.logLevel, service: `yunying-${config.role}` });
  const { started, lifecycle } = await startRoles(config, logger);
  lifecycle.handleSignals(config.shutdownGraceSeconds * 1000);
  // One machine-readable line for scripts (infra/dev/start.sh, system tests) to wait on.
  process.stdout.write(`YUNYING_READY ${JSON.stringify(started)}\n`);
}

main().catch((error: unknown) => {
  process.stderr.write(`yunying failed to start: ${describeError(error)}\n`);
  process.exit(1);
});
