import { randomUUID } from 'node:crypto';
import type { Principal } from '@yunying/auth';
import { createTestCatalog, planRecorder, scansOf, type TestCatalog } from '@yunying/catalog/testing';
import { newUid } from '@yunying/dicom/testing';
import { QueueRepository } from './queue.repository';

const principal = (clinicIds: string[]): Principal => ({ kind: 'user', username: 'queue-repo-test', role: 'radiologist', clinicId: null, clinics: { all: false, clinicIds } });

/**
 * The claim protocol's SQL on the real PostgreSQL: a claim only within the reader's granted clinics, held
 * against others until it expires or is released, renewable by its holder, never on a reported study; the
 * release only by the holder, back to the triage status; the state as the caller may see it.
 */
describe('queue repository: claim, release, state (real PostgreSQL)', () => {
  let catalog: TestCatalog;
  const repo = new QueueRepository();
  const clinicA = randomUUID();
  const clinicB = randomUUID();
  const [triaged, reported] = [newUid(), newUid()];
  const users: Record<'r1' | 'r2', string> = { r1: '', r2: '' };
  const inA = principal([clinicA]);

  beforeAll(async () => {
    catalog = await createTestCatalog('queue_repo');
    await catalog.pool.query(`INSERT INTO clinics (id, code, name) VALUES ($1, 'qr-a', 'A'), ($2, 'qr-b', 'B')`, [clinicA, clinicB]);
    for (const name of ['r1', 'r2'] as const) {
      users[name] = (
        await catalog.pool.query<{ id: string }>(`INSERT INTO users (username, role, password_hash) VALUES ($1, 'radiologist', '$argon2id$x') RETURNING id::text`, [`qr-${name}`])
      ).rows[0]!.id;
    }
    await catalog.pool.query(`INSERT INTO patients (clinic_id, patient_key) VALUES ($1, 'pa')`, [clinicA]);
    await catalog.pool.query(
      `INSERT INTO studies (clinic_id, patient_ref, study_instance_uid, retain_until, triage_status, reading_status)
       SELECT p.clinic_id, p.id, u.uid, now() + interval '15 years', 'triaged', u.status FROM patients p
         CROSS JOIN (VALUES ($1::text, 'triaged'), ($2::text, 'reported')) u(uid, status)`,
      [triaged, reported],
    );
  });

  afterAll(async () => {
    await catalog.drop();
  });

  it('claims within the caller’s clinics only, holds against others, renews for the holder, refuses a reported study', async () => {
    expect(await repo.claim(catalog.pool, triaged, users.r1, 600, principal([clinicB]))).toBeNull();
    expect(await repo.state(catalog.pool, triaged, principal([clinicB]))).toBeNull();

    const claimed = await repo.claim(catalog.pool, triaged, users.r1, 600, inA);
    expect(claimed).toMatchObject({ studyInstanceUid: triaged, clinicId: clinicA });
    expect(claimed!.claimExpiresAt.getTime()).toBeGreaterThan(Date.now());
    expect(await repo.state(catalog.pool, triaged, inA)).toMatchObject({ clinicId: clinicA, readingStatus: 'in_reading', claimedBy: users.r1, claimedByUsername: 'qr-r1', claimActive: true });

    expect(await repo.claim(catalog.pool, triaged, users.r2, 600, inA)).toBeNull();
    expect(await repo.claim(catalog.pool, triaged, users.r1, 600, inA)).toMatchObject({ id: claimed!.id });
    expect(await repo.claim(catalog.pool, reported, users.r1, 600, inA)).toBeNull();
    expect(await repo.state(catalog.pool, reported, inA)).toMatchObject({ readingStatus: 'reported', claimedBy: null, claimActive: false });
  });

  it('releases only for the holder, back to the triage status; an expired claim is free to take', async () => {
    expect(await repo.release(catalog.pool, triaged, users.r2, inA)).toBeNull();
    expect(await repo.release(catalog.pool, triaged, users.r1, principal([clinicB]))).toBeNull();
    expect(await repo.release(catalog.pool, triaged, users.r1, inA)).toMatchObject({ clinicId: clinicA, readingStatus: 'triaged' });
    expect(await repo.state(catalog.pool, triaged, inA)).toMatchObject({ readingStatus: 'triaged', claimedBy: null, claimExpiresAt: null, claimActive: false });

    await repo.claim(catalog.pool, triaged, users.r1, 600, inA);
    await catalog.pool.query(`UPDATE studies SET claim_expires_at = now() - interval '1 second' WHERE study_instance_uid = $1`, [triaged]);
    expect(await repo.state(catalog.pool, triaged, inA)).toMatchObject({ claimActive: false });
    expect(await repo.claim(catalog.pool, triaged, users.r2, 600, inA)).toMatchObject({ studyInstanceUid: triaged });
    expect(await repo.state(catalog.pool, triaged, inA)).toMatchObject({ claimedBy: users.r2, claimActive: true });
  });
});

