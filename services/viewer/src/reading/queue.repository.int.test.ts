import { randomUUID } from 'node:crypto';
import type { Principal } from '@yunying/auth';
import { createTestCatalog, type TestCatalog } from '@yunying/catalog/testing';
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
