import type { AiResultsView } from '@yunying/nodule-model';
import { startSystem, type RunningSystem } from '../support/system';
import { settledResult, shippedManifest, type ResultRow } from '../triage/triage.support';
import { call, clinicId, createDeviceKey, createRadiologist, demoPassword, signIn, uploadStudies } from './reading.support';

interface Version {
  id: string;
  version: number;
  kind: string;
  status: string;
  tiradsCategory: string | null;
  findings: string;
  impression: string;
  aiResultRef: string | null;
  aiSuggestionAccepted: boolean | null;
  author: { userId: string; username: string | null };
  signedAt: string | null;
}
interface StudyReport {
  studyInstanceUid: string;
  versions: Version[];
}

/**
 * #6 reports over the real system: draft by the claim holder, signing makes it immutable (in code and in
 * the database), corrections are addenda, the clinic sees signed versions only, and the AI suggestion is
 * shown beside the report but never written into it.
 */
describe('reports (system)', () => {
  let system: RunningSystem;
  let viewer: string;
  let reader: string;
  let readerId: string;
  let clinicUser: string;
  let colleague: { id: string; token: string; password: string };
  let study: string;
  let secondStudy: string;
  let otherStudy: string;
  let aiResult: ResultRow;
  let aiResultId: string;
  let otherAiResultId: string;

  const report = (token: string, uid: string): Promise<{ status: number; body: StudyReport }> => call<StudyReport>(viewer, 'GET', `/api/studies/${uid}/report`, token);

  beforeAll(async () => {
    // The real triage (a one-second quiet period) writes the AI results the reports refer to.
    system = await startSystem({ env: { TRIAGE_QUIET_SECONDS: '1', TRIAGE_CONCURRENCY: '1' } });
    viewer = system.urls.viewer ?? '';
    const demoClinic = clinicId(system, 'demo-clinic');
    const admin = await signIn(viewer, 'admin', demoPassword(system, 'admin'));
    reader = await signIn(viewer, 'radiologist', demoPassword(system, 'radiologist'));
    readerId = String((await call(viewer, 'GET', '/api/auth/me', reader)).body.userId);
    clinicUser = await signIn(viewer, 'clinic', demoPassword(system, 'clinic'));
    colleague = await createRadiologist(viewer, admin, 'colleague', [demoClinic]);
    [study = '', secondStudy = ''] = await uploadStudies(system, system.credentials.apiKey?.key ?? '', [{ nodule: true }, { nodule: true }]);
    [otherStudy = ''] = await uploadStudies(system, await createDeviceKey(viewer, admin, clinicId(system, 'other-clinic')), [{}]);
    // Triage found the nodule in both studies; their results are the model's own.
    [aiResult, { id: otherAiResultId }] = await Promise.all([settledResult(system.pool, study), settledResult(system.pool, secondStudy)]);
    aiResultId = aiResult.id;
  }, 240_000);
  afterAll(async () => {
    await system?.stop();
  });

  it('shows the AI result to the reader, marked current', async () => {
    const res = await call<AiResultsView>(viewer, 'GET', `/api/studies/${study}/ai`, reader);
    expect(res.status).toBe(200);
    expect(res.body.studyInstanceUid).toBe(study);
    expect(res.body.results).toHaveLength(1);
    expect(aiResult.status).toBe('triaged');
    expect(res.body.results[0]).toMatchObject({ id: aiResultId, current: true, category: aiResult.category, model: { id: shippedManifest().id } });
    expect(res.body.results[0]?.score).toBeCloseTo(aiResult.score ?? -1, 5);
    // Every member of the wire view is the stored row's (the documents as triage wrote them).
    expect(res.body.results[0]).toMatchObject({
      model: { id: aiResult.model_id, version: aiResult.model_version, sha256: aiResult.model_sha256 },
      instanceCount: aiResult.instance_count,
      status: aiResult.status,
      reason: aiResult.reason,
      priority: aiResult.priority,
      thresholds: aiResult.thresholds,
      images: aiResult.images,
      gate: aiResult.gate,
      timings: aiResult.timings,
    });
    expect(Number.isNaN(Date.parse(res.body.results[0]?.createdAt ?? ''))).toBe(false);
    expect((await call(viewer, 'GET', `/api/studies/${study}/ai`, clinicUser)).status).toBe(403);
  });

  it('lets only the claim holder write the draft, and never fills in the AI suggestion', async () => {
    const content = { findings: 'Solid hypoechoic nodule, 12 mm, right lobe.', impression: 'Suspicious nodule; FNA advised.', aiResultRef: aiResultId, aiSuggestionAccepted: false };
    expect((await call(viewer, 'PUT', `/api/studies/${study}/report/draft`, reader, content)).status).toBe(409);
    expect((await call(viewer, 'POST', `/api/queue/${study}/claim`, reader)).status).toBe(200);
    expect((await call(viewer, 'PUT', `/api/studies/${study}/report/draft`, colleague.token, content)).status).toBe(409);

    const saved = await call<Version>(viewer, 'PUT', `/api/studies/${study}/report/draft`, reader, content);
    expect(saved.status).toBe(200);
    expect(saved.body).toMatchObject({ version: 1, kind: 'report', status: 'draft', tiradsCategory: null, aiResultRef: aiResultId, aiSuggestionAccepted: false, signedAt: null });
    const row = await system.pool.query('SELECT tirads_category, ai_suggestion_accepted FROM reports r JOIN studies s ON s.id = r.study_ref WHERE s.study_instance_uid = $1', [study]);
    expect(row.rows).toEqual([{ tirads_category: null, ai_suggestion_accepted: false }]);

    // Replacing the draft keeps one version 1.
    const again = await call<Version>(viewer, 'PUT', `/api/studies/${study}/report/draft`, reader, { ...content, impression: 'Suspicious nodule.' });
    expect(again.body).toMatchObject({ version: 1, status: 'draft', impression: 'Suspicious nodule.', tiradsCategory: null });

    // Bad bodies: an unknown category, a choice without a result, an AI result of another study.
    expect((await call(viewer, 'PUT', `/api/studies/${study}/report/draft`, reader, { tiradsCategory: 'TR9' })).status).toBe(400);
    expect((await call(viewer, 'PUT', `/api/studies/${study}/report/draft`, reader, { aiSuggestionAccepted: true })).status).toBe(400);
    expect((await call(viewer, 'PUT', `/api/studies/${study}/report/draft`, reader, { aiResultRef: otherAiResultId })).status).toBe(400);
  });

  it('hides drafts from the clinic and shows them to readers', async () => {
    const forClinic = await report(clinicUser, study);
    expect(forClinic).toEqual({ status: 200, body: { studyInstanceUid: study, tiradsSystem: 'acr-2017', versions: [] } });
    const forReader = await report(colleague.token, study);
    expect(forReader.body.versions.map((v) => v.status)).toEqual(['draft']);
    const list = await call<{ items: { studyInstanceUid: string; status: string; signedReport: boolean }[] }>(viewer, 'GET', '/api/clinic/studies', clinicUser);
    expect(list.body.items.find((i) => i.studyInstanceUid === study)).toMatchObject({ status: 'in_reading', signedReport: false });
  });

  it('signs: the report becomes immutable, the study reported and unclaimed', async () => {
    expect((await call(viewer, 'POST', `/api/studies/${study}/report/sign`, colleague.token)).status).toBe(409);
    // Re-authentication before signing (#20): without the password the report stays a draft.
    expect((await call(viewer, 'POST', `/api/studies/${study}/report/sign`, reader)).status).toBe(403);
    const signed = await call<Version>(viewer, 'POST', `/api/studies/${study}/report/sign`, reader, { password: demoPassword(system, 'radiologist') });
    expect(signed.status).toBe(200);
    expect(signed.body).toMatchObject({ version: 1, status: 'signed', tiradsCategory: null, author: { userId: readerId } });
    expect(signed.body.signedAt).not.toBeNull();
    const studyRow = await system.pool.query('SELECT reading_status, claimed_by FROM studies WHERE study_instance_uid = $1', [study]);
    expect(studyRow.rows[0]).toEqual({ reading_status: 'reported', claimed_by: null });

    expect((await call(viewer, 'PUT', `/api/studies/${study}/report/draft`, reader, { impression: 'changed' })).status).toBe(409);
    expect((await call(viewer, 'POST', `/api/studies/${study}/report/sign`, reader)).status).toBe(409);
    expect((await call(viewer, 'POST', `/api/queue/${study}/claim`, reader)).status).toBe(409);

    // The database itself refuses to change or remove the signed row, whoever asks.
    await expect(
      system.pool.query("UPDATE reports SET impression = 'tampered' WHERE study_ref = (SELECT id FROM studies WHERE study_instance_uid = $1)", [study]),
    ).rejects.toMatchObject({ code: 'YY601' });
    await expect(system.pool.query('DELETE FROM reports WHERE study_ref = (SELECT id FROM studies WHERE study_instance_uid = $1)', [study])).rejects.toMatchObject({
      code: 'YY601',
    });
    const kept = await report(reader, study);
    expect(kept.body.versions[0]?.impression).toBe('Suspicious nodule.');
  });

  it('corrects with an addendum: a new signed version, both kept, visible to the clinic', async () => {
    const addendum = await call<Version>(viewer, 'POST', `/api/studies/${study}/report/addendum`, colleague.token, {
      tiradsCategory: 'TR4',
      impression: 'Addendum: TI-RADS TR4 after review.',
      aiResultRef: aiResultId,
      aiSuggestionAccepted: true,
      password: colleague.password,
    });
    expect(addendum.status).toBe(201);
    expect(addendum.body).toMatchObject({ version: 2, kind: 'addendum', status: 'signed', tiradsCategory: 'TR4', aiSuggestionAccepted: true, author: { userId: colleague.id } });
    expect((await call(viewer, 'POST', `/api/studies/${study}/report/addendum`, reader, {})).status).toBe(422);

    const forClinic = await report(clinicUser, study);
    expect(forClinic.status).toBe(200);
    expect(forClinic.body.versions.map((v) => [v.version, v.kind, v.status, v.tiradsCategory])).toEqual([
      [1, 'report', 'signed', null],
      [2, 'addendum', 'signed', 'TR4'],
    ]);
    expect(forClinic.body.versions[0]?.impression).toBe('Suspicious nodule.');
    const list = await call<{ items: { studyInstanceUid: string; status: string; signedReport: boolean; signedVersions: number }[] }>(viewer, 'GET', '/api/clinic/studies?limit=1', clinicUser);
    expect(list.status).toBe(200);
    expect(list.body.items).toHaveLength(1);
  });

  it('refuses an addendum before the report is signed', async () => {
    expect((await call(viewer, 'POST', `/api/queue/${secondStudy}/claim`, reader)).status).toBe(200);
    expect((await call(viewer, 'PUT', `/api/studies/${secondStudy}/report/draft`, reader, { impression: 'Draft only.' })).status).toBe(200);
    expect((await call(viewer, 'POST', `/api/studies/${secondStudy}/report/addendum`, reader, { impression: 'x' })).status).toBe(409);
    expect((await report(clinicUser, secondStudy)).body.versions).toEqual([]);
  });

  it('pages the clinic list and reports which studies have a signed report', async () => {
    const seen: { studyInstanceUid: string; status: string; signedReport: boolean }[] = [];
    let cursor: string | null = null;
    do {
      const page: { status: number; body: { items: typeof seen; nextCursor: string | null } } = await call(viewer, 'GET', `/api/clinic/studies?limit=1${cursor ? `&cursor=${cursor}` : ''}`, clinicUser);
      expect(page.status).toBe(200);
      seen.push(...page.body.items);
      cursor = page.body.nextCursor;
    } while (cursor !== null);
    expect(seen.map((s) => s.studyInstanceUid).sort()).toEqual([study, secondStudy].sort());
    expect(seen.find((s) => s.studyInstanceUid === study)).toMatchObject({ status: 'reported', signedReport: true });
    expect(seen.find((s) => s.studyInstanceUid === secondStudy)).toMatchObject({ status: 'in_reading', signedReport: false });
  });

  it("keeps another clinic's study out of reach: 404 for reports, AI results and writes", async () => {
    for (const [method, path, body] of [
      ['GET', `/api/studies/${otherStudy}/report`, undefined],
      ['GET', `/api/studies/${otherStudy}/ai`, undefined],
      ['PUT', `/api/studies/${otherStudy}/report/draft`, { impression: 'x' }],
      ['POST', `/api/studies/${otherStudy}/report/sign`, {}],
      ['POST', `/api/studies/${otherStudy}/report/addendum`, { impression: 'x' }],
    ] as const) {
      expect([method, path, (await call(viewer, method, path, reader, body)).status]).toEqual([method, path, 404]);
    }
    expect((await report(clinicUser, otherStudy)).status).toBe(404);
  });

  it('audits report reads and writes without patient data', async () => {
    const events = await system.pool.query("SELECT event_type, action, actor_username, details FROM audit_events WHERE details->>'what' = 'report' AND study_instance_uid = $1 ORDER BY seq", [study]);
    const summary = events.rows.map((e) => `${e.actor_username}:${e.action}:${e.details.status ?? 'read'}`);
    expect(summary).toEqual(expect.arrayContaining(['radiologist:C:draft', 'radiologist:U:draft', 'radiologist:U:signed', 'colleague:C:signed', 'clinic:R:read']));
    expect(JSON.stringify(events.rows)).not.toMatch(/Patient|nodule/i);
  });
});
