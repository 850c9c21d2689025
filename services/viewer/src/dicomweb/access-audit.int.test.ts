import { randomUUID } from 'node:crypto';
import { AuditLog } from '@yunying/audit';
import type { Principal } from '@yunying/auth';
import { createTestCatalog, type TestCatalog } from '@yunying/catalog/testing';
import { newUid } from '@yunying/dicom/testing';
import { AccessAudit } from './access-audit';

const principal = (clinicId: string): Principal => ({ kind: 'user', username: 'probe', role: 'clinic', clinicId, clinics: { all: false, clinicIds: [clinicId] } });

/**
 * The foreign-study check on the real PostgreSQL (study owners looked up by UID, whatever the caller sees): a
 * probe of another clinic's study is one Security Alert under the owning clinic; the caller's own study, a
 * UID that exists nowhere and a disposed study are not recorded.
 */
describe('access audit: refused foreign studies (real PostgreSQL)', () => {
  let catalog: TestCatalog;
  const clinicA = randomUUID();
  const clinicB = randomUUID();
  const [studyA, studyB, disposed] = [newUid(), newUid(), newUid()];

  const alerts = async (): Promise<{ study_instance_uid: string; clinic_id: string; actor_clinic: string | null; details: unknown }[]> =>
    (
      await catalog.pool.query<{ study_instance_uid: string; clinic_id: string; actor_clinic: string | null; details: unknown }>(
        `SELECT study_instance_uid, clinic_id::text, actor_clinic::text, details FROM audit_events WHERE event_type = 'Security Alert' ORDER BY seq`,
      )
    ).rows;

  beforeAll(async () => {
    catalog = await createTestCatalog('access_audit');
    await catalog.pool.query(`INSERT INTO clinics (id, code, name) VALUES ($1, 'aa-a', 'A'), ($2, 'aa-b', 'B')`, [clinicA, clinicB]);
    await catalog.pool.query(`INSERT INTO patients (clinic_id, patient_key) VALUES ($1, 'pa'), ($2, 'pb')`, [clinicA, clinicB]);
    await catalog.pool.query(
      `INSERT INTO studies (clinic_id, patient_ref, study_instance_uid, retain_until, disposed_at)
       SELECT p.clinic_id, p.id, u.uid, now() + interval '15 years', u.disposed FROM patients p
         JOIN (VALUES ($1::uuid, $3::text, NULL::timestamptz), ($2::uuid, $4::text, NULL::timestamptz), ($1::uuid, $5::text, now())) u(clinic, uid, disposed) ON u.clinic = p.clinic_id`,
      [clinicA, clinicB, studyA, studyB, disposed],
    );
  });

  afterAll(async () => {
    await catalog.drop();
  });

  it('records a probe of another clinic’s study under that clinic, and nothing else', async () => {
    const audit = new AccessAudit(new AuditLog(catalog.pool), catalog.pool);
    await audit.refusedIfForeign({ principal: principal(clinicB), sourceIp: '192.0.2.1' }, [studyA, studyB, newUid(), disposed], 'test');
    await audit.refusedIfForeign({ principal: principal(clinicA), sourceIp: '192.0.2.1' }, studyA, 'test');
    expect(await alerts()).toEqual([{ study_instance_uid: studyA, clinic_id: clinicA, actor_clinic: clinicB, details: { kind: 'access-refused', reason: 'other-clinic', resource: 'test' } }]);
  });
});
