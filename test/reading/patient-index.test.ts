import { makeInstance, newUid, type AttributeItem } from '@yunying/dicom/testing';
import { startSystem, stow, type RunningSystem } from '../support/system';
import { call, clinicId, createDeviceKey, createRadiologist, demoPassword, signIn } from './reading.support';

interface Review {
  id: string;
  reason: string;
  differs: string[];
  studyInstanceUid: string;
  person: { name: string | null; studies: { studyInstanceUid: string }[] };
  candidate: { name: string | null; studies: { studyInstanceUid: string }[] };
}
interface Merge {
  id: string;
  studiesMoved: number;
  unmergedAt: string | null;
}
interface Priors {
  studies: { studyInstanceUid: string }[];
  identityUnderReview: boolean;
}

/**
 * #20 patient index over the real system (launcher process, STOW-RS from two clinics' devices, the HTTP
 * API only): a national ID configured by the admin links two clinics' visits of one client; the same
 * national ID with another birth date lands in the admin queue instead of being linked; the admin merges
 * it, a reader granted both clinics then sees the prior, one granted a single clinic does not; unmerge
 * restores the earlier state; each decision is a Patient Record audit event without patient data.
 */
describe('patient index admin queue (system)', () => {
  let system: RunningSystem;
  let viewer: string;
  let admin: string;
  let readerBoth: string;
  let readerDemo: string;
  const visit2023 = newUid();
  const visit2024 = newUid();
  const visit2025 = newUid();

  const instance = (studyInstanceUid: string, patientId: string, birthDate: string, date: string): Buffer =>
    makeInstance({
      studyInstanceUid,
      rows: 8,
      columns: 8,
      modality: 'US',
      patientId,
      patientName: 'Zhang^Min=张^敏',
      charset: 'ISO_IR 192',
      birthDate,
      studyDate: date,
      studyDescription: 'Thyroid US',
      extra: { PatientSex: 'F', BodyPartExamined: 'THYROID', OtherPatientIDsSequence: [{ PatientID: '310101198203030021', IssuerOfPatientID: 'CN-NID' }] as AttributeItem[] },
    });
  const priorsOf = async (study: string, token: string): Promise<string[]> => {
    const res = await call<Priors>(viewer, 'GET', `/api/studies/${study}/priors`, token);
    expect(res.status).toBe(200);
    return res.body.studies.map((s) => s.studyInstanceUid);
  };

  beforeAll(async () => {
    system = await startSystem();
    viewer = system.urls.viewer ?? '';
    admin = await signIn(viewer, 'admin', demoPassword(system, 'admin'));
    const issuers = await call(viewer, 'PUT', '/api/admin/patient-index/identifier-issuers', admin, { issuers: [{ issuer: 'CN-NID', label: 'Resident identity card' }] });
    expect(issuers.status).toBe(200);
    readerBoth = (await createRadiologist(viewer, admin, 'pindex-both', [clinicId(system, 'demo-clinic'), clinicId(system, 'other-clinic')])).token;
    readerDemo = await signIn(viewer, 'radiologist', demoPassword(system, 'radiologist'));
    const otherKey = await createDeviceKey(viewer, admin, clinicId(system, 'other-clinic'));
    const demoKey = system.credentials.apiKey?.key ?? '';
    // Each clinic's own number; the national ID is what they share.
    expect((await stow(system.urls.ingest ?? '', demoKey, [instance(visit2023, 'D-501', '19820303', '20230505')])).status).toBe(200);
    expect((await stow(system.urls.ingest ?? '', otherKey, [instance(visit2024, 'O-77', '19820303', '20240505')])).status).toBe(200);
    // The same national ID with another birth date (mistyped at registration).
    expect((await stow(system.urls.ingest ?? '', otherKey, [instance(visit2025, 'O-78', '19820330', '20250505')])).status).toBe(200);
  });
  afterAll(async () => {
    await system?.stop();
  });

  it('links the two clinics’ visits on the national ID, within the reader’s grants', async () => {
    expect(await priorsOf(visit2024, readerBoth)).toEqual([visit2023]);
    expect(await priorsOf(visit2023, readerDemo)).toEqual([]);
    expect((await call(viewer, 'GET', `/api/studies/${visit2024}/priors`, readerDemo)).status).toBe(404);
  });

  it('puts the contradicting visit in the admin queue, merges on the admin’s decision and unmerges it', async () => {
    const before = await call<Priors>(viewer, 'GET', `/api/studies/${visit2025}/priors`, readerBoth);
    expect(before.body).toMatchObject({ studies: [], identityUnderReview: true });
    expect((await call(viewer, 'GET', '/api/admin/patient-index/reviews', readerBoth)).status).toBe(403);
    const queue = await call<{ reviews: Review[] }>(viewer, 'GET', '/api/admin/patient-index/reviews', admin);
    expect(queue.status).toBe(200);
    expect(queue.body.reviews).toHaveLength(1);
    const review = queue.body.reviews[0];
    expect(review).toMatchObject({ reason: 'identifier-demographics-differ', differs: ['birthDate'], studyInstanceUid: visit2025, person: { name: 'Zhang^Min=张^敏' } });
    expect(review?.candidate.studies.map((s) => s.studyInstanceUid).sort()).toEqual([visit2023, visit2024].sort());

    const merged = await call<Merge>(viewer, 'POST', `/api/admin/patient-index/reviews/${review?.id ?? ''}/merge`, admin);
    expect(merged.status).toBe(200);
    expect(merged.body.studiesMoved).toBe(1);
    expect((await priorsOf(visit2025, readerBoth)).sort()).toEqual([visit2023, visit2024].sort());
    expect(await priorsOf(visit2023, readerDemo)).toEqual([]);
    expect((await call<{ reviews: Review[] }>(viewer, 'GET', '/api/admin/patient-index/reviews', admin)).body.reviews).toEqual([]);

    const undone = await call<Merge>(viewer, 'POST', `/api/admin/patient-index/merges/${merged.body.id}/unmerge`, admin);
    expect(undone.status).toBe(200);
    expect(undone.body.unmergedAt).not.toBeNull();
    expect(await priorsOf(visit2025, readerBoth)).toEqual([]);
    const history = await call<{ merges: Merge[] }>(viewer, 'GET', '/api/admin/patient-index/merges', admin);
    expect(history.body.merges.map((m) => [m.id, m.unmergedAt !== null])).toEqual([[merged.body.id, true]]);

    const { rows } = await system.pool.query<{ event_code: string; details: { what: string } }>(`SELECT event_code, details FROM audit_events WHERE event_type = 'Patient Record' ORDER BY seq`);
    expect(rows.map((r) => [r.event_code, r.details.what])).toEqual([
      ['110110', 'patient-index-merge'],
      ['110110', 'patient-index-unmerge'],
    ]);
    const all = await system.pool.query<{ details: unknown }>('SELECT details FROM audit_events');
    expect(JSON.stringify(all.rows)).not.toMatch(/Zhang|张|310101198203030021|D-501|O-77|19820303/);
  });
});
