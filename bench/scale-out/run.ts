/**
 * The long scale-out run of #18 (not part of npm test; the short version is test/scale/scale-out.test.ts):
 *
 *   npm run bench:scale-out -w bench -- [--rounds 6] [--instances 40] [--inference 0]
 *
 * Starts the same system as the test (test/scale/scale-out.support.ts: two ingest and two viewer processes
 * behind haproxy, a keeper process, Ceph RGW with one endpoint per copy when CEPH_CONF is set, a private
 * PostgreSQL primary with a streaming standby as CATALOG_READ_URL) and uploads one study per round with
 * `yunying upload` through the proxy, killing one ingest process with -9 mid-upload every round (restarted
 * after the round). Every third round also has the third copy's RGW endpoint down, and
 * every third the standby down, for the round. Then waits for the keeper to repair the copies written
 * while an endpoint was down, and counts: acknowledged, stored, lost (must be 0), duplicates (must be 0),
 * copies short of three, and QIDO through the proxy (back on the standby) listing every study.
 * Needs what the test needs: S3_* / CEPH_CONF from infra/ceph/up.sh, TEST_DATABASE_URL, Redis, haproxy,
 * the PostgreSQL server binaries, and built packages (`npx turbo run build --filter=@yunying/launcher...`
 * and @yunying/gateway). Prints a table per round, writes bench/results/scale-out-<time>.json, exits 1 on
 * any loss or duplicate.
 */
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import readline from 'node:readline';
import { makeStudy } from '@yunying/dicom/testing';
import { REPO_ROOT } from '../../test/support/processes';
import { waitFor } from '../../test/support/wait';
import { catalogReads, scaleOutUnavailable, startScaleOut, type ScaleOut } from '../../test/scale/scale-out.support';

function arg(name: string, fallback: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? (process.argv[i + 1] ?? fallback) : fallback;
}

type Fault = 'none' | 'rgw-endpoint-down' | 'replica-down';

interface RoundReport {
  round: number;
  fault: Fault;
  files: number;
  /** Stored by this run or answered as already stored: what the uploader was told is in the archive. */
  acknowledged: number;
  notSent: number;
  /** STOW requests retried after a failure (the killed process's in-flight batches). */
  retries: number;
  /** Instances of the round's study in the catalog when the ingest process was killed. */
  storedAtKill: number;
  uploadSeconds: number;
  restartSeconds: number;
}

interface UploadOutcome {
  exitCode: number | null;
  acknowledged: number;
  notSent: number;
  retries: number;
}

/** `yunying upload --json` of `dir` through the proxy; the counts from its events. */
function upload(scale: ScaleOut, dir: string, stateDir: string): Promise<UploadOutcome> {
  const cli = path.join(REPO_ROOT, 'services/gateway/dist/cli.js');
  const args = [cli, 'upload', '--json', '--archive', scale.base, '--check', 'none', '--batch-files', '2', '--concurrency', '2', '--give-up-after', '180', '--state-dir', stateDir, dir];
  const child = spawn(process.execPath, args, { env: { PATH: process.env.PATH ?? '', YUNYING_API_KEY: scale.system.credentials.apiKey?.key ?? '' }, stdio: ['ignore', 'pipe', 'inherit'] });
  const outcome: UploadOutcome = { exitCode: null, acknowledged: 0, notSent: 0, retries: 0 };
  readline.createInterface({ input: child.stdout }).on('line', (line) => {
    const event = JSON.parse(line) as { event: string; sent?: number; alreadyThere?: number; notSent?: number };
    if (event.event === 'retry') outcome.retries += 1;
    if (event.event === 'summary') {
      outcome.acknowledged = (event.sent ?? 0) + (event.alreadyThere ?? 0);
      outcome.notSent = event.notSent ?? 0;
    }
  });
  return new Promise((resolve) => child.once('exit', (code) => resolve({ ...outcome, exitCode: code })));
}

async function instancesOf(scale: ScaleOut, sops: string[]): Promise<number> {
  const { rows } = await scale.system.pool.query<{ n: string }>('SELECT count(*) AS n FROM instances WHERE sop_instance_uid = ANY($1)', [sops]);
  return Number(rows[0]?.n ?? 0);
}

