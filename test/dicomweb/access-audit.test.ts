import { makeStudy } from '@yunying/dicom/testing';
import { startSystem, stow, type RunningSystem } from '../support/system';
import { waitFor } from '../support/wait';
import { get, signIn, type Credential } from './client';

/**
 * #17 finding 5: a QIDO answer names the study UIDs it disclosed (bounded, with the count of all), and a read
 * of another clinic's study is a Security Alert under the owning clinic, while the caller gets the same 404 or
 * empty answer as for a UID that exists nowhere (which is not recorded). No patient data in any of it.
 */
describe('DICOMweb access audit (system)', () => {
  let system: RunningSystem;
  let viewer: string;
  let device: Credential;
  let radiologist: Credential;
  let otherClinicId: string;
  const mine = makeStudy(1, { patientName: 'AUDIT^MINE', patientId: 'PID-M', rows: 8, columns: 8 });
  const foreign = makeStudy(1, { patientName: 'AUDIT^FOREIGN', patientId: 'PID-F', rows: 8, columns: 8 });
  const BULK_PREFIX = '1.2.826.0.1.3680043.10.17';

  beforeAll(async () => {
    system = await startSystem();
    viewer = system.urls.viewer ?? '';
    device = { kind: 'device', key: system.credentials.apiKey?.key ?? '' };
    const demoClinicId = system.credentials.clinics.find((c) => c.code === 'demo-clinic')?.id ?? '';
    otherClinicId = system.credentials.clinics.find((c) => c.code === 'other-clinic')?.id ?? '';
    const user = (role: string): { username: string; password: string } => {
      const u = system.credentials.users.find((x) => x.role === role);
      if (!u) throw new Error(`no demo ${role}`);
      return u;
    };
    radiologist = await signIn(viewer, user('radiologist').username, user('radiologist').password);
    const admin = await signIn(viewer, user('admin').username, user('admin').password);
    const created = await fetch(`${viewer}/api/admin/api-keys`, {
      method: 'POST',
      headers: { authorization: `Bearer ${admin.kind === 'user' ? admin.token : ''}`, 'content-type': 'application/json' },
      body: JSON.stringify({ clinicId: otherClinicId, name: 'other-uploader' }),
    });
    expect(created.status).toBe(201);
    const otherKey = ((await created.json()) as { key: string }).key;
    expect((await stow(system.urls.ingest ?? '', device.kind === 'device' ? device.key : '', mine.files)).status).toBe(200);
    expect((await stow(system.urls.ingest ?? '', otherKey, foreign.files)).status).toBe(200);
    // 150 catalog-only studies in the demo clinic, so that one answer discloses more than the audit lists.
    await system.pool.query(
      `WITH p AS (INSERT INTO patients (clinic_id, patient_key, patient_id, patient_name) VALUES ($1, 'id:BULK', 'BULK', 'BULK^PATIENT') RETURNING id)
       INSERT INTO studies (clinic_id, patient_ref, study_instance_uid, patient_name, patient_id, study_date, modalities, retain_until)
       SELECT $1, p.id, $2 || '.' || g, 'BULK^' || g, 'BULK', '20200101', '{US}', now() + interval '15 years' FROM p, generate_series(1, 150) g`,
      [demoClinicId, BULK_PREFIX],
    );
  }, 120_000);

  afterAll(async () => {
    await system?.stop();
  });

  async function newEvents<T>(action: () => Promise<T>): Promise<{ result: T; events: { event_type: string; outcome: number; clinic_id: string | null; study_instance_uid: string | null; actor_username: string; details: Record<string, unknown> }[] }> {
    const before = (await system.pool.query<{ seq: string }>('SELECT coalesce(max(seq), 0)::text AS seq FROM audit_events')).rows[0]?.seq ?? '0';
    const result = await action();
    const { rows } = await system.pool.query<{ event_type: string; outcome: number; clinic_id: string | null; study_instance_uid: string | null; actor_username: string; details: Record<string, unknown> }>(
      "SELECT event_type, outcome, clinic_id::text, study_instance_uid, actor_username, details FROM audit_events WHERE seq > $1 AND event_type IN ('Query', 'Security Alert') ORDER BY seq",
      [before],
    );
    return { result, events: rows };
  }

  it('records the study UIDs a QIDO answer disclosed, the first 100 listed and the count of all', async () => {
    const { result, events } = await newEvents(() => get(viewer, '/dicomweb/studies?PatientID=PID-M', device, 'application/dicom+json'));
    expect(result.status).toBe(200);
    expect(events).toHaveLength(1);
    expect(events[0]?.details).toMatchObject({ level: 'study', results: 1, studies: [mine.studyInstanceUid], studiesReturned: 1 });

    const bulk = await newEvents(() => get(viewer, '/dicomweb/studies?PatientID=BULK&limit=200', device, 'application/dicom+json'));
    expect(bulk.result.status).toBe(200);
    const details = bulk.events[0]?.details ?? {};
    expect(details.studiesReturned).toBe(150);
    expect(details.studiesNotListed).toBe(50);
    expect(details.studies).toHaveLength(100);
    expect((details.studies as string[]).every((uid) => uid.startsWith(`${BULK_PREFIX}.`))).toBe(true);
    // Never what was matched or returned beyond UIDs and counts.
    expect(JSON.stringify([...events, ...bulk.events])).not.toMatch(/AUDIT\^|PID-M|BULK\^/);
  });

  it("audits a read of another clinic's study as a Security Alert under that clinic; the caller sees a plain 404", async () => {
    for (const [who, path] of [
      [device, `/dicomweb/studies/${foreign.studyInstanceUid}/metadata`],
      [radiologist, `/dicomweb/studies/${foreign.studyInstanceUid}`],
      [device, `/dicomweb/studies/${foreign.studyInstanceUid}/series/${foreign.seriesInstanceUid}/instances/${foreign.sopInstanceUids[0]}/rendered`],
    ] as const) {
      const { result, events } = await newEvents(() => get(viewer, path, who));
      expect(result.status).toBe(404);
      const alerts = events.filter((e) => e.event_type === 'Security Alert');
      expect(alerts).toHaveLength(1);
      expect(alerts[0]).toMatchObject({ outcome: 4, clinic_id: otherClinicId, study_instance_uid: foreign.studyInstanceUid, details: { kind: 'access-refused', reason: 'other-clinic', resource: 'wado' } });
    }
    // QIDO scoped to the foreign study: an empty answer, and the alert.
    const scoped = await newEvents(() => get(viewer, `/dicomweb/studies/${foreign.studyInstanceUid}/series`, device, 'application/dicom+json'));
    expect([200, 204]).toContain(scoped.result.status);
    expect(scoped.events.filter((e) => e.event_type === 'Security Alert').map((e) => e.details)).toEqual([{ kind: 'access-refused', reason: 'other-clinic', resource: 'qido-series' }]);

    // A UID that exists nowhere: the same 404, and no alert (a miss, not a probe of anyone's data).
    const missing = await newEvents(() => get(viewer, '/dicomweb/studies/1.2.3.4.5.6.7.8.9/metadata', device));
    expect(missing.result.status).toBe(404);
    expect(missing.events.filter((e) => e.event_type === 'Security Alert')).toHaveLength(0);
    // The caller's own study is no alert either.
    const own = await newEvents(() => get(viewer, `/dicomweb/studies/${mine.studyInstanceUid}/metadata`, device));
    expect(own.result.status).toBe(200);
    expect(own.events.filter((e) => e.event_type === 'Security Alert')).toHaveLength(0);
  });
  it('audits a forged or revoked credential as a Security Alert, one per address and kind per minute', async () => {
    const forgedKey = { kind: 'device', key: 'yy_0123456789abcdef_notarealkeynotarealkeynotareal' } as const;
    const { result, events } = await newEvents(async () => {
      const statuses: number[] = [];
      for (let i = 0; i < 3; i += 1) statuses.push((await get(viewer, '/dicomweb/studies', forgedKey, 'application/dicom+json')).status);
      statuses.push((await get(viewer, '/dicomweb/studies', { kind: 'user', token: 'eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJ4In0.forged' }, 'application/dicom+json')).status);
      return statuses;
    });
    expect(result).toEqual([401, 401, 401, 401]);
    const alerts = events.filter((e) => e.event_type === 'Security Alert');
    expect(alerts.map((e) => e.details)).toEqual([
      { kind: 'bad-credential', credential: 'api-key', reason: 'API key invalid', refusedSinceLastAlert: 0 },
      { kind: 'bad-credential', credential: 'access-token', reason: 'Access token invalid', refusedSinceLastAlert: 0 },
    ]);
    expect(alerts.every((e) => e.outcome === 4 && e.actor_username === 'unknown')).toBe(true);
    // The presented secret is never recorded.
    expect(JSON.stringify(alerts)).not.toContain('notarealkey');
  });
  it("audits a JSON API request for another clinic's study the same way (after the 404 is sent)", async () => {
    const token = radiologist.kind === 'user' ? radiologist.token : '';
    const before = (await system.pool.query<{ seq: string }>('SELECT coalesce(max(seq), 0)::text AS seq FROM audit_events')).rows[0]?.seq ?? '0';
    const res = await fetch(`${viewer}/api/studies/${foreign.studyInstanceUid}/ai`, { headers: { authorization: `Bearer ${token}` } });
    expect(res.status).toBe(404);
    const own = await fetch(`${viewer}/api/studies/${mine.studyInstanceUid}/ai`, { headers: { authorization: `Bearer ${token}` } });
    expect([200, 404]).toContain(own.status);
    const alerts = await waitFor('the refused API access to be audited', async () => {
      const { rows } = await system.pool.query<{ clinic_id: string; study_instance_uid: string; details: Record<string, unknown> }>(
        "SELECT clinic_id::text, study_instance_uid, details FROM audit_events WHERE seq > $1 AND event_type = 'Security Alert' AND details->>'resource' = 'api'",
        [before],
      );
      return rows.length > 0 ? rows : undefined;
    });
    expect(alerts).toEqual([{ clinic_id: otherClinicId, study_instance_uid: foreign.studyInstanceUid, details: { kind: 'access-refused', reason: 'other-clinic', resource: 'api' } }]);
  });
});
