import { execFile } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { makeStudy } from '@yunying/dicom/testing';
import { freePort } from '../support/processes';
import { describeUnless, findExecutable } from '../support/skip';
import { startSystem, type RunningSystem } from '../support/system';
import { waitFor } from '../support/wait';
import { cliBuilt, runCli, startCli, type CliProcess } from './clinic.support';

const run = promisify(execFile);
const dcmtk = findExecutable('storescu') && findExecutable('echoscu') ? null : 'dcmtk not installed (apt-get install dcmtk)';

async function dcmtkTool(name: string, args: string[]): Promise<{ code: number; output: string }> {
  try {
    const { stdout, stderr } = await run(name, args, { env: { ...process.env, TCP_NODELAY: '1' }, timeout: 60_000 });
    return { code: 0, output: stdout + stderr };
  } catch (error) {
    const e = error as { code?: number; stdout?: string; stderr?: string };
    return { code: typeof e.code === 'number' ? e.code : -1, output: `${e.stdout ?? ''}${e.stderr ?? ''}` };
  }
}

interface SpoolStatusJson {
  queued: { count: number };
  sent: { count: number };
  failed: { count: number };
  alarms: string[];
}

/**
 * Issue #10, the store-and-forward gateway, with dcmtk's storescu as the clinic's modality: the archive
 * down (instances wait, durably, in the spool), the archive back (all delivered, spool empty), the gateway
 * killed -9 while forwarding (nothing lost, nothing twice), and a full spool (0xA700).
 */