async function runRound(scale: ScaleOut, round: number, instances: number, fault: Fault): Promise<{ report: RoundReport; sops: string[]; studyUid: string; patientId: string }> {
  const patientId = `PID-BENCH-${round}`;
  const study = makeStudy(instances, { rows: 256, columns: 256, patientId });
  const dir = fs.mkdtempSync(path.join(scale.work, `round-${round}-`));
  study.files.forEach((file, i) => fs.writeFileSync(path.join(dir, `${i}.dcm`), file));
  const third = scale.rgws[1];
  if (fault === 'rgw-endpoint-down' && third !== undefined) await third.kill();
  if (fault === 'replica-down') scale.replica?.crash();
  const started = Date.now();
  const uploading = upload(scale, dir, path.join(dir, '.state'));
  // Kill one of the two ingest processes (alternating) once a quarter of the study is in.
  const victim = scale.nodesOf('ingest')[round % 2];
  if (victim === undefined) throw new Error('no ingest process');
  const storedAtKill = await waitFor(
    'a quarter of the study stored',
    async () => {
      const n = await instancesOf(scale, study.sopInstanceUids);
      return n >= Math.ceil(instances / 4) ? n : null;
    },
    180_000,
    50,
  );
  victim.process.child.kill('SIGKILL');
  await victim.process.exited;
  // The uploader retries through the proxy to the other ingest process.
  const outcome = await uploading;
  const uploadSeconds = (Date.now() - started) / 1000;
  if (fault === 'rgw-endpoint-down' && third !== undefined) await third.start();
  if (fault === 'replica-down') scale.replica?.restart();
  // Restarted once the round's fault is over: an ingest process prepares its buckets at start and refuses to
  // start with a copy's endpoint unreachable (seen in this run's first version).
  const restartStarted = Date.now();
  await victim.restart();
  const restartSeconds = (Date.now() - restartStarted) / 1000;
  if (outcome.exitCode !== 0) console.log(`  round ${round}: the uploader exited ${String(outcome.exitCode)}`);
  return {
    report: { round, fault, files: instances, acknowledged: outcome.acknowledged, notSent: outcome.notSent, retries: outcome.retries, storedAtKill, uploadSeconds, restartSeconds },
    sops: study.sopInstanceUids,
    studyUid: study.studyInstanceUid,
    patientId,
  };
}

