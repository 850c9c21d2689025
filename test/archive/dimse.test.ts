import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { makeInstance, makeStudy, newUid } from '@yunying/dicom/testing';
import { readStoredFile, systemStorageKeyFile } from '@yunying/storage/testing';
import { describeUnless, findExecutable } from '../support/skip';
import { firstValue, startSystem, stow, stowItems, type RunningSystem } from '../support/system';

const run = promisify(execFile);
const dcmtk = findExecutable('storescu') && findExecutable('echoscu') ? null : 'dcmtk not installed (apt-get install dcmtk)';

interface ToolResult {
  code: number;
  output: string;
}

async function tool(name: string, args: string[]): Promise<ToolResult> {
  try {
    const { stdout, stderr } = await run(name, args, { env: { ...process.env, TCP_NODELAY: '1' }, timeout: 60_000 });
    return { code: 0, output: stdout + stderr };
  } catch (error) {
    const e = error as { code?: number; stdout?: string; stderr?: string };
    return { code: typeof e.code === 'number' ? e.code : -1, output: `${e.stdout ?? ''}${e.stderr ?? ''}` };
  }
}

/**
 * #3 done-when over DIMSE with dcmtk's real clients against the running system: the same guarantees as
 * STOW-RS (three copies, retention, catalog rows, audit, job), the clinic bound by the calling AE title,
 * and both channels converge on the same stored instances.
 */
describeUnless(dcmtk, 'DICOM C-STORE ingest with dcmtk (system)', () => {
  let system: RunningSystem;
  let dir: string;
  let port: string;

  beforeAll(async () => {
    system = await startSystem();
    port = system.env.DIMSE_PORT ?? '';
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'yy-dimse-'));
  });
  afterAll(async () => {
    await system?.stop();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  const write = (files: Buffer[], prefix: string): string[] =>
    files.map((file, i) => {
      const name = path.join(dir, `${prefix}-${i}.dcm`);
      fs.writeFileSync(name, file);
      return name;
    });

  it('answers C-ECHO for a known calling AE and rejects an unknown one at association', async () => {
    expect((await tool('echoscu', ['-aet', 'DEMO_US', '-aec', 'ANY-SCP', '127.0.0.1', port])).code).toBe(0);
    const unknown = await tool('echoscu', ['-aet', 'STRANGER', '127.0.0.1', port]);
    expect(unknown.code).not.toBe(0);
    expect(unknown.output).toMatch(/reject/i);
  });

  it('stores a storescu send as three copies of the AE title’s clinic, idempotently, converging with STOW-RS', async () => {
    const study = makeStudy(3, { frames: 2, rows: 40, columns: 30 });
    const jpeg = makeInstance({ studyInstanceUid: study.studyInstanceUid, seriesInstanceUid: newUid(), transferSyntax: '1.2.840.10008.1.2.4.50', photometric: 'YBR_FULL' });
    const files = [...study.files, jpeg];
    const paths = write(files, 'study');
    const sent = await tool('storescu', ['-aet', 'DEMO_US', '-aec', 'YUNYING', '-xy', '127.0.0.1', port, ...paths]);
    expect(sent.code).toBe(0);

    const demo = system.credentials.clinics.find((c) => c.code === 'demo-clinic')?.id;
    const rows = await system.pool.query(
      'SELECT i.sha256, i.clinic_id, i.transfer_syntax_uid FROM instances i JOIN studies s ON s.id = i.study_ref WHERE s.study_instance_uid = $1',
      [study.studyInstanceUid],
    );
    expect(rows.rows).toHaveLength(4);
    expect(new Set(rows.rows.map((r) => r.clinic_id))).toEqual(new Set([demo]));
    expect(rows.rows.map((r) => r.transfer_syntax_uid)).toContain('1.2.840.10008.1.2.4.50');
    for (const row of rows.rows) {
      const copies = await system.pool.query("SELECT target FROM copies WHERE sha256 = $1 AND state = 'ok' AND retain_until > now() + interval '14 years 11 months'", [row.sha256]);
      expect(copies.rows).toHaveLength(3);
      const key = (await system.pool.query('SELECT object_key FROM objects WHERE sha256 = $1', [row.sha256])).rows[0].object_key as string;
      for (const root of ['replica-a', 'replica-b', 'replica-c']) {
        const bytes = await readStoredFile(path.join(system.dataDir, root, key), systemStorageKeyFile(system.dataDir));
        expect(createHash('sha256').update(bytes).digest('hex')).toBe(row.sha256);
      }
    }
    const audit = await system.pool.query(
      "SELECT count(*)::int AS n FROM audit_events WHERE event_type = 'DICOM Instances Transferred' AND study_instance_uid = $1 AND details->>'via' = 'DIMSE' AND actor_username = 'ae:DEMO_US'",
      [study.studyInstanceUid],
    );
    expect(audit.rows[0].n).toBe(4);
    const jobs = await system.pool.query("SELECT count(*)::int AS n FROM outbox WHERE queue = 'study' AND payload->>'studyInstanceUid' = $1", [study.studyInstanceUid]);
    expect(jobs.rows[0].n).toBeGreaterThan(0);

    // Again: storescu succeeds and nothing new is written.
    const count = async (): Promise<number> => (await system.pool.query('SELECT (SELECT count(*) FROM instances) + (SELECT count(*) FROM copies) AS n')).rows[0].n as number;
    const before = await count();
    expect((await tool('storescu', ['-aet', 'DEMO_US', '-xy', '127.0.0.1', port, ...paths])).code).toBe(0);
    expect(await count()).toBe(before);

    // The native instances sent by STOW-RS are the same objects: already stored. (The JPEG one was re-encoded
    // by no one: DIMSE keeps the dataset bytes as received, so it converges too.)
    const viaStow = await stow(system.urls.ingest ?? '', system.credentials.apiKey?.key ?? '', study.files);
    expect(stowItems(viaStow, '00081199').map((i) => firstValue(i, '00991010'))).toEqual(['ALREADY_STORED', 'ALREADY_STORED', 'ALREADY_STORED']);
    expect(await count()).toBe(before);
  });

  it('answers a bad dataset with a failure status, promptly, and keeps nothing of it', async () => {
    const bad = makeInstance({ rows: 64, columns: 64, extra: { NumberOfFrames: '50' } });
    const [file] = write([bad], 'bad');
    const before = (await system.pool.query('SELECT count(*)::int AS n FROM instances')).rows[0].n as number;
    const started = Date.now();
    const sent = await tool('storescu', ['-v', '-aet', 'DEMO_US', '127.0.0.1', port, file ?? '']);
    expect(sent.code).not.toBe(0);
    expect(sent.output).toMatch(/Received Store Response \(Error: DataSetDoesNotMatchSOPClass\)/);
    expect(Date.now() - started).toBeLessThan(20_000);
    expect((await system.pool.query('SELECT count(*)::int AS n FROM instances')).rows[0].n).toBe(before);
  });
});
