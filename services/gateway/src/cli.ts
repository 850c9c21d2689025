#!/usr/bin/env node
import fs from 'node:fs';
import { createLogger } from '@yunying/core';
import { GATEWAY_USAGE, STATUS_USAGE, UPLOAD_USAGE, UsageError, gatewayConfig, statusConfig, uploadConfig } from './config';
import { ExitCode } from './exit-codes';
import { startGateway } from './gateway/gateway';
import { runStatus } from './status.command';
import { jsonReporter, plainReporter, ttyReporter } from './upload/reporters';
import { runUpload } from './upload/upload.service';

/** The `yunying` program: `upload`, `gateway`, `status`. Exit codes: exit-codes.ts, docs/clinic-side.md. */

const USAGE = `usage: yunying <command> [options]

  upload <folder|file>...   send DICOM files to the archive (resumable)
  gateway                   DICOM C-STORE gateway with a durable spool, forwarding to the archive
  status --spool DIR        what the gateway's spool holds

Archive-side operations (rebuild-catalog) are in \`yunying-archive\`, which runs where the archive runs.

Run \`yunying <command> --help\` for a command's options.`;

function version(): string {
  try {
    return (JSON.parse(fs.readFileSync(`${__dirname}/../package.json`, 'utf8')) as { version?: string }).version ?? '0';
  } catch {
    return '0';
  }
}

async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  const userAgent = `yunying-cli/${version()} node/${process.versions.node}`;
  const help = rest.includes('--help') || rest.includes('-h');
  switch (command) {
    case 'upload': {
      if (help) return usage(UPLOAD_USAGE, ExitCode.Ok);
      const config = uploadConfig(rest, process.env);
      const reporter = config.json ? jsonReporter() : process.stderr.isTTY ? ttyReporter() : plainReporter();
      const interrupt = new AbortController();
      const onSignal = (): void => interrupt.abort();
      process.once('SIGINT', onSignal);
      process.once('SIGTERM', onSignal);
      try {
        const summary = await runUpload({
          inputs: config.inputs,
          ingestUrl: config.archive,
          viewerUrl: config.query,
          apiKey: config.apiKey,
          check: config.check,
          batchFiles: config.batchFiles,
          batchBytes: config.batchMb * 1024 * 1024,
          concurrency: config.concurrency,
          retry: { baseMs: 500, maxMs: 30_000, giveUpAfterMs: config.giveUpAfter * 1000 },
          timeoutMs: config.timeout * 1000,
          stateDir: config.stateDir,
          fresh: config.fresh,
          reporter,
          userAgent,
          signal: interrupt.signal,
        });
        return summary.exitCode;
      } finally {
        reporter.close();
      }
    }
    case 'gateway': {
      if (help) return usage(GATEWAY_USAGE, ExitCode.Ok);
      const config = gatewayConfig(rest, process.env);
      const logger = createLogger({ level: process.env.LOG_LEVEL ?? 'info', service: 'gateway' });
      const gateway = await startGateway(config, logger, userAgent);
      process.stdout.write(`YUNYING_GATEWAY_READY ${JSON.stringify({ dimsePort: gateway.dimsePort, httpPort: gateway.httpPort })}\n`);
      await new Promise<void>((resolve) => {
        process.once('SIGINT', () => resolve());
        process.once('SIGTERM', () => resolve());
      });
      await gateway.close();
      return ExitCode.Ok;
    }
    case 'status': {
      if (help) return usage(STATUS_USAGE, ExitCode.Ok);
      const config = statusConfig(rest, process.env);
      if (!fs.existsSync(config.spool)) throw new UsageError(`${config.spool}: no such spool folder`);
      return runStatus(config.spool, config.json);
    }
    case 'rebuild-catalog':
      // The clinic-side program has neither the archive's storage credentials nor its database: say where it is.
      return usage(USAGE, ExitCode.Usage, 'rebuild-catalog runs on the archive: `yunying-archive rebuild-catalog` (services/launcher; `npm run rebuild-catalog`)');
    case '--help':
    case '-h':
    case 'help':
      return usage(USAGE, ExitCode.Ok);
    case '--version':
      process.stdout.write(`${version()}\n`);
      return ExitCode.Ok;
    case undefined:
      return usage(USAGE, ExitCode.Usage);
    default:
      return usage(USAGE, ExitCode.Usage, `unknown command: ${command}`);
  }
}

function usage(text: string, code: number, problem?: string): number {
  const out = code === ExitCode.Ok ? process.stdout : process.stderr;
  if (problem !== undefined) out.write(`yunying: ${problem}\n`);
  out.write(`${text}\n`);
  return code;
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (error: unknown) => {
    if (error instanceof UsageError) {
      process.stderr.write(`yunying: ${error.message}\nRun \`yunying ${process.argv[2] ?? ''} --help\` for the options.\n`);
      process.exitCode = ExitCode.Usage;
      return;
    }
    // An input that does not exist is the caller's mistake, not the archive's.
    const message = error instanceof Error ? error.message : String(error);
    process.stderr.write(`yunying: ${message}\n`);
    process.exitCode = /no such file or folder/.test(message) ? ExitCode.Usage : ExitCode.Unreachable;
  },
);