async function main(): Promise<void> {
  const rounds = Number(arg('rounds', '6'));
  const instances = Number(arg('instances', '40'));
  const unavailable = scaleOutUnavailable();
  if (unavailable !== null) {
    console.error(`scale-out run cannot start: ${unavailable}`);
    process.exitCode = 2;
    return;
  }
  const started = Date.now();
  const scale = await startScaleOut({ inferenceProcesses: Number(arg('inference', '0')) });
  const startSeconds = (Date.now() - started) / 1000;
  console.log(`system up in ${startSeconds.toFixed(1)} s: ${scale.nodes.map((n) => n.role).join(', ')}; ${1 + scale.rgws.length} RGW endpoint(s); replica ${scale.replica === null ? 'absent' : 'streaming'}`);
  const faults: Fault[] = ['none', 'rgw-endpoint-down', 'replica-down'];
  const reports: RoundReport[] = [];
  const uploaded: { sops: string[]; studyUid: string; patientId: string }[] = [];
  const problems: string[] = [];
  try {
    for (let round = 1; round <= rounds; round++) {
      const { report, ...study } = await runRound(scale, round, instances, faults[round % faults.length] ?? 'none');
      reports.push(report);
      uploaded.push(study);
      console.log(
        `  round ${report.round} (${report.fault}): ${report.acknowledged}/${report.files} acknowledged, killed at ${report.storedAtKill} stored, ${report.retries} retries, upload ${report.uploadSeconds.toFixed(1)} s, restart ${report.restartSeconds.toFixed(1)} s`,
      );
    }
    const sops = uploaded.flatMap((u) => u.sops);
    const repairStarted = Date.now();
    const copiesShort = async (): Promise<number> => {
      const { rows } = await scale.system.pool.query<{ n: string }>(
        `SELECT count(*) AS n FROM instances i WHERE i.sop_instance_uid = ANY($1)
            AND (SELECT count(*) FROM copies c WHERE c.sha256 = i.sha256 AND c.state = 'ok') < 3`,
        [sops],
      );
      return Number(rows[0]?.n ?? 0);
    };
    await waitFor('every copy repaired', async () => (await copiesShort()) === 0, 300_000).catch(() => undefined);
    const repairSeconds = (Date.now() - repairStarted) / 1000;
    const { rows } = await scale.system.pool.query<{ stored: string; rows: string }>('SELECT count(DISTINCT sop_instance_uid) AS stored, count(*) AS rows FROM instances WHERE sop_instance_uid = ANY($1)', [sops]);
    const stored = Number(rows[0]?.stored ?? 0);
    const duplicates = Number(rows[0]?.rows ?? 0) - stored;
    const objectDuplicates = Number(
      (
        await scale.system.pool.query<{ n: string }>(
          `SELECT count(*) AS n FROM (SELECT c.sha256, c.target FROM copies c JOIN instances i ON i.sha256 = c.sha256
             WHERE i.sop_instance_uid = ANY($1) GROUP BY c.sha256, c.target HAVING count(*) > 1) d`,
          [sops],
        )
      ).rows[0]?.n ?? 0,
    );
    const acknowledged = reports.reduce((a, r) => a + r.acknowledged, 0);
    const lost = sops.length - stored;
    const short = await copiesShort();
    // Reads through the proxy once everything is back: each study listed, and answered by the standby.
    const before = await catalogReads(scale.nodesOf('viewer').map((n) => n.url));
    let listed = 0;
    for (const u of uploaded) {
      const res = await fetch(`${scale.base}/dicomweb/studies?PatientID=${u.patientId}`, {
        headers: { authorization: `ApiKey ${scale.system.credentials.apiKey?.key ?? ''}`, accept: 'application/dicom+json' },
      });
      const body = res.status === 200 ? ((await res.json()) as Record<string, { Value?: string[] }>[]) : [];
      if (body.some((s) => s['0020000D']?.Value?.[0] === u.studyUid)) listed += 1;
    }
    const after = await catalogReads(scale.nodesOf('viewer').map((n) => n.url));
    if (lost !== 0) problems.push(`${lost} acknowledged instance(s) lost`);
    if (duplicates !== 0 || objectDuplicates !== 0) problems.push(`${duplicates} duplicate instance row(s), ${objectDuplicates} duplicate copy row(s)`);
    if (acknowledged !== sops.length) problems.push(`${sops.length - acknowledged} file(s) not acknowledged`);
    if (short !== 0) problems.push(`${short} instance(s) short of three copies after ${repairSeconds.toFixed(0)} s`);
    if (listed !== uploaded.length) problems.push(`${uploaded.length - listed} stud(ies) not listed by QIDO`);
    const totalSeconds = (Date.now() - started) / 1000;
    console.log(`\nscale-out run: ${rounds} rounds x ${instances} instances, ${rounds} kill -9 of an ingest process, in ${totalSeconds.toFixed(1)} s`);
    console.log(`  acknowledged ${acknowledged}, stored ${stored}, lost ${lost}, duplicates ${duplicates + objectDuplicates}, short of 3 copies ${short}`);
    console.log(`  repair after the endpoint rounds: ${repairSeconds.toFixed(1)} s; QIDO through the proxy listed ${listed}/${uploaded.length} studies (replica answered ${after.replica - before.replica}, primary ${after.primary - before.primary})`);
    const uploads = reports.map((r) => r.uploadSeconds).sort((a, b) => a - b);
    console.log(`  upload per round: median ${(uploads[Math.floor(uploads.length / 2)] ?? 0).toFixed(1)} s, max ${(uploads.at(-1) ?? 0).toFixed(1)} s; system start ${startSeconds.toFixed(1)} s`);
    for (const p of problems) console.log(`  PROBLEM ${p}`);
    const dir = path.join(REPO_ROOT, 'bench', 'results');
    fs.mkdirSync(dir, { recursive: true });
    const file = path.join(dir, `scale-out-${new Date().toISOString().replace(/[:.]/g, '-')}.json`);
    fs.writeFileSync(file, JSON.stringify({ rounds, instances, reports, acknowledged, stored, lost, duplicates, objectDuplicates, short, repairSeconds, listed, totalSeconds, problems }, null, 2));
    console.log(`results: ${path.relative(REPO_ROOT, file)}`);
  } finally {
    await scale.stop();
  }
  if (problems.length > 0) process.exitCode = 1;
}

main().catch((error: unknown) => {
  console.error(error);
  process.exitCode = 1;
});
