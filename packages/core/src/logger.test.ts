import { Writable } from 'node:stream';
import { createLogger, resolveLogFormat } from './logger';
import { runWithContext } from './context';

function capture(): { stream: Writable; lines: () => Record<string, unknown>[] } {
  const chunks: string[] = [];
  const stream = new Writable({
    write(chunk: Buffer, _enc, cb) {
      chunks.push(chunk.toString());
      cb();
    },
  });
  return {
    stream,
    lines: () =>
      chunks
        .join('')
        .split('\n')
        .filter((l) => l.trim())
        .map((l) => JSON.parse(l) as Record<string, unknown>),
  };
}

describe('logger', () => {
  it('redacts patient identifiers by keyword and by DICOM tag, at several depths', () => {
    const out = capture();
    const log = createLogger({ level: 'info', service: 'test', destination: out.stream });
    log.info(
      {
        PatientName: 'WANG^XIAOMING',
        study: { PatientID: 'P-12345', dataset: { '00100030': { vr: 'DA', Value: ['19800101'] } } },
        err: { details: { patientName: 'Zhang' } },
        req: { headers: { authorization: 'Bearer secret' } },
      },
      'stored',
    );
    const text = JSON.stringify(out.lines());
    expect(text).not.toContain('WANG');
    expect(text).not.toContain('P-12345');
    expect(text).not.toContain('19800101');
    expect(text).not.toContain('Zhang');
    expect(text).not.toContain('Bearer secret');
    expect(text).toContain('[redacted]');
  });

  it('adds the request id of the current context to every line', () => {
    const out = capture();
    const log = createLogger({ level: 'info', service: 'test', destination: out.stream });
    runWithContext({ requestId: 'req-42' }, () => {
      log.info('one');
      log.child({ part: 'x' }).warn('two');
    });
    log.info('outside');
    const lines = out.lines();
    expect(lines[0]?.requestId).toBe('req-42');
    expect(lines[1]?.requestId).toBe('req-42');
    expect(lines[2]?.requestId).toBeUndefined();
  });
});

describe('log format', () => {
  it('is human-readable on a terminal and JSON otherwise, unless asked', () => {
    expect(resolveLogFormat('auto', true)).toBe('pretty');
    expect(resolveLogFormat('auto', false)).toBe('json');
    expect(resolveLogFormat('json', true)).toBe('json');
    expect(resolveLogFormat('pretty', false)).toBe('pretty');
  });

  it('pretty lines are still redacted: pino redacts before pino-pretty renders', () => {
    const chunks: string[] = [];
    const stream = new Writable({
      write(chunk: Buffer, _enc, cb) {
        chunks.push(chunk.toString());
        cb();
      },
    });
    const log = createLogger({ level: 'info', service: 'test', destination: stream, format: 'pretty' });
    log.info({ PatientName: 'WANG^XIAOMING', dataset: { '00100020': 'P-123' }, studyInstanceUid: '1.2.3' }, 'stored');
    const text = chunks.join('');
    expect(text).toMatch(/INFO: stored/);
    expect(text).toContain('1.2.3');
    expect(text).not.toContain('WANG');
    expect(text).not.toContain('P-123');
    expect(text.startsWith('{')).toBe(false);
  });
});