/**
 * The page's cost must not grow with the archive: each (clinic, status) range is read in index order and stops
 * after `limit` rows. At 1 M studies the planner once chose to fetch whole ranges and sort them (92 ms per page
 * instead of a few), because it misjudged how many rows the effective-status check keeps; this reads the plan
 * PostgreSQL actually ran, on a catalog with statistics, rather than a clock.
 */
describe('queue repository: a page reads at most `limit` rows of each range (real PostgreSQL)', () => {
  let catalog: TestCatalog;
  const repo = new QueueRepository();
  const everyClinic: Principal = { kind: 'user', username: 'queue-plan-test', role: 'radiologist', clinicId: null, clinics: { all: true } };

  beforeAll(async () => {
    catalog = await createTestCatalog('queue_plan');
    // bench:scale's catalog, scaled down: 20 clinics; of 100,000 studies one in twenty new, one in twenty triaged,
    // the rest reported; one in fifty CT, the rest US.
    await catalog.pool.query(`INSERT INTO clinics (code, name) SELECT 'qp-' || c, 'Clinic ' || c FROM generate_series(1, 20) c`);
    await catalog.pool.query(`INSERT INTO patients (clinic_id, patient_key) SELECT id, 'p-' || code FROM clinics`);
    await catalog.pool.query(
      `INSERT INTO studies (clinic_id, patient_ref, study_instance_uid, retain_until, modalities, priority, received_at, triage_status, reading_status)
       SELECT p.clinic_id, p.id, '2.25.9' || g, now() + interval '15 years', CASE WHEN g % 50 = 0 THEN ARRAY['CT'] ELSE ARRAY['US'] END,
              (ARRAY['urgent','priority','routine','routine','routine'])[1 + (g % 5)], now() - make_interval(secs => g), 'triaged',
              CASE WHEN g % 20 = 0 THEN 'new' WHEN g % 20 = 1 THEN 'triaged' ELSE 'reported' END
         FROM generate_series(1, 100000) g JOIN patients p ON p.patient_key = 'p-qp-' || (1 + g % 20)`,
    );
    await catalog.pool.query('ANALYZE studies');
  });

  afterAll(async () => {
    await catalog.drop();
  });

  it.each([
    ['status new', { statuses: ['new'] as const }],
    ['US, status new', { statuses: ['new'] as const, modality: 'US' }],
    ['new and triaged', { statuses: ['new', 'triaged'] as const }],
  ])('%s', async (_name, filter) => {
    const { runner, plans } = planRecorder(catalog.pool);
    const page = await repo.page(runner, { principal: everyClinic, limit: 50, ...filter, statuses: [...filter.statuses] });
    expect(page).toHaveLength(50);
    const studyScans = scansOf(plans[0]!, 'studies');
    expect(studyScans.length).toBeGreaterThan(0);
    expect(Math.max(...studyScans.map((n) => n['Actual Rows']))).toBeLessThanOrEqual(50);
  });
});
