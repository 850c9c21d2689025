import { createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { parseInstance } from '@yunying/dicom';
import type { Args } from '../lib/args';
import type { Corpus } from '../lib/corpus';
import type { Table } from '../lib/report';

/**
 * The physical limit beside the figures: what this machine can do at best for "three durable copies".
 *
 * - Write: sequential files of the corpus's mean instance size, each written, fsync'd, and its directory
 *   fsync'd (what the fs replica target does per copy), one after another into `dir`; MB/s. Three copies
 *   on one disk share it, so the ingest bound is that figure / 3.
 * - CPU: SHA-256 (node:crypto) and parseInstance (@yunying/dicom) over the corpus bytes, on one core; the
 *   bound is one instance per (hash time + parse time).
 * The lower of the two, in instances/s and MB/s of DICOM, is the physical limit.
 */
export interface PhysicalResult {
  writeMBps: number;
  writeFiles: number;
  writeFileBytes: number;
  writeLimitMBps: number;
  /** One 4 KiB file write + fsync + directory fsync, ms (the per-operation floor of durable writes). */
  smallDurableWriteMs: number;
  sha256MBps: number;
  parseMBps: number;
  cpuLimitInstancesPerSecond: number;
  cpuLimitMBps: number;
  meanInstanceBytes: number;
  limitInstancesPerSecond: number;
  limitMBps: number;
  boundBy: 'disk (fsync write / 3)' | 'CPU (SHA-256 + parse)';
}

export function measureWrite(dir: string, totalBytes: number, fileBytes: number): { MBps: number; files: number } {
  const target = path.join(dir, `write-probe-${process.pid}`);
  fs.mkdirSync(target, { recursive: true });
  const block = Buffer.alloc(fileBytes);
  for (let i = 0; i < block.length; i += 4096) block.writeUInt32LE((i * 2654435761) >>> 0, i);
  const files = Math.max(8, Math.ceil(totalBytes / fileBytes));
  const started = process.hrtime.bigint();
  const dirFd = fs.openSync(target, 'r');
  for (let i = 0; i < files; i += 1) {
    const fd = fs.openSync(path.join(target, `f${i}`), 'wx');
    fs.writeSync(fd, block);
    fs.fsyncSync(fd);
    fs.closeSync(fd);
    fs.fsyncSync(dirFd);
  }
  fs.closeSync(dirFd);
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  fs.rmSync(target, { recursive: true, force: true });
  return { MBps: (files * fileBytes) / 1e6 / seconds, files };
}

/** Latency of one small durable write: a 4 KiB file written and fsync'd, then its directory fsync'd. */
export function measureFsyncLatency(dir: string, count: number): number {
  const target = path.join(dir, `fsync-probe-${process.pid}`);
  fs.mkdirSync(target, { recursive: true });
  const block = Buffer.alloc(4096, 7);
  const dirFd = fs.openSync(target, 'r');
  const started = process.hrtime.bigint();
  for (let i = 0; i < count; i += 1) {
    const fd = fs.openSync(path.join(target, `f${i}`), 'wx');
    fs.writeSync(fd, block);
    fs.fsyncSync(fd);
    fs.closeSync(fd);
    fs.fsyncSync(dirFd);
  }
  const ms = Number(process.hrtime.bigint() - started) / 1e6 / count;
  fs.closeSync(dirFd);
  fs.rmSync(target, { recursive: true, force: true });
  return ms;
}

export function measureCpu(corpus: Corpus, maxBytes: number): { sha256MBps: number; parseMBps: number; instancesPerSecond: number; bytes: number } {
  const buffers: Buffer[] = [];
  let bytes = 0;
  for (const study of corpus.studies) {
    for (const instance of study.instances) {
      if (bytes >= maxBytes) break;
      buffers.push(fs.readFileSync(path.join(corpus.dir, instance.file)));
      bytes += instance.bytes;
    }
  }
  const time = (work: (b: Buffer) => void): number => {
    const started = process.hrtime.bigint();
    for (const b of buffers) work(b);
    return Number(process.hrtime.bigint() - started) / 1e9;
  };
  time((b) => createHash('sha256').update(b.subarray(0, 65536)).digest()); // warm-up
  const sha = time((b) => createHash('sha256').update(b).digest());
  const parse = time((b) => {
    parseInstance(b);
  });
  return { sha256MBps: bytes / 1e6 / sha, parseMBps: bytes / 1e6 / parse, instancesPerSecond: buffers.length / (sha + parse), bytes };
}

export function measurePhysical(corpus: Corpus, dir: string, args: Args): PhysicalResult {
  const mean = corpus.bytes / Math.max(1, corpus.instances);
  const write = measureWrite(dir, args.number('write-mib', 512) * 2 ** 20, Math.max(4096, Math.round(mean)));
  const smallDurableWriteMs = measureFsyncLatency(dir, 200);
  const cpu = measureCpu(corpus, args.number('cpu-mib', 512) * 2 ** 20);
  const writeLimitMBps = write.MBps / 3;
  const writeLimitInst = (writeLimitMBps * 1e6) / mean;
  const diskBound = writeLimitInst <= cpu.instancesPerSecond;
  const limitInstancesPerSecond = Math.min(writeLimitInst, cpu.instancesPerSecond);
  return {
    writeMBps: write.MBps,
    writeFiles: write.files,
    writeFileBytes: Math.round(mean),
    writeLimitMBps,
    smallDurableWriteMs,
    sha256MBps: cpu.sha256MBps,
    parseMBps: cpu.parseMBps,
    cpuLimitInstancesPerSecond: cpu.instancesPerSecond,
    cpuLimitMBps: (cpu.instancesPerSecond * mean) / 1e6,
    meanInstanceBytes: mean,
    limitInstancesPerSecond,
    limitMBps: (limitInstancesPerSecond * mean) / 1e6,
    boundBy: diskBound ? 'disk (fsync write / 3)' : 'CPU (SHA-256 + parse)',
  };
}

export function physicalTable(p: PhysicalResult): Table {
  const perInstance = (MBps: number): number => (MBps * 1e6) / p.meanInstanceBytes;
  return {
    title: 'Physical limit (this machine, this run)',
    columns: ['measure', 'value', 'unit', 'instances/s'],
    rows: [
      [`sequential write, fsync per file (${p.writeFiles} x ${(p.writeFileBytes / 1e6).toFixed(2)} MB)`, p.writeMBps, 'MB/s', perInstance(p.writeMBps)],
      ['  / 3 (three copies on one disk)', p.writeLimitMBps, 'MB/s', perInstance(p.writeLimitMBps)],
      ['4 KiB file + fsync + directory fsync', p.smallDurableWriteMs, 'ms', null],
      ['SHA-256 (node:crypto, 1 core)', p.sha256MBps, 'MB/s', perInstance(p.sha256MBps)],
      ['parseInstance (1 core)', p.parseMBps, 'MB/s', perInstance(p.parseMBps)],
      ['  hash + parse bound', p.cpuLimitMBps, 'MB/s', p.cpuLimitInstancesPerSecond],
      [`physical limit: ${p.boundBy}`, p.limitMBps, 'MB/s', p.limitInstancesPerSecond],
    ],
  };
}
