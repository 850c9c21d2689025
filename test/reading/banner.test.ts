import { makeInstance, newUid } from '@yunying/dicom/testing';
import { startSystem, stow, type RunningSystem } from '../support/system';
import { call, clinicId, createDeviceKey, demoPassword, signIn } from './reading.support';

interface Banner {
  studyInstanceUid: string;
  patient: { name: { alphabetic: string | null; ideographic: string | null; phonetic: string | null }; characterSet: string | null; id: string | null; issuer: string | null; sex: string | null; birthDate: string | null; ageAtStudy: string | null };
  study: { date: string | null; time: string | null; description: string | null; accessionNumber: string | null; modalities: string[]; clinic: { code: string; name: string } };
  ai: { triageStatus: string; priority: string; category: string | null; score: number | null };
}

/**
 * #20 patient banner over the real system: a study sent in UTF-8 with a Chinese name (ideographic group)
 * and an issuer of the patient ID is shown to the reader with every identity field as sent, the age at
 * the study computed from the dates; the sending clinic sees it too; another clinic's study is absent;
 * every read is audited without patient identifiers in the details.
 */
describe('patient banner (system)', () => {
  let system: RunningSystem;
  let viewer: string;
  let reader: string;
  let clinicUser: string;
  const study = newUid();
  const otherStudy = newUid();

  beforeAll(async () => {
    system = await startSystem();
    viewer = system.urls.viewer ?? '';
    const admin = await signIn(viewer, 'admin', demoPassword(system, 'admin'));
    reader = await signIn(viewer, 'radiologist', demoPassword(system, 'radiologist'));
    clinicUser = await signIn(viewer, 'clinic', demoPassword(system, 'clinic'));
    const file = makeInstance({
      studyInstanceUid: study,
      rows: 8,
      columns: 8,
      charset: 'ISO_IR 192',
      patientName: 'Wang^Fang=王^芳',
      patientId: 'HC-000123',
      birthDate: '19800615',
      studyDate: '20240614',
      studyTime: '093012.5',
      accessionNumber: 'A-778',
      studyDescription: '甲状腺超声 Thyroid US',
      extra: { IssuerOfPatientID: 'HC-CHAIN', PatientSex: 'F' },
    });
    expect((await stow(system.urls.ingest ?? '', system.credentials.apiKey?.key ?? '', [file])).status).toBe(200);
    const otherKey = await createDeviceKey(viewer, admin, clinicId(system, 'other-clinic'));
    expect((await stow(system.urls.ingest ?? '', otherKey, [makeInstance({ studyInstanceUid: otherStudy, rows: 8, columns: 8 })])).status).toBe(200);
  });
  afterAll(async () => {
    await system?.stop();
  });

  it('shows the reader every identity field as sent, with the character set and the age at the study', async () => {
    const res = await call<Banner>(viewer, 'GET', `/api/studies/${study}/banner`, reader);
    expect(res.status).toBe(200);
    expect(res.body.patient).toEqual({
      name: { alphabetic: 'Wang^Fang', ideographic: '王^芳', phonetic: null },
      characterSet: 'ISO_IR 192',
      id: 'HC-000123',
      issuer: 'HC-CHAIN',
      sex: 'F',
      birthDate: '1980-06-15',
      ageAtStudy: '43 y',
    });
    expect(res.body.study).toMatchObject({ date: '2024-06-14', time: '09:30', description: '甲状腺超声 Thyroid US', accessionNumber: 'A-778', modalities: ['US'], clinic: { code: 'demo-clinic' } });
    expect(res.body.ai).toMatchObject({ triageStatus: expect.any(String), category: null });
  });

  it('shows the sending clinic its study, hides another clinic’s, and audits each read without identifiers', async () => {
    expect((await call<Banner>(viewer, 'GET', `/api/studies/${study}/banner`, clinicUser)).body.patient?.id).toBe('HC-000123');
    const other = await call(viewer, 'GET', `/api/studies/${otherStudy}/banner`, clinicUser);
    expect(other.status).toBe(404);
    expect((await call(viewer, 'GET', `/api/studies/${newUid()}/banner`, reader)).status).toBe(404);
    const { rows } = await system.pool.query<{ details: unknown; actor_username: string }>(
      `SELECT details, actor_username FROM audit_events WHERE study_instance_uid = $1 AND details->>'what' = 'patient-banner' ORDER BY seq`,
      [study],
    );
    expect(rows.map((r) => r.actor_username)).toEqual(['radiologist', 'clinic']);
    expect(JSON.stringify(rows.map((r) => r.details))).not.toMatch(/HC-000123|Wang|王/);
  });
});
