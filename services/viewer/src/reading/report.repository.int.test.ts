import { randomUUID } from 'node:crypto';
import type { Principal } from '@yunying/auth';
import { createTestCatalog, planRecorder, scansOf, type TestCatalog } from '@yunying/catalog/testing';
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

/**
 * A clinic's study list must not cost more as the clinic's archive grows: each of the caller's clinics is read in
 * received order and stops after `limit` rows. It used to sort all of a clinic's studies for every page (182 ms for
 * 50,000 studies); this reads the plan PostgreSQL ran, on a catalog with statistics, rather than a clock.
 */
describe('report repository: a clinic study page reads at most `limit` rows per clinic (real PostgreSQL)', () => {
  let catalog: TestCatalog;
  const repo = new ReportRepository();
  let clinics: string[] = [];

  beforeAll(async () => {
    catalog = await createTestCatalog('clinic_page_plan');
    await catalog.pool.query(`INSERT INTO clinics (code, name) SELECT 'cp-' || c, 'Clinic ' || c FROM generate_series(1, 20) c`);
    clinics = (await catalog.pool.query<{ id: string }>('SELECT id::text FROM clinics ORDER BY code')).rows.map((r) => r.id);
    await catalog.pool.query(`INSERT INTO patients (clinic_id, patient_key) SELECT id, 'p-' || code FROM clinics`);
    // 100,000 studies in 20 clinics: one in twenty new, the rest reported. (A page narrowed to a status may still
    // sort a clinic's rows of that status: the planner's choice, by how many it expects.)
    await catalog.pool.query(
      `INSERT INTO studies (clinic_id, patient_ref, study_instance_uid, retain_until, received_at, reading_status)
       SELECT p.clinic_id, p.id, '2.25.8' || g, now() + interval '15 years', now() - make_interval(secs => g),
              CASE WHEN g % 20 = 0 THEN 'new' ELSE 'reported' END
         FROM generate_series(1, 100000) g JOIN patients p ON p.patient_key = 'p-cp-' || (1 + g % 20)`,
    );
    await catalog.pool.query('ANALYZE studies');
  });

  afterAll(async () => {
    await catalog.drop();
  });

  it.each([
    ['one clinic', () => principal(clinics.slice(0, 1))],
    ['three clinics', () => principal(clinics.slice(0, 3))],
    ['every clinic', () => principal('all')],
  ])('%s', async (_name, who) => {
    const { runner, plans } = planRecorder(catalog.pool);
    const rows = await repo.clinicStudies(runner, { principal: who(), limit: 51 });
    expect(rows).toHaveLength(51);
    // Newest first across the clinics asked for.
    const received = rows.map((r) => r.receivedAt.getTime());
    expect(received).toEqual([...received].sort((a, b) => b - a));
    const studyScans = scansOf(plans[0]!, 'studies');
    expect(studyScans.length).toBeGreaterThan(0);
    expect(Math.max(...studyScans.map((n) => n['Actual Rows']))).toBeLessThanOrEqual(51);
  });
});
