import type { Reporter, Summary, UploadEvent } from './upload.events';

/**
 * Three ways to show an upload: --json (one JSON object per line on stdout, for scripts), a terminal
 * (one updating status line on stderr, then the summary), and anything else (plain lines, no control
 * characters, for logs and cron mail).
 */

export function jsonReporter(out: NodeJS.WritableStream = process.stdout): Reporter {
  return {
    emit: (event) => {
      out.write(`${JSON.stringify(event)}\n`);
    },
    close: () => undefined,
  };
}

export function formatBytes(bytes: number): string {
  const units = ['B', 'KB', 'MB', 'GB', 'TB'];
  let value = bytes;
  let unit = 0;
  while (value >= 1000 && unit < units.length - 1) {
    value /= 1000;
    unit += 1;
  }
  return `${value.toFixed(unit === 0 ? 0 : 1)} ${units[unit] ?? 'B'}`;
}

export function formatDuration(seconds: number | null): string {
  if (seconds === null || !Number.isFinite(seconds)) return '--:--';
  const s = Math.max(0, Math.round(seconds));
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const rest = String(s % 60).padStart(2, '0');
  return h > 0 ? `${h}:${String(m).padStart(2, '0')}:${rest}` : `${m}:${rest}`;
}

export function summaryLines(summary: Summary): string[] {
  const lines = [
    `sent: ${summary.sent}, already in the archive: ${summary.alreadyThere}, rejected: ${summary.rejected.length}, skipped (not DICOM): ${summary.skipped.length}` +
      (summary.notSent > 0 ? `, NOT SENT: ${summary.notSent}` : ''),
    `${summary.requests} requests, ${summary.partsSent} instances and ${formatBytes(summary.bytesSent)} on the wire in ${summary.seconds} s`,
  ];
  for (const r of summary.rejected) lines.push(`rejected ${r.path}: ${r.reason} — ${r.message}${r.source === 'local' ? ' (checked before sending)' : ''}`);
  for (const s of summary.skipped) lines.push(`skipped ${s.path}: ${s.note}`);
  if (summary.error !== undefined) lines.push(`stopped: ${summary.error}`);
  switch (summary.exitCode) {
    case 0:
      lines.push('done: everything is in the archive');
      break;
    case 1:
      lines.push('done, but the archive refused some files (exit 1)');
      break;
    case 3:
      lines.push('incomplete: the archive could not be reached; run the same command again to continue (exit 3)');
      break;
    case 4:
      lines.push('the archive refused the API key (exit 4)');
      break;
    default:
      break;
  }
  return lines;
}

function lineFor(event: UploadEvent): string | null {
  switch (event.event) {
    case 'scanned':
      return `found ${event.files} files (${formatBytes(event.bytes)}), ${event.dicom} DICOM`;
    case 'skipped':
      return `skipped ${event.path}: ${event.note}`;
    case 'rejected':
      return `rejected ${event.path}: ${event.reason} — ${event.message}`;
    case 'plan':
      return `to send: ${event.toSend} files (${formatBytes(event.bytes)}); already in the archive: ${event.alreadyThere}`;
    case 'notice':
      return `note: ${event.message}`;
    case 'batch':
      return `confirmed ${event.doneFiles}/${event.totalFiles} files (${formatBytes(event.doneBytes)}/${formatBytes(event.totalBytes)})`;
    case 'retry':
      return `retry ${event.attempt} in ${(event.delayMs / 1000).toFixed(1)} s: ${event.error}`;
    case 'progress':
    case 'summary':
      return null;
  }
}

export function plainReporter(out: NodeJS.WritableStream = process.stdout): Reporter {
  return {
    emit: (event) => {
      if (event.event === 'summary') {
        for (const line of summaryLines(event)) out.write(`${line}\n`);
        return;
      }
      const line = lineFor(event);
      if (line !== null) out.write(`${line}\n`);
    },
    close: () => undefined,
  };
}

/** One status line on the terminal, rewritten in place: files, bytes, rate, time left. */
export function ttyReporter(status: NodeJS.WriteStream = process.stderr, out: NodeJS.WritableStream = process.stdout): Reporter {
  let bar = '';
  const clear = (): void => {
    if (bar !== '') status.write('\r\x1b[2K');
  };
  const draw = (): void => {
    status.write(`\r\x1b[2K${bar}`);
  };
  return {
    emit: (event) => {
      if (event.event === 'progress') {
        const width = 24;
        const fraction = event.totalBytes > 0 ? Math.min(1, event.doneBytes / event.totalBytes) : 1;
        const filled = Math.round(fraction * width);
        bar =
          `[${'#'.repeat(filled)}${'.'.repeat(width - filled)}] ${event.doneFiles}/${event.totalFiles} files ` +
          `${formatBytes(event.doneBytes)}/${formatBytes(event.totalBytes)} ${formatBytes(event.bytesPerSecond)}/s ETA ${formatDuration(event.etaSeconds)}`;
        draw();
        return;
      }
      if (event.event === 'batch') return;
      clear();
      if (event.event === 'summary') {
        bar = '';
        for (const line of summaryLines(event)) out.write(`${line}\n`);
        return;
      }
      const line = lineFor(event);
      if (line !== null) status.write(`${line}\n`);
      if (bar !== '') draw();
    },
    close: () => {
      clear();
    },
  };
}
