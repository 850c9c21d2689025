import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { makeStudy } from '@yunying/dicom/testing';
import type { Args } from '../lib/args';
import { HttpClient, stowBody } from '../lib/http';
import { freePort, sleep, type Lab } from '../lib/lab';
import type { Table } from '../lib/report';
import { latency, ratio, type Latency } from '../lib/stats';

/**
 * DIMSE retrieve beside Orthanc (issue #16): one study of `--instances` (40) uncompressed 8-bit
 * ultrasound images, loaded into both by STOW-RS, then retrieved whole `--runs` times from each, the
 * order alternating: C-GET with dcmtk getscu (sub-operations on the same association), and C-MOVE with
 * dcmtk movescu to a dcmtk storescp. Both SCUs' received files go to a directory in /dev/shm (memory),
 * so no disk of the receiving side is measured (getscu 3.6.7's `--ignore` answers 0xC000 and gives up). Latency is the SCU process's wall time, spawn to exit (the same process costs on both sides).
 * Yunying is called with a clinic's registered AE title and moves to that clinic's registered destination.
 */
export interface RetrieveRow {
  kind: string;
  yunying: Latency & { errors: number };
  orthanc: Latency & { errors: number };
}

export interface RetrieveResult {
  instances: number;
  studyBytes: number;
  rows: RetrieveRow[];
}

const CALLING_AE = 'BENCH00';
const DESTINATION_AE = 'BENCHDEST';

