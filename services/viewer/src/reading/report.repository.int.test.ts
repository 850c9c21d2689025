import { randomUUID } from 'node:crypto';
import type { Principal } from '@yunying/auth';
import { createTestCatalog, type TestCatalog } from '@yunying/catalog/testing';
import { newUid } from '@yunying/dicom/testing';
import { ReportRepository } from './report.repository';

const principal = (clinicIds: string[] | 'all'): Principal => ({
  kind: 'user',
  username: 'report-repo-test',
  role: clinicIds === 'all' ? 'auditor' : 'clinic',
  clinicId: null,
  clinics: clinicIds === 'all' ? { all: true } : { all: false, clinicIds },
});

/**
 * The clinic's study list and the report versions on the real PostgreSQL: tenancy through clinicCondition,
 * the effective reading status filter, keyset paging from the cursor's exact received_at text, and the signed
 * versions counted per study; a version reads back with its author's names.
 */
describe('report repository (real PostgreSQL)', () => {
  let catalog: TestCatalog;
  const repo = new ReportRepository();
  const clinicA = randomUUID();
  const clinicB = randomUUID();
  const [oldest, middle, newest, foreign] = [newUid(), newUid(), newUid(), newUid()];
  let author = '';

  beforeAll(async () => {
    catalog = await createTestCatalog('report_repo');
    await catalog.pool.query(`INSERT INTO clinics (id, code, name) VALUES ($1, 'rr-a', 'A'), ($2, 'rr-b', 'B')`, [clinicA, clinicB]);
    author = (
      await catalog.pool.query<{ id: string }>(
        `INSERT INTO users (username, display_name, role, password_hash) VALUES ('rr-reader', 'Dr Reader', 'radiologist', '$argon2id$x') RETURNING id::text`,
      )
    ).rows[0]!.id;
    await catalog.pool.query(`INSERT INTO patients (clinic_id, patient_key) VALUES ($1, 'pa'), ($2, 'pb')`, [clinicA, clinicB]);
    await catalog.pool.query(
      `INSERT INTO studies (clinic_id, patient_ref, study_instance_uid, retain_until, received_at, reading_status)
       SELECT p.clinic_id, p.id, u.uid, now() + interval '15 years', now() - u.age * interval '1 hour', u.status FROM patients p
         JOIN (VALUES ($1::uuid, $3::text, 3, 'new'), ($1::uuid, $4::text, 2, 'reported'), ($1::uuid, $5::text, 1, 'new'), ($2::uuid, $6::text, 1, 'new'))
              u(clinic, uid, age, status) ON u.clinic = p.clinic_id`,
      [clinicA, clinicB, oldest, middle, newest, foreign],
    );
    const studyRef = (await catalog.pool.query<{ id: string }>('SELECT id::text FROM studies WHERE study_instance_uid = $1', [middle])).rows[0]!.id;
    const content = { tiradsCategory: 'TR3' as const, findings: 'f', impression: 'i', aiResultRef: null, aiSuggestionAccepted: null, nodules: [], tiradsSystem: 'acr-2017' };
    await repo.insert(catalog.pool, { studyRef, version: 1, kind: 'report', authorUserId: author, content, signed: true });
    await repo.insert(catalog.pool, { studyRef, version: 2, kind: 'addendum', authorUserId: author, content: { ...content, tiradsCategory: null }, signed: true });
  });

  afterAll(async () => {
    await catalog.drop();
  });

  it('lists the caller’s clinics’ studies newest first, with signed versions, filtered and paged', async () => {
    const all = await repo.clinicStudies(catalog.pool, { principal: principal([clinicA]), limit: 10 });
    expect(all.map((r) => r.studyInstanceUid)).toEqual([newest, middle, oldest]);
    expect(all.map((r) => [r.status, r.signedVersions])).toEqual([
      ['new', 0],
      ['reported', 2],
      ['new', 0],
    ]);
    expect(all[1]?.lastSignedAt).toBeInstanceOf(Date);
    expect(all[0]?.lastSignedAt).toBeNull();
    expect(all[0]?.receivedKey).toMatch(/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{6}Z$/);

    const first = all[0]!;
    const next = await repo.clinicStudies(catalog.pool, { principal: principal([clinicA]), limit: 1, after: { receivedAt: first.receivedKey, id: first.id } });
    expect(next.map((r) => r.studyInstanceUid)).toEqual([middle]);
    expect((await repo.clinicStudies(catalog.pool, { principal: principal([clinicA]), statuses: ['reported'], limit: 10 })).map((r) => r.studyInstanceUid)).toEqual([middle]);

    expect((await repo.clinicStudies(catalog.pool, { principal: principal([clinicB]), limit: 10 })).map((r) => r.studyInstanceUid)).toEqual([foreign]);
    expect(await repo.clinicStudies(catalog.pool, { principal: principal([]), limit: 10 })).toEqual([]);
    expect(await repo.clinicStudies(catalog.pool, { principal: principal('all'), limit: 10 })).toHaveLength(4);
  });

  it('reads versions back in order with their author, signed ones only when asked', async () => {
    const studyRef = (await catalog.pool.query<{ id: string }>('SELECT id::text FROM studies WHERE study_instance_uid = $1', [middle])).rows[0]!.id;
    const versions = await repo.versions(catalog.pool, studyRef, true);
    expect(versions.map((v) => [v.version, v.kind, v.status, v.tiradsCategory])).toEqual([
      [1, 'report', 'signed', 'TR3'],
      [2, 'addendum', 'signed', null],
    ]);
    expect(versions[0]).toMatchObject({ authorUserId: author, authorUsername: 'rr-reader', authorDisplayName: 'Dr Reader', tiradsSystem: 'acr-2017', nodules: [] });
    expect(versions[0]?.signedAt).toBeInstanceOf(Date);
    expect(await repo.byVersion(catalog.pool, studyRef, 2)).toEqual(versions[1]);
    expect(await repo.byVersion(catalog.pool, studyRef, 3)).toBeNull();
  });
});
