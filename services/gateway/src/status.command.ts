import { formatBytes } from './upload/reporters';
import { readSpoolStatus, type SpoolStatus } from './gateway/spool';
import { ExitCode } from './exit-codes';

/** `yunying status --spool DIR`: what the spool holds, whether or not the gateway runs. */
export function statusLines(status: SpoolStatus): string[] {
  const lines = [
    `spool ${status.spool}`,
    `queued: ${status.queued.count} instances (${formatBytes(status.queued.bytes)})${status.queued.oldestReceivedAt ? `, oldest received ${status.queued.oldestReceivedAt}` : ''}`,
    `sent:   ${status.sent.count} instances${status.sent.last ? `, last at ${status.sent.last.at}` : ''}`,
    `failed: ${status.failed.count} instances (${formatBytes(status.failed.bytes)})`,
  ];
  for (const f of status.failed.items) lines.push(`  ${f.sha256.slice(0, 12)} ${f.sopInstanceUid ?? ''} ${f.reason}: ${f.message}`);
  if (status.limitBytes !== null) lines.push(`limit:  ${formatBytes(status.limitBytes)}`);
  const archive = status.gateway?.archive;
  if (archive) {
    lines.push(`archive: ${archive.reachable === null ? 'not contacted yet' : archive.reachable ? 'reachable' : 'NOT reachable'}` + (archive.lastError ? `; last error ${archive.lastErrorAt ?? ''}: ${archive.lastError}` : ''));
    if (archive.nextAttemptAt) lines.push(`next attempt: ${archive.nextAttemptAt}`);
  }
  lines.push(status.alarms.length > 0 ? `ALARMS: ${status.alarms.join(', ')}` : 'alarms: none');
  return lines;
}

export async function runStatus(spool: string, json: boolean, out: NodeJS.WritableStream = process.stdout): Promise<number> {
  const status = await readSpoolStatus(spool);
  out.write(json ? `${JSON.stringify(status)}\n` : `${statusLines(status).join('\n')}\n`);
  return status.failed.count > 0 || status.alarms.length > 0 ? ExitCode.Rejected : ExitCode.Ok;
}
