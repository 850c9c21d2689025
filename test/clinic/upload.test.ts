import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { corrupt, makeInstance, makeStudy } from '@yunying/dicom/testing';
import { freePort } from '../support/processes';
import { describeUnless } from '../support/skip';
import { startSystem, type RunningSystem } from '../support/system';
import { cliBuilt, runCli, startCli, summaryOf } from './clinic.support';

/**
 * Issue #10, the CLI uploader, against the whole system: a folder with nested studies, a DICOMDIR, a
 * text file and a truncated DICOM file; again (nothing re-sent); killed half-way and run again (completes,
 * each instance once); and the exit codes a script relies on.
 */
describeUnless(cliBuilt(), 'yunying upload (system)', () => {
  let system: RunningSystem;
  let work: string;
  let key: string;

  beforeAll(async () => {
    system = await startSystem();
    key = system.credentials.apiKey?.key ?? '';
    work = fs.mkdtempSync(path.join(os.tmpdir(), 'yy-upload-'));
  });
  afterAll(async () => {
    await system?.stop();
    fs.rmSync(work, { recursive: true, force: true });
  });

  const env = (): Record<string, string> => ({
    YUNYING_INGEST_URL: system.urls.ingest ?? '',
    YUNYING_VIEWER_URL: system.urls.viewer ?? '',
    YUNYING_API_KEY: key,
    YUNYING_STATE_DIR: path.join(work, 'state'),
  });

  async function archived(uids: string[]): Promise<{ rows: number; distinct: number; maxVersion: number }> {
    const result = await system.pool.query(
      'SELECT count(*)::int AS rows, count(DISTINCT sop_instance_uid)::int AS distinct, coalesce(max(version), 0)::int AS max_version FROM instances WHERE sop_instance_uid = ANY($1)',
      [uids],
    );
    const row = result.rows[0] as { rows: number; distinct: number; max_version: number };
    return { rows: row.rows, distinct: row.distinct, maxVersion: row.max_version };
  }

  function write(file: string, bytes: Buffer | string): string {
    fs.mkdirSync(path.dirname(file), { recursive: true });
    fs.writeFileSync(file, bytes);
    return file;
  }

  it('uploads a folder (nested, DICOMDIR, non-DICOM, truncated), reports the bad file, and sends nothing the second time', async () => {
    const folder = path.join(work, 'exam');
    const first = makeStudy(4, { rows: 32, columns: 32 });
    const second = makeStudy(3, { rows: 24, columns: 24 });
    first.files.forEach((f, i) => write(path.join(folder, 'day1', 'patient-a', `im${i}.dcm`), f));
    // Media layout: extension-less names under a DICOMDIR, one name in lower case on this disk.
    write(path.join(folder, 'media', 'IMG', 'IM000001'), second.files[0] ?? Buffer.alloc(0));
    write(path.join(folder, 'media', 'IMG', 'IM000002'), second.files[1] ?? Buffer.alloc(0));
    write(path.join(folder, 'media', 'img', 'im000003'), second.files[2] ?? Buffer.alloc(0));
    const dicomdir = makeInstance({
      sopClassUid: '1.2.840.10008.1.3.10',
      noPixelData: true,
      extra: {
        DirectoryRecordSequence: [
          { DirectoryRecordType: 'IMAGE', ReferencedFileID: ['IMG', 'IM000001'] },
          { DirectoryRecordType: 'IMAGE', ReferencedFileID: ['IMG', 'IM000002'] },
          { DirectoryRecordType: 'IMAGE', ReferencedFileID: ['IMG', 'IM000003'] },
          { DirectoryRecordType: 'IMAGE', ReferencedFileID: ['IMG', 'IM000004'] },
        ],
      },
    });
    write(path.join(folder, 'media', 'DICOMDIR'), dicomdir);
    write(path.join(folder, 'notes.txt'), 'Referral letter scanned separately.\n');
    const truncated = write(path.join(folder, 'day1', 'broken.dcm'), corrupt.truncate(makeInstance({ rows: 32, columns: 32 }), -300));
    const uids = [...first.sopInstanceUids, ...second.sopInstanceUids];

    const run1 = await runCli(['upload', '--json', '--batch-files', '2', folder], env());
    const s1 = summaryOf(run1);
    expect(run1.code).toBe(1);
    expect(s1.sent).toBe(7);
    expect(s1.alreadyThere).toBe(0);
    expect(s1.notSent).toBe(0);
    expect(s1.rejected).toEqual([expect.objectContaining({ path: truncated, source: 'local' })]);
    expect(s1.rejected[0]?.reason).toMatch(/truncated|invalid_length|malformed/);
    const skipped = s1.skipped.map((s) => path.relative(folder, s.path));
    expect(skipped).toEqual(expect.arrayContaining(['notes.txt', path.join('media', 'DICOMDIR'), path.join('media', 'IMG', 'IM000004')]));
    expect(s1.skipped.find((s) => s.path.endsWith('IM000004'))?.note).toMatch(/missing/);
    expect(run1.events.filter((e) => e.event === 'batch').length).toBeGreaterThanOrEqual(4);
    expect(await archived(uids)).toEqual({ rows: 7, distinct: 7, maxVersion: 1 });

    // Again: the journal knows every file; nothing goes on the wire.
    const run2 = await runCli(['upload', '--json', folder], env());
    const s2 = summaryOf(run2);
    expect(run2.code).toBe(1);
    expect(s2).toMatchObject({ sent: 0, alreadyThere: 7, partsSent: 0, requests: 0 });
    expect(s2.rejected.map((r) => r.path)).toEqual([truncated]);

    // Without the journal (another machine, a wiped cache): QIDO tells what the archive has.
    const run3 = await runCli(['upload', '--json', '--fresh', folder], env());
    expect(summaryOf(run3)).toMatchObject({ sent: 0, alreadyThere: 7, partsSent: 0, requests: 0 });
    expect(run3.events.find((e) => e.event === 'plan')).toMatchObject({ checkedWith: 'journal+qido' });

    // Without the journal and without QIDO: everything is sent and the archive answers ALREADY_STORED.
    const run4 = await runCli(['upload', '--json', '--fresh', '--check', 'none', folder], env());
    expect(summaryOf(run4)).toMatchObject({ sent: 0, alreadyThere: 7, partsSent: 7 });
    expect(await archived(uids)).toEqual({ rows: 7, distinct: 7, maxVersion: 1 });

    // Plain output for people: the summary names the bad file and why.
    const plain = await runCli(['upload', '--fresh', folder], env());
    expect(plain.code).toBe(1);
    expect(plain.stdout).toContain(`rejected ${truncated}`);
    expect(plain.stdout).toMatch(/sent: 0, already in the archive: 7, rejected: 1/);
  });

  it('continues after being killed half-way, and each instance is archived exactly once', async () => {
    const folder = path.join(work, 'big');
    const study = makeStudy(24, { rows: 48, columns: 48 });
    study.files.forEach((f, i) => write(path.join(folder, `s${String(i).padStart(2, '0')}.dcm`), f));
    // No QIDO: the resume must come from the uploader's own journal.
    const args = ['upload', '--json', '--check', 'none', '--batch-files', '2', '--concurrency', '1', folder];

    const first = startCli(args, env());
    await first.waitForEvent((e) => e.event === 'batch');
    first.child.kill('SIGKILL');
    const killed = await first.done;
    expect(killed.code).toBeNull();
    expect(killed.events.some((e) => e.event === 'summary')).toBe(false);

    const again = await runCli(args, env());
    const s = summaryOf(again);
    expect(again.code).toBe(0);
    expect(s.alreadyThere).toBeGreaterThanOrEqual(2); // at least the batch confirmed before the kill
    expect(s.sent).toBeGreaterThan(0); // it really was stopped half-way
    expect(s.sent + s.alreadyThere).toBe(24);
    expect(s.partsSent).toBeLessThan(24);
    expect(await archived(study.sopInstanceUids)).toEqual({ rows: 24, distinct: 24, maxVersion: 1 });
  });

  it('exits 2 on a usage error, 4 when the key is refused, 3 when the archive stays unreachable', async () => {
    const folder = path.join(work, 'codes');
    makeStudy(2, { rows: 16, columns: 16 }).files.forEach((f, i) => write(path.join(folder, `c${i}.dcm`), f));

    expect((await runCli(['upload', '--batch-files', 'many', folder], env())).code).toBe(2);
    expect((await runCli(['upload', '--json', folder], { ...env(), YUNYING_API_KEY: '' })).code).toBe(2);
    expect((await runCli(['upload', path.join(work, 'does-not-exist')], env())).code).toBe(2);

    const refused = await runCli(['upload', '--json', '--check', 'none', folder], { ...env(), YUNYING_API_KEY: 'yy_aaaaaaaa_bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb' });
    expect(refused.code).toBe(4);
    expect(summaryOf(refused)).toMatchObject({ sent: 0, notSent: 2 });

    const closed = await freePort();
    const down = await runCli(['upload', '--json', '--give-up-after', '2', folder], {
      ...env(),
      YUNYING_INGEST_URL: `http://127.0.0.1:${closed}`,
      YUNYING_VIEWER_URL: `http://127.0.0.1:${closed}`,
    });
    expect(down.code).toBe(3);
    expect(summaryOf(down)).toMatchObject({ sent: 0, notSent: 2 });
    expect(down.events.some((e) => e.event === 'retry')).toBe(true);
    expect(down.events.some((e) => e.event === 'notice')).toBe(true);
  });
});