function timed(tool: string, args: string[]): Promise<{ ms: number; code: number | null; output: string }> {
  return new Promise((resolve, reject) => {
    const started = process.hrtime.bigint();
    const child = spawn(tool, args, { env: { ...process.env, TCP_NODELAY: '1' }, stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stdout.on('data', (c: Buffer) => (output += c.toString()));
    child.stderr.on('data', (c: Buffer) => (output += c.toString()));
    child.once('error', reject);
    child.once('close', (code) => resolve({ ms: Number(process.hrtime.bigint() - started) / 1e6, code, output }));
  });
}

function completed(output: string): number | null {
  const all = [...output.matchAll(/Completed Suboperations\s*:\s*(\d+)/g)];
  const last = all[all.length - 1];
  return last === undefined ? null : Number(last[1]);
}

export async function runRetrieve(lab: Lab, args: Args): Promise<RetrieveResult> {
  const count = args.number('instances', 40);
  const runs = args.number('runs', 20);
  const study = makeStudy(count, { rows: 256, columns: 256, modality: 'US', seed: 'bench-retrieve', patientId: 'BENCH-RETRIEVE' });
  const y = await lab.startYunying(['all']);
  const o = await lab.startOrthanc();
  const destinationPort = await freePort();
  const received = fs.mkdtempSync(path.join(fs.existsSync('/dev/shm') ? '/dev/shm' : lab.work, 'yy-bench-retrieve-'));
  // TCP_NODELAY=1 for dcmtk as for the SCUs: otherwise Nagle and delayed ACKs add ~40 ms per C-STORE-RSP.
  const storescp = spawn('storescp', ['-aet', DESTINATION_AE, '-od', received, String(destinationPort)], { env: { ...process.env, TCP_NODELAY: '1' }, stdio: 'ignore' });
  try {
    lab.log(`retrieve: loading a ${count}-instance study into both (STOW-RS)`);
    const client = new HttpClient(1);
    const body = stowBody(study.files);
    const ry = await client.request('POST', `${y.urls.ingest ?? ''}/dicomweb/studies`, { 'content-type': body.contentType, accept: 'application/dicom+json', authorization: `ApiKey ${y.clinicKeys[0] ?? ''}` }, body.body);
    const ro = await client.request('POST', `${o.url}/dicom-web/studies`, { 'content-type': body.contentType, accept: 'application/dicom+json' }, body.body);
    if (ry.status !== 200 || ro.status !== 200) throw new Error(`load: Yunying ${ry.status}, Orthanc ${ro.status}`);
    // The destination, registered in each system the way its administrators would.
    const clinic = await y.pool.query<{ clinic_id: string }>('SELECT clinic_id FROM clinic_ae_titles WHERE ae_title = $1', [CALLING_AE]);
    await y.pool.query('INSERT INTO dimse_move_destinations (clinic_id, ae_title, host, port) VALUES ($1, $2, $3, $4)', [clinic.rows[0]?.clinic_id, DESTINATION_AE, '127.0.0.1', destinationPort]);
    for (const [name, ae, port] of [['benchdest', DESTINATION_AE, destinationPort], ['bench00', CALLING_AE, 104]] as const) {
      const put = await client.request('PUT', `${o.url}/modalities/${name}`, { 'content-type': 'application/json' }, Buffer.from(JSON.stringify([ae, '127.0.0.1', port])));
      if (put.status !== 200) throw new Error(`Orthanc modality ${name}: ${put.status}`);
    }
    client.close();
    await sleep(200);

    const keys = ['-k', 'QueryRetrieveLevel=STUDY', '-k', `StudyInstanceUID=${study.studyInstanceUid}`];
    const kinds = {
      'C-GET study (getscu)': (port: number, extra: string[]) => timed('getscu', [...extra, '-S', '-aet', CALLING_AE, '-od', received, ...keys, '127.0.0.1', String(port)]),
      'C-MOVE study (movescu -> storescp)': (port: number, extra: string[]) => timed('movescu', [...extra, '-S', '-aet', CALLING_AE, '-aem', DESTINATION_AE, ...keys, '127.0.0.1', String(port)]),
    };
    const systems = { yunying: y.dimsePort, orthanc: o.dicomPort };
    const rows: RetrieveRow[] = [];
    for (const [kind, call] of Object.entries(kinds)) {
      // Warm-up, with the counts printed (-d), to check that every instance goes before timing anything.
      for (const [system, port] of Object.entries(systems)) {
        const warm = await call(port, ['-d']);
        if (completed(warm.output) !== count) throw new Error(`${kind} from ${system}: ${String(completed(warm.output))} of ${count} sub-operations completed:\n${warm.output.slice(-2000)}`);
      }
      const samples = { yunying: { ms: [] as number[], errors: 0 }, orthanc: { ms: [] as number[], errors: 0 } };
      lab.log(`retrieve: ${kind}, ${runs} runs per system`);
      for (let i = 0; i < runs; i += 1) {
        const order = i % 2 === 0 ? (['yunying', 'orthanc'] as const) : (['orthanc', 'yunying'] as const);
        for (const system of order) {
          const r = await call(systems[system], []);
          if (r.code === 0) samples[system].ms.push(r.ms);
          else samples[system].errors += 1;
        }
      }
      rows.push({ kind, yunying: { ...latency(samples.yunying.ms), errors: samples.yunying.errors }, orthanc: { ...latency(samples.orthanc.ms), errors: samples.orthanc.errors } });
    }
    return { instances: count, studyBytes: study.files.reduce((n, f) => n + f.length, 0), rows };
  } finally {
    storescp.kill('SIGTERM');
    fs.rmSync(received, { recursive: true, force: true });
    await y.stop();
    await o.stop();
  }
}

export function retrieveTable(r: RetrieveResult): Table {
  return {
    title: `DIMSE retrieve of one ${r.instances}-instance study (${(r.studyBytes / 1e6).toFixed(1)} MB, Explicit VR LE), whole study per request (ms, SCU process wall time)`,
    columns: ['request', 'Y p50', 'Y p95', 'O p50', 'O p95', 'Y/O p50', 'Y/O p95', 'runs', 'errors Y/O'],
    rows: r.rows.map((row) => [row.kind, row.yunying.p50, row.yunying.p95, row.orthanc.p50, row.orthanc.p95, ratio(row.yunying.p50, row.orthanc.p50), ratio(row.yunying.p95, row.orthanc.p95), row.yunying.n, `${row.yunying.errors}/${row.orthanc.errors}`]),
    notes: [
      'Y/O < 1: Yunying faster. Yunying audits each retrieve twice (Begin Transferring, Instances Transferred) and reads each instance from its replicated store; Orthanc from its storage area',
      'getscu and storescp write what they receive to /dev/shm (memory) and run with TCP_NODELAY=1; Orthanc runs as packaged (no TCP_NODELAY in its environment)',
    ],
  };
}
