import path from 'node:path';
import { parseArgs, type ParseArgsConfig } from 'node:util';
import { z } from 'zod';
import { defaultStateDir } from './upload/journal';

/**
 * Flags and environment of each command, validated once here (zod); a wrong flag is a UsageError (exit 2).
 * Flags win over the environment. The API key is best given by YUNYING_API_KEY: a flag shows in `ps`.
 */

export class UsageError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'UsageError';
  }
}

const httpUrl = z
  .string()
  .url()
  .refine((u) => /^https?:\/\//i.test(u), 'must be an http(s) URL')
  .transform((u) => u.replace(/\/+$/, ''));
const apiKey = z.string().regex(/^yy_[A-Za-z0-9_-]{8,}$/, 'must be a device API key (yy_...)');
const positiveInt = (max: number) => z.coerce.number().int().positive().max(max);

type Env = Record<string, string | undefined>;

function firstIssue(error: z.ZodError): string {
  const issue = error.issues[0];
  if (issue === undefined) return 'invalid settings';
  return `--${String(issue.path.join('.')).replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)}: ${issue.message}`;
}

function parse<T>(schema: z.ZodType<T>, input: unknown): T {
  const result = schema.safeParse(input);
  if (!result.success) throw new UsageError(firstIssue(result.error));
  return result.data;
}

function args(argv: string[], options: NonNullable<ParseArgsConfig['options']>, positionals: boolean): { values: Record<string, string | boolean | Array<string | boolean> | undefined>; positionals: string[] } {
  try {
    return parseArgs({ args: argv, options, allowPositionals: positionals, strict: true });
  } catch (error) {
    throw new UsageError(error instanceof Error ? error.message : String(error));
  }
}

function str(value: unknown): string | undefined {
  return typeof value === 'string' ? value : undefined;
}

// --- upload -------------------------------------------------------------------------------------------

const UploadSchema = z.object({
  inputs: z.array(z.string().min(1)).min(1, 'give at least one folder or file'),
  archive: httpUrl,
  query: httpUrl.nullable(),
  apiKey,
  check: z.enum(['qido', 'none']),
  batchFiles: positiveInt(10_000),
  batchMb: positiveInt(4096),
  concurrency: positiveInt(32),
  giveUpAfter: z.coerce.number().positive().max(7 * 24 * 3600),
  timeout: z.coerce.number().positive().max(3600),
  stateDir: z.string().min(1),
  fresh: z.boolean(),
  json: z.boolean(),
});
export type UploadConfig = z.infer<typeof UploadSchema>;

export const UPLOAD_USAGE = `usage: yunying upload [options] <folder|file>...

Sends DICOM files to the archive over STOW-RS; run it again to continue after an interruption.
  --archive URL        ingest service (env YUNYING_INGEST_URL), e.g. https://archive.example:8041
  --query URL          viewer service for QIDO (env YUNYING_VIEWER_URL); without it the archive answers ALREADY_STORED
  --api-key KEY        device API key (env YUNYING_API_KEY, preferred)
  --check qido|none    ask the archive what it has before sending (default qido when --query is set)
  --batch-files N      instances per STOW request (default 20)
  --batch-mb N         about this many MB per STOW request (default 64)
  --concurrency N      STOW requests in flight (default 4)
  --give-up-after S    stop retrying after S seconds of failures (default 300), exit 3
  --timeout S          per-request timeout in seconds (default 120)
  --state-dir DIR      where the resume journal lives (env YUNYING_STATE_DIR, default ~/.local/state/yunying)
  --fresh              ignore what earlier runs recorded
  --json               one JSON object per line on stdout
exit codes: 0 all in the archive, 1 some refused, 2 usage, 3 archive unreachable (run again), 4 API key refused`;

export function uploadConfig(argv: string[], env: Env): UploadConfig {
  const { values, positionals } = args(
    argv,
    {
      archive: { type: 'string' },
      query: { type: 'string' },
      'api-key': { type: 'string' },
      check: { type: 'string' },
      'batch-files': { type: 'string' },
      'batch-mb': { type: 'string' },
      concurrency: { type: 'string' },
      'give-up-after': { type: 'string' },
      timeout: { type: 'string' },
      'state-dir': { type: 'string' },
      fresh: { type: 'boolean' },
      json: { type: 'boolean' },
    },
    true,
  );
  const query = str(values.query) ?? env.YUNYING_VIEWER_URL ?? null;
  return parse(UploadSchema, {
    inputs: positionals,
    archive: str(values.archive) ?? env.YUNYING_INGEST_URL ?? '',
    query: query === '' ? null : query,
    apiKey: str(values['api-key']) ?? env.YUNYING_API_KEY ?? '',
    check: str(values.check) ?? (query ? 'qido' : 'none'),
    batchFiles: str(values['batch-files']) ?? '20',
    batchMb: str(values['batch-mb']) ?? '64',
    concurrency: str(values.concurrency) ?? '4',
    giveUpAfter: str(values['give-up-after']) ?? '300',
    timeout: str(values.timeout) ?? '120',
    stateDir: path.resolve(str(values['state-dir']) ?? env.YUNYING_STATE_DIR ?? defaultStateDir()),
    fresh: values.fresh === true,
    json: values.json === true,
  });
}

// --- gateway ------------------------------------------------------------------------------------------

const aeTitle = z.string().regex(/^[\x20-\x5b\x5d-\x7e]{1,16}$/, 'an AE title is 1-16 printable characters without backslash').transform((s) => s.trim());

/** PS3.7 D.3.3.3 carries the window in 16 bits; 0 there means unlimited, which the gateway never grants. */
const MAX_OPERATIONS_LIMIT = 0xffff;

const GatewaySchema = z.object({
  spool: z.string().min(1),
  archive: httpUrl,
  apiKey,
  dimseHost: z.string().min(1),
  dimsePort: z.coerce.number().int().min(0).max(65535),
  aeTitle,
  allowedAe: z.array(aeTitle),
  httpHost: z.string().min(1),
  httpPort: z.coerce.number().int().min(0).max(65535),
  spoolLimitMb: z.coerce.number().positive(),
  batchFiles: positiveInt(10_000),
  batchMb: positiveInt(4096),
  concurrency: positiveInt(16),
  maxBackoff: z.coerce.number().positive().max(3600),
  timeout: z.coerce.number().positive().max(3600),
  sentLogKeep: positiveInt(10_000_000),
  maxOperations: positiveInt(MAX_OPERATIONS_LIMIT),
});
export type GatewayConfig = z.infer<typeof GatewaySchema>;

export const GATEWAY_USAGE = `usage: yunying gateway [options]

A DICOM C-ECHO/C-STORE SCP for the clinic's machines that spools each instance durably before answering
success, then forwards it to the archive over STOW-RS until the archive confirms it.
  --spool DIR          spool folder (env YUNYING_SPOOL), required
  --archive URL        ingest service (env YUNYING_INGEST_URL)
  --api-key KEY        device API key (env YUNYING_API_KEY, preferred)
  --dimse-port N       DICOM port (env YUNYING_DIMSE_PORT, default 11112)
  --dimse-host H       listen address (default 0.0.0.0)
  --ae-title AE        this gateway's AE title (default YUNYING_GW; the called AE is not checked)
  --allowed-ae A,B     calling AE titles accepted (env YUNYING_ALLOWED_AE; default any)
  --http-port N        status page and metrics port (env YUNYING_HTTP_PORT, default 8090)
  --max-operations N   C-STOREs a modality that proposes an asynchronous operations window may have
                       outstanding on one association (env YUNYING_DIMSE_MAX_OPERATIONS, default 16;
                       1 = synchronous); each holds its instance in memory until it is spooled
  --http-host H        status listen address (default 127.0.0.1)
  --spool-limit-mb N   refuse C-STOREs (0xA700) past this many MB spooled (default 10240)
  --batch-files N      instances per STOW request (default 20)
  --batch-mb N         about this many MB per STOW request (default 64)
  --concurrency N      STOW requests in flight (default 2)
  --max-backoff S      longest wait between retries, seconds (default 300)
  --timeout S          per-request timeout, seconds (default 120)`;

export function gatewayConfig(argv: string[], env: Env): GatewayConfig {
  const { values } = args(
    argv,
    {
      spool: { type: 'string' },
      archive: { type: 'string' },
      'api-key': { type: 'string' },
      'dimse-host': { type: 'string' },
      'dimse-port': { type: 'string' },
      'ae-title': { type: 'string' },
      'allowed-ae': { type: 'string' },
      'http-host': { type: 'string' },
      'http-port': { type: 'string' },
      'spool-limit-mb': { type: 'string' },
      'batch-files': { type: 'string' },
      'batch-mb': { type: 'string' },
      concurrency: { type: 'string' },
      'max-backoff': { type: 'string' },
      timeout: { type: 'string' },
      'max-operations': { type: 'string' },
    },
    false,
  );
  const allowed = str(values['allowed-ae']) ?? env.YUNYING_ALLOWED_AE ?? '';
  return parse(GatewaySchema, {
    spool: path.resolve(str(values.spool) ?? env.YUNYING_SPOOL ?? ''),
    archive: str(values.archive) ?? env.YUNYING_INGEST_URL ?? '',
    apiKey: str(values['api-key']) ?? env.YUNYING_API_KEY ?? '',
    dimseHost: str(values['dimse-host']) ?? '0.0.0.0',
    dimsePort: str(values['dimse-port']) ?? env.YUNYING_DIMSE_PORT ?? '11112',
    aeTitle: str(values['ae-title']) ?? 'YUNYING_GW',
    allowedAe: allowed.split(',').map((a) => a.trim()).filter((a) => a !== ''),
    httpHost: str(values['http-host']) ?? '127.0.0.1',
    httpPort: str(values['http-port']) ?? env.YUNYING_HTTP_PORT ?? '8090',
    spoolLimitMb: str(values['spool-limit-mb']) ?? '10240',
    batchFiles: str(values['batch-files']) ?? '20',
    batchMb: str(values['batch-mb']) ?? '64',
    concurrency: str(values.concurrency) ?? '2',
    maxBackoff: str(values['max-backoff']) ?? '300',
    timeout: str(values.timeout) ?? '120',
    sentLogKeep: '100000',
    maxOperations: str(values['max-operations']) ?? env.YUNYING_DIMSE_MAX_OPERATIONS ?? '16',
  });
}

// --- status -------------------------------------------------------------------------------------------

export const STATUS_USAGE = `usage: yunying status --spool DIR [--json]

What a gateway's spool holds: queued, sent, failed (with reasons). Works whether or not the gateway runs.
exit codes: 0 nothing failed and no alarm, 1 some instances failed or the spool is over its limit, 2 usage`;

const StatusSchema = z.object({ spool: z.string().min(1), json: z.boolean() });
export type StatusConfig = z.infer<typeof StatusSchema>;

export function statusConfig(argv: string[], env: Env): StatusConfig {
  const { values } = args(argv, { spool: { type: 'string' }, json: { type: 'boolean' } }, false);
  const spool = str(values.spool) ?? env.YUNYING_SPOOL ?? '';
  return parse(StatusSchema, { spool: spool === '' ? '' : path.resolve(spool), json: values.json === true });
}
