import { createHash } from 'node:crypto';
import http from 'node:http';
import fs from 'node:fs';
import path from 'node:path';
import Queue from 'bull';
import { makeInstance, makeStudy, newUid, corrupt } from '@yunying/dicom/testing';
import { FsReplicaTarget } from '@yunying/storage';
import { readStoredFile, systemStorageKeyFile } from '@yunying/storage/testing';
import { firstValue, startSystem, stow, stowBody, stowItems, type RunningSystem } from '../support/system';
import { waitFor } from '../support/wait';

/**
 * #3 done-when, over STOW-RS against the real system (launcher process, Postgres, Redis, fs replicas):
 * three copies with matching SHA-256 in three targets, retain-until >= 15 years on each, delete refused,
 * catalog rows, an audit event and a study job; sending again changes nothing; bad input is refused per
 * instance and leaves nothing behind.
 */
describe('STOW-RS ingest into three locked copies (system)', () => {
  let system: RunningSystem;
  let apiKey: string;
  let demoClinicId: string;

  beforeAll(async () => {
    system = await startSystem();
    apiKey = system.credentials.apiKey?.key ?? '';
    demoClinicId = system.credentials.clinics.find((c) => c.code === 'demo-clinic')?.id ?? '';
    expect(apiKey).toMatch(/^yy_/);
  });
  afterAll(async () => {
    await system?.stop();
  });

  const sha256 = (b: Buffer): string => createHash('sha256').update(b).digest('hex');
  const roots = (): string[] => ['replica-a', 'replica-b', 'replica-c'].map((r) => path.join(system.dataDir, r));

  it('stores a study (multi-frame US, JPEG baseline, GB18030 name) as three locked copies, indexed, audited and announced', async () => {
    const study = makeStudy(2, { patientName: '王^小明', charset: 'GB18030', frames: 3, rows: 32, columns: 48 });
    const jpeg = makeInstance({
      studyInstanceUid: study.studyInstanceUid,
      seriesInstanceUid: newUid(),
      transferSyntax: '1.2.840.10008.1.2.4.50',
      photometric: 'YBR_FULL',
      rows: 64,
      columns: 64,
      patientName: '王^小明',
      charset: 'GB18030',
    });
    const files = [...study.files, jpeg];
    const before = Date.now();
    const result = await stow(system.urls.ingest ?? '', apiKey, files, study.studyInstanceUid);
    expect(result.status).toBe(200);
    expect(result.headers.get('content-type')).toMatch(/application\/dicom\+json/);
    const referenced = stowItems(result, '00081199');
    expect(referenced).toHaveLength(3);
    expect(referenced.map((i) => firstValue(i, '00991010'))).toEqual(['STORED', 'STORED', 'STORED']);
    expect(String(firstValue(referenced[0] ?? {}, '00081190'))).toContain(`/dicomweb/studies/${study.studyInstanceUid}/series/`);
    expect(result.body['00081198']).toBeUndefined();

    // Catalog: one study of the demo clinic, its patient name decoded from GB18030, three current instances.
    const studies = await system.pool.query('SELECT clinic_id, patient_name, number_of_instances, number_of_series, retain_until FROM studies WHERE study_instance_uid = $1', [study.studyInstanceUid]);
    expect(studies.rows).toHaveLength(1);
    expect(studies.rows[0].clinic_id).toBe(demoClinicId);
    expect(studies.rows[0].patient_name).toBe('王^小明');
    expect(studies.rows[0].number_of_instances).toBe(3);
    expect(studies.rows[0].number_of_series).toBe(2);
    const fifteenYears = new Date(before);
    fifteenYears.setUTCFullYear(fifteenYears.getUTCFullYear() + 15);
    expect(new Date(studies.rows[0].retain_until).getTime()).toBeGreaterThanOrEqual(fifteenYears.getTime() - 86_400_000);

    const instances = await system.pool.query(
      'SELECT sop_instance_uid, sha256, transfer_syntax_uid, number_of_frames FROM instances i JOIN studies s ON s.id = i.study_ref WHERE s.study_instance_uid = $1 AND i.is_current',
      [study.studyInstanceUid],
    );
    expect(instances.rows).toHaveLength(3);
    // #14: one catalog transaction for the request: every instance row shares one xmin, and the audit records
    // one append (a savepoint inside it, whose subtransaction has an xid of its own).
    for (const table of ['instances i JOIN studies s ON s.id = i.study_ref WHERE s.study_instance_uid = $1', "audit_events i WHERE event_type = 'DICOM Instances Transferred' AND study_instance_uid = $1"]) {
      const writers = await system.pool.query<{ x: string }>(`SELECT DISTINCT i.xmin::text AS x FROM ${table}`, [study.studyInstanceUid]);
      expect(writers.rows).toHaveLength(1);
    }
    for (const file of files) {
      const digest = sha256(file);
      expect(instances.rows.map((r) => r.sha256)).toContain(digest);
      // Three copies, each verified at write, each locked until >= 15 years from now.
      const copies = await system.pool.query('SELECT target, state, lock_mode, retain_until, object_key FROM copies WHERE sha256 = $1 ORDER BY target', [digest]);
      expect(copies.rows.map((c) => c.target)).toEqual(['fs-1', 'fs-2', 'fs-3']);
      for (const copy of copies.rows) {
        expect(copy.state).toBe('ok');
        expect(copy.lock_mode).toBe('FS_READONLY');
        expect(new Date(copy.retain_until).getTime()).toBeGreaterThanOrEqual(fifteenYears.getTime() - 86_400_000);
      }
      // The bytes on each of the three disks are the bytes sent, read-only.
      for (const root of roots()) {
        const file3 = path.join(root, String(copies.rows[0]?.object_key));
        // Sealed at rest (#17): the file is not the bytes sent, its content is.
        expect(sha256(fs.readFileSync(file3))).not.toBe(digest);
        expect(sha256(await readStoredFile(file3, systemStorageKeyFile(system.dataDir)))).toBe(digest);
        expect(fs.statSync(file3).mode & 0o222).toBe(0);
      }
    }
    expect(instances.rows.find((r) => r.transfer_syntax_uid === '1.2.840.10008.1.2.4.50')).toBeDefined();

    // Deleting any copy before retain-until is refused by the store.
    const digest0 = sha256(files[0] ?? Buffer.alloc(0));
    const key0 = (await system.pool.query('SELECT object_key FROM objects WHERE sha256 = $1', [digest0])).rows[0].object_key as string;
    for (const [i, root] of roots().entries()) {
      const target = new FsReplicaTarget({ name: `fs-${i + 1}`, root, createRoot: false });
      await expect(target.remove(key0, new Date())).rejects.toMatchObject({ code: 'retention_locked' });
      expect(fs.existsSync(path.join(root, key0))).toBe(true);
    }

    // One audit event per instance, attributed to the device, naming the study but no patient.
    const audit = await system.pool.query(
      "SELECT actor_username, details FROM audit_events WHERE event_type = 'DICOM Instances Transferred' AND study_instance_uid = $1",
      [study.studyInstanceUid],
    );
    expect(audit.rows).toHaveLength(3);
    expect(JSON.stringify(audit.rows)).not.toContain('王');

    // The study was announced to the job queue (through the outbox) with ids only.
    const queue = new Queue('study', system.env.REDIS_URL ?? '', { prefix: system.env.QUEUE_PREFIX });
    try {
      // One announcement for the request's one transaction (#14; it was one per instance).
      const published = await system.pool.query("SELECT job_id, published_at FROM outbox WHERE payload->>'studyInstanceUid' = $1", [study.studyInstanceUid]);
      expect(published.rows).toHaveLength(1);
      const jobIds = published.rows.map((r) => r.job_id as string);
      // The relay publishes after the commit, its passes coalesced (#14): wait for it, do not race it.
      const found = await waitFor('the announcement in the study queue', async () => {
        const jobs = (await Promise.all(jobIds.map((id) => queue.getJob(id)))).filter((j) => j !== null && j !== undefined);
        return jobs.length > 0 ? jobs : null;
      }, 30_000);
      expect(found[0]?.data).toEqual({ studyInstanceUid: study.studyInstanceUid });
    } finally {
      await queue.close();
    }
  });

  it('is idempotent: sending the same instances again stores nothing new', async () => {
    const study = makeStudy(2, { patientName: 'Müller^Jürgen', charset: 'ISO_IR 100' });
    expect((await stow(system.urls.ingest ?? '', apiKey, study.files)).status).toBe(200);
    const count = async (): Promise<number[]> => {
      const r = await system.pool.query('SELECT (SELECT count(*) FROM instances)::int AS i, (SELECT count(*) FROM copies)::int AS c, (SELECT count(*) FROM objects)::int AS o');
      return [r.rows[0].i, r.rows[0].c, r.rows[0].o];
    };
    const before = await count();
    const again = await stow(system.urls.ingest ?? '', apiKey, study.files);
    expect(again.status).toBe(200);
    expect(stowItems(again, '00081199').map((i) => firstValue(i, '00991010'))).toEqual(['ALREADY_STORED', 'ALREADY_STORED']);
    expect(await count()).toEqual(before);
    const names = await system.pool.query('SELECT patient_name FROM studies WHERE study_instance_uid = $1', [study.studyInstanceUid]);
    expect(names.rows[0].patient_name).toBe('Müller^Jürgen');
  });

  it('keeps different bytes under a known SOP Instance UID as a new version, the old one retained', async () => {
    const sop = newUid();
    const study = newUid();
    const v1 = makeInstance({ studyInstanceUid: study, sopInstanceUid: sop, studyDescription: 'first' });
    const v2 = makeInstance({ studyInstanceUid: study, sopInstanceUid: sop, studyDescription: 'corrected' });
    expect((await stow(system.urls.ingest ?? '', apiKey, [v1])).status).toBe(200);
    const second = await stow(system.urls.ingest ?? '', apiKey, [v2]);
    expect(stowItems(second, '00081199').map((i) => firstValue(i, '00991010'))).toEqual(['NEW_VERSION']);
    const versions = await system.pool.query('SELECT version, is_current, sha256 FROM instances WHERE sop_instance_uid = $1 ORDER BY version', [sop]);
    expect(versions.rows.map((r) => [r.version, r.is_current])).toEqual([
      [1, false],
      [2, true],
    ]);
    for (const row of versions.rows) {
      const copies = await system.pool.query("SELECT count(*)::int AS n FROM copies WHERE sha256 = $1 AND state = 'ok'", [row.sha256]);
      expect(copies.rows[0].n).toBe(3);
    }
  });

  it('stores the good instances of a mixed body, refuses each bad one with a reason, and keeps nothing of them', async () => {
    const good = makeInstance();
    const truncated = corrupt.truncate(makeInstance(), -200);
    const noUid = corrupt.removeUid('SOPInstanceUID');
    const notDicom = corrupt.nonDicom();
    const counts = async (): Promise<number> => (await system.pool.query('SELECT count(*)::int AS n FROM instances')).rows[0].n as number;
    const before = await counts();
    const result = await stow(system.urls.ingest ?? '', apiKey, [good, truncated, noUid, notDicom]);
    expect(result.status).toBe(202);
    expect(stowItems(result, '00081199')).toHaveLength(1);
    const failed = stowItems(result, '00081198');
    expect(failed.map((f) => firstValue(f, '00991011'))).toEqual(['truncated', 'missing_uid', 'not_part10']);
    expect(failed.map((f) => firstValue(f, '00081197'))).toEqual([0xc000, 0xa900, 0xc000]);
    expect(await counts()).toBe(before + 1);

    const allBad = await stow(system.urls.ingest ?? '', apiKey, [notDicom]);
    expect(allBad.status).toBe(409);
    expect(await counts()).toBe(before + 1);
  });

  it('refuses an instance whose study differs from the one in the URL', async () => {
    const result = await stow(system.urls.ingest ?? '', apiKey, [makeInstance()], newUid());
    expect(result.status).toBe(409);
    expect(firstValue(stowItems(result, '00081198')[0] ?? {}, '00991011')).toBe('study_uid_mismatch');
  });

  it('answers request-level errors as problem+json: 401, 415, 413, 400', async () => {
    const url = `${system.urls.ingest ?? ''}/dicomweb/studies`;
    const { body, contentType } = stowBody([makeInstance()]);
    const anonymous = await fetch(url, { method: 'POST', headers: { 'content-type': contentType }, body });
    expect(anonymous.status).toBe(401);
    expect(anonymous.headers.get('content-type')).toMatch(/problem\+json/);

    const wrongType = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json', authorization: `ApiKey ${apiKey}` }, body: '{}' });
    expect(wrongType.status).toBe(415);
    const wrongPartType = await fetch(url, {
      method: 'POST',
      headers: { 'content-type': 'multipart/related; type="application/dicom+xml"; boundary=x', authorization: `ApiKey ${apiKey}` },
      body,
    });
    expect(wrongPartType.status).toBe(415);

    // A declared body over the request limit is refused before it is read.
    const tooLarge = await new Promise<number>((resolve, reject) => {
      const req = http.request(url, { method: 'POST', headers: { 'content-type': contentType, authorization: `ApiKey ${apiKey}`, 'content-length': String(8 * 1024 ** 3) } }, (res) => {
        res.resume();
        resolve(res.statusCode ?? 0);
        req.destroy();
      });
      req.on('error', reject);
      req.write(body.subarray(0, 1024));
    });
    expect(tooLarge).toBe(413);

    // The web app on the viewer's origin may upload (CORS preflight answered for that origin only).
    const viewerOrigin = new URL(system.urls.viewer ?? '').origin;
    const preflight = await fetch(url, { method: 'OPTIONS', headers: { origin: viewerOrigin, 'access-control-request-method': 'POST', 'access-control-request-headers': 'authorization, content-type' } });
    expect(preflight.status).toBe(204);
    expect(preflight.headers.get('access-control-allow-origin')).toBe(viewerOrigin);
    expect(preflight.headers.get('access-control-allow-headers')).toContain('authorization');
    const stranger = await fetch(url, { method: 'OPTIONS', headers: { origin: 'http://evil.example', 'access-control-request-method': 'POST' } });
    expect(stranger.headers.get('access-control-allow-origin')).toBeNull();

    const noBoundary = await fetch(url, { method: 'POST', headers: { 'content-type': 'multipart/related; type="application/dicom"', authorization: `ApiKey ${apiKey}` }, body });
    expect(noBoundary.status).toBe(400);
    const radiologistCannotUpload = await fetch(url, { method: 'POST', headers: { 'content-type': contentType, authorization: 'Bearer not-a-token' }, body });
    expect(radiologistCannotUpload.status).toBe(401);
  });
});
