#!/usr/bin/env node
import { loadConfigOrExit } from '@yunying/config';
import { describeError } from '@yunying/core';
import { REBUILD_USAGE, RebuildExit, RebuildUsageError, runRebuildCatalog } from './rebuild-catalog.command';

/**
 * `yunying-archive`: operator commands that run where the archive runs, with its configuration and
 * credentials (the clinic-side `yunying` program has neither). Today: `rebuild-catalog` (#18).
 */
const USAGE = `usage: yunying-archive <command> [options]

  rebuild-catalog   rebuild the catalog from the three copies (disaster recovery; see docs/operations.md)

Run \`yunying-archive <command> --help\` for a command's options.`;

async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  if (command === 'rebuild-catalog') {
    if (rest.includes('--help') || rest.includes('-h')) return print(REBUILD_USAGE, RebuildExit.Clean);
    return runRebuildCatalog(rest, loadConfigOrExit());
  }
  if (command === '--help' || command === '-h' || command === 'help') return print(USAGE, RebuildExit.Clean);
  return print(`${command === undefined ? '' : `yunying-archive: unknown command: ${command}\n`}${USAGE}`, RebuildExit.Usage);
}

function print(text: string, code: number): number {
  (code === 0 ? process.stdout : process.stderr).write(`${text}\n`);
  return code;
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (error: unknown) => {
    if (error instanceof RebuildUsageError) {
      process.stderr.write(`yunying-archive: ${error.message}\n${REBUILD_USAGE}\n`);
      process.exitCode = RebuildExit.Usage;
      return;
    }
    // describeError: the message and code, never a row's content.
    process.stderr.write(`yunying-archive: ${describeError(error)}\n`);
    process.exitCode = RebuildExit.Failure;
  },
);