describeUnless(cliBuilt() ?? dcmtk, 'yunying gateway (system)', () => {
  let work: string;
  let archivePort: number;
  let system: RunningSystem | undefined;
  const gateways: CliProcess[] = [];

  beforeAll(async () => {
    work = fs.mkdtempSync(path.join(os.tmpdir(), 'yy-gw-'));
    archivePort = await freePort();
  });
  afterAll(async () => {
    for (const g of gateways) if (g.child.exitCode === null) g.child.kill('SIGKILL');
    await system?.stop();
    fs.rmSync(work, { recursive: true, force: true });
  });

  async function startGateway(spool: string, extra: string[] = [], key = 'yy_aaaaaaaa_bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb'): Promise<{ proc: CliProcess; dimsePort: string; httpPort: string }> {
    const proc = startCli(
      ['gateway', '--spool', spool, '--archive', `http://127.0.0.1:${archivePort}`, '--dimse-port', '0', '--http-port', '0', '--max-backoff', '1', ...extra],
      { YUNYING_API_KEY: key },
    );
    gateways.push(proc);
    const ready = await proc.waitForLine(/^YUNYING_GATEWAY_READY (.*)$/m);
    const ports = JSON.parse(ready[1] ?? '{}') as { dimsePort: number; httpPort: number };
    return { proc, dimsePort: String(ports.dimsePort), httpPort: String(ports.httpPort) };
  }

  async function spoolStatus(spool: string): Promise<SpoolStatusJson> {
    const result = await runCli(['status', '--json', '--spool', spool]);
    return JSON.parse(result.stdout) as SpoolStatusJson;
  }

  function writeStudy(count: number, name: string, size = 32): { uids: string[]; paths: string[] } {
    const study = makeStudy(count, { rows: size, columns: size });
    const dir = path.join(work, name);
    fs.mkdirSync(dir, { recursive: true });
    const paths = study.files.map((f, i) => {
      const p = path.join(dir, `${i}.dcm`);
      fs.writeFileSync(p, f);
      return p;
    });
    return { uids: study.sopInstanceUids, paths };
  }

  async function archived(uids: string[]): Promise<{ rows: number; distinct: number; maxVersion: number }> {
    if (system === undefined) return { rows: 0, distinct: 0, maxVersion: 0 };
    const result = await system.pool.query(
      'SELECT count(*)::int AS rows, count(DISTINCT sop_instance_uid)::int AS distinct, coalesce(max(version), 0)::int AS max_version FROM instances WHERE sop_instance_uid = ANY($1)',
      [uids],
    );
    const row = result.rows[0] as { rows: number; distinct: number; max_version: number };
    return { rows: row.rows, distinct: row.distinct, maxVersion: row.max_version };
  }

  it('spools while the archive is down, delivers when it is back, and survives kill -9 mid-forwarding', async () => {
    const spool = path.join(work, 'spool');
    let gw = await startGateway(spool, ['--ae-title', 'CLINIC_GW', '--batch-files', '1', '--concurrency', '1']);

    // The archive is down: the modality still gets success, because the instance is on the clinic's disk.
    expect((await dcmtkTool('echoscu', ['-aet', 'US_ROOM1', '127.0.0.1', gw.dimsePort])).code).toBe(0);
    const early = writeStudy(6, 'early');
    const sent = await dcmtkTool('storescu', ['-aet', 'US_ROOM1', '-aec', 'CLINIC_GW', '127.0.0.1', gw.dimsePort, ...early.paths]);
    expect(sent.code).toBe(0);
    const waiting = await spoolStatus(spool);
    expect(waiting.queued.count).toBe(6);
    expect(waiting.sent.count).toBe(0);
    await waitFor('the gateway reports the archive unreachable', async () => {
      const live = (await (await fetch(`http://127.0.0.1:${gw.httpPort}/status`)).json()) as { archive: { reachable: boolean | null; lastError: string | null } };
      return live.archive.reachable === false && live.archive.lastError !== null;
    });
    const metrics = await (await fetch(`http://127.0.0.1:${gw.httpPort}/metrics`)).text();
    expect(metrics).toMatch(/yunying_gateway_spool_instances\{state="pending"\} 6/);
    expect(metrics).toMatch(/yunying_gateway_archive_reachable 0/);

    // A restart while the archive is still down loses nothing.
    gw.proc.child.kill('SIGTERM');
    expect((await gw.proc.done).code).toBe(0);
    expect((await spoolStatus(spool)).queued.count).toBe(6);

    // The archive comes up on the address the gateway was given; the gateway (restarted with the real key) delivers.
    system = await startSystem({ env: { INGEST_PORT: String(archivePort) } });
    const key = system.credentials.apiKey?.key ?? '';
    gw = await startGateway(spool, ['--batch-files', '1', '--concurrency', '1'], key);
    await waitFor('the archive has the 6 spooled instances', async () => (await archived(early.uids)).rows === 6);
    await waitFor('the spool is empty', async () => (await spoolStatus(spool)).queued.count === 0);
    expect((await spoolStatus(spool)).sent.count).toBe(6);

    // kill -9 while forwarding: wait until the forwarder has confirmed some, but not all, of a new study.
    const late = writeStudy(40, 'late');
    expect((await dcmtkTool('storescu', ['-aet', 'US_ROOM1', '127.0.0.1', gw.dimsePort, ...late.paths])).code).toBe(0);
    await waitFor('the forwarder has confirmed some of the new study', async () => (await spoolStatus(spool)).sent.count > 6, 60_000, 20);
    gw.proc.child.kill('SIGKILL');
    await gw.proc.done;
    const afterKill = await spoolStatus(spool);
    expect(afterKill.queued.count).toBeGreaterThan(0); // it really was mid-way
    expect(afterKill.queued.count + afterKill.sent.count).toBeGreaterThanOrEqual(46);

    gw = await startGateway(spool, ['--batch-files', '4', '--concurrency', '2'], key);
    await waitFor('the restarted gateway emptied the spool', async () => (await spoolStatus(spool)).queued.count === 0);
    expect(await archived(late.uids)).toEqual({ rows: 40, distinct: 40, maxVersion: 1 });
    expect(await archived(early.uids)).toEqual({ rows: 6, distinct: 6, maxVersion: 1 });
    const final = await spoolStatus(spool);
    expect(final).toMatchObject({ queued: { count: 0 }, sent: { count: 46 }, failed: { count: 0 }, alarms: [] });
    expect((await runCli(['status', '--spool', spool])).code).toBe(0);
    gw.proc.child.kill('SIGTERM');
    await gw.proc.done;
  });

  it('answers 0xA700 when the spool is full, raises the alarm, and refuses calling AE titles it was not given', async () => {
    const spool = path.join(work, 'small-spool');
    // Three 96x96 instances (about 9.5 KB each) fit; the archive (a closed port) takes none.
    const gw = await startGateway(spool, ['--spool-limit-mb', '0.03', '--allowed-ae', 'US_ROOM1,US_ROOM2']);
    const study = writeStudy(6, 'overflow', 96);
    const sent = await dcmtkTool('storescu', ['-v', '-aet', 'US_ROOM2', '127.0.0.1', gw.dimsePort, ...study.paths]);
    expect(sent.code).not.toBe(0);
    expect(sent.output).toMatch(/Refused: OutOfResources|0xa700/i);
    const status = await spoolStatus(spool);
    expect(status.queued.count).toBe(3);
    expect(status.alarms).toContain('spool_full');
    expect((await runCli(['status', '--spool', spool])).code).toBe(1);
    expect(await (await fetch(`http://127.0.0.1:${gw.httpPort}/metrics`)).text()).toMatch(/yunying_gateway_spool_full 1/);

    const stranger = await dcmtkTool('echoscu', ['-aet', 'STRANGER', '127.0.0.1', gw.dimsePort]);
    expect(stranger.code).not.toBe(0);
    expect(stranger.output).toMatch(/reject/i);
    gw.proc.child.kill('SIGTERM');
    expect((await gw.proc.done).code).toBe(0);
  });
});
