import pino, { type Logger, type LoggerOptions } from 'pino';
import pretty from 'pino-pretty';
import { currentRequestId } from './context';

export type { Logger } from 'pino';

/**
 * Attribute names that identify a patient. They are redacted wherever they appear in a logged object
 * (up to four levels deep, which covers `req.body.x`, `err.details.x` and DICOM JSON under `dataset`),
 * both as keyword and as DICOM tag (PS3.6): 00100010 PatientName, 00100020 PatientID,
 * 00100030 PatientBirthDate, 00101000 OtherPatientIDs, 00101001 OtherPatientNames,
 * 00101040 PatientAddress, 00102154 PatientTelephoneNumbers, 00100021 IssuerOfPatientID.
 */
export const PHI_KEYS = [
  'PatientName',
  'PatientID',
  'PatientBirthDate',
  'OtherPatientIDs',
  'OtherPatientNames',
  'PatientAddress',
  'PatientTelephoneNumbers',
  'IssuerOfPatientID',
  'patientName',
  'patientId',
  'patientID',
  'patientBirthDate',
  'birthDate',
  '00100010',
  '00100020',
  '00100021',
  '00100030',
  '00101000',
  '00101001',
  '00101040',
  '00102154',
] as const;

/** Secrets that must never be logged either. */
const SECRET_PATHS = [
  'req.headers.authorization',
  'req.headers.cookie',
  'res.headers["set-cookie"]',
  'password',
  '*.password',
  'apiKey',
  '*.apiKey',
  'token',
  '*.token',
  'refreshToken',
  '*.refreshToken',
];

export function redactionPaths(): string[] {
  const paths: string[] = [...SECRET_PATHS];
  const prefixes = ['', '*.', '*.*.', '*.*.*.'];
  for (const key of PHI_KEYS) {
    for (const prefix of prefixes) paths.push(`${prefix}${/^\d/.test(key) ? `["${key}"]` : key}`);
  }
  // pino's path syntax wants bracket notation after a dot-less prefix too: '*.["00100010"]' is invalid.
  return paths.map((p) => p.replace(/\.\[/g, '['));
}

/** `auto`: human-readable lines on a terminal, JSON lines otherwise (files, pipes, log collectors). */
export type LogFormat = 'auto' | 'json' | 'pretty';

export function resolveLogFormat(format: LogFormat, isTerminal: boolean): 'json' | 'pretty' {
  if (format === 'auto') return isTerminal ? 'pretty' : 'json';
  return format;
}

export interface LoggerSettings {
  level: string;
  service: string;
  /** Where lines go; defaults to stdout. Tests pass a stream to assert on what would be logged. */
  destination?: pino.DestinationStream;
  /** Defaults to `auto` (decided by whether stdout is a terminal). */
  format?: LogFormat;
}

export function createLogger(settings: LoggerSettings): Logger {
  const options: LoggerOptions = {
    level: settings.level,
    base: { service: settings.service },
    redact: { paths: redactionPaths(), censor: '[redacted]' },
    // The request id of the current async context is added to every line.
    mixin() {
      const requestId = currentRequestId();
      return requestId === undefined ? {} : { requestId };
    },
    timestamp: pino.stdTimeFunctions.isoTime,
  };
  const format = resolveLogFormat(settings.format ?? 'auto', settings.destination === undefined && process.stdout.isTTY === true);
  if (format === 'pretty') {
    // pino redacts and serialises first; pino-pretty only re-renders the finished (already redacted) line.
    // Synchronous writes, so the last lines before an exit on a signal are not lost.
    const prettyStream = pretty({
      destination: settings.destination ?? 1,
      sync: true,
      colorize: settings.destination === undefined && process.stdout.isTTY === true,
      translateTime: 'SYS:HH:MM:ss.l',
      ignore: 'pid,hostname',
      singleLine: true,
    });
    return pino(options, prettyStream);
  }
  return settings.destination ? pino(options, settings.destination) : pino(options);
}
