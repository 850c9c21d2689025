import Queue from 'bull';
import { makeInstance, makeStudy, newUid } from '@yunying/dicom/testing';
import path from 'node:path';
import { trLevel } from '@yunying/nodule-model';
import { recordSkip, sharedDataDir } from '../support/skip';
import { startSystem, stow, type RunningSystem } from '../support/system';
import { call, demoPassword, signIn } from '../reading/reading.support';
import { expectedPriority, frameInstance, results, shippedManifest, studyRow, waitFor, type ResultRow } from './triage.support';

interface Nodule {
  source: string;
  score: number;
  box: { x: number; y: number; width: number; height: number };
  outline: [number, number][];
  lexicon: { item: string; code: string; points: number }[];
  tiradsPoints: number;
  trLevel: string;
}

/** ACR's total for a nodule's categories: their points' sum, or 0 when spongiform (the chart's footnote). */
function chartPoints(lexicon: Nodule['lexicon']): number {
  return lexicon.some((l) => l.item === 'composition' && l.code === 'spongiform') ? 0 : lexicon.reduce((sum, l) => sum + l.points, 0);
}

/**
 * #5/#13 over the real system (launcher process, Postgres, Redis, fs replicas): STOW-RS -> stable study ->
 * the served triage (scope gate, nodule finder, ACR lexicon heads) on real whole frames -> ai_results +
 * reading priority + an SR written back through the three-copy path; late arrivals re-run; non-thyroid
 * ultrasound and a study naming another body part -> not triaged; reader-guided scoring; no ultrasound
 * -> not triaged; corrupt pixels -> failed once.
 */
describe('triage of stable studies (system)', () => {
  let system: RunningSystem;
  let apiKey: string;
  const manifest = shippedManifest();

  beforeAll(async () => {
    system = await startSystem({ env: { TRIAGE_QUIET_SECONDS: '1', TRIAGE_CONCURRENCY: '1' } });
    apiKey = system.credentials.apiKey?.key ?? '';
  }, 120_000);
  afterAll(async () => {
    await system?.stop();
  });

  const ingest = (): string => system.urls.ingest ?? '';
  const viewer = (): string => system.urls.viewer ?? '';
  // The result and the study's queue fields are written one after the other (insertAiResult, then applyAiResultToStudy):
  // wait for both, so the study row read next is the one this result made.
  const resultFor = (studyUid: string, count: number): Promise<ResultRow> =>
    waitFor(`result of ${count} instance(s) on the study`, async () => {
      const result = (await results(system.pool, studyUid)).find((r) => r.instance_count === count);
      return result && (await studyRow(system.pool, studyUid)).ai_result_ref === result.id ? result : undefined;
    });

  // Whole DDTI frames (a thyroid case with a suspicious nodule) and non-thyroid ultrasound from the shared data.
  const THYROID_FRAMES = ['images/296_1.jpg', 'images/296_2.jpg', 'images/296_3.jpg'];
  const OTHER_FRAMES = ['images/tte47-echo/25_plax-full-la.png', 'images/hc18/072_HC.png'];
  const ddti = sharedDataDir('thyroid/ddti-frames');
  const others = sharedDataDir('ultrasound-other');
  const withData = ddti && others ? it : it.skip;
  if (!ddti || !others) recordSkip('triage of real frames (system)', 'shared data folders thyroid/ddti-frames and ultrasound-other are absent');

  withData('triages a thyroid study from whole frames: nodules with ACR categories, points and TR level, priority, SR in three copies, late arrival', async () => {
    const studyUid = newUid();
    const files = await Promise.all(THYROID_FRAMES.slice(0, 2).map((f) => frameInstance(path.join(ddti ?? '', f), { studyInstanceUid: studyUid })));
    expect((await stow(ingest(), apiKey, files, studyUid)).status).toBe(200);

    const result = await resultFor(studyUid, 2);
    expect(result.status).toBe('triaged');
    expect(result.model_id).toBe(manifest.id);
    expect(result.model_version).toBe(manifest.version);
    expect(result.model_sha256).toBe(manifest.sha256);
    expect(result.thresholds.triage.value).toBe(manifest.triage);
    expect(result.thresholds.urgent.value).toBe(manifest.urgent);
    // No body part in the attributes: the image half of the gate admitted the study.
    expect(result.gate).toMatchObject({ decidedBy: 'image', threshold: manifest.gate });
    expect(Number((result.gate as { thyroid: number }).thyroid)).toBeGreaterThanOrEqual(manifest.gate);
    const score = result.score ?? -1;
    expect(score).toBeGreaterThan(0);
    expect(score).toBeLessThan(1);
    expect(result.priority).toBe(expectedPriority(score, manifest));

    // Per image, most suspicious first; the study score is the top nodule of the first image.
    expect(result.images).toHaveLength(2);
    const top = result.images[0] as { status: string; score: number; columns: number; rows: number; nodules: Nodule[] };
    expect(top.status).toBe('scored');
    expect(top.score).toBeCloseTo(score, 5);
    const nodule = top.nodules[0] as Nodule;
    expect(nodule.score).toBeCloseTo(score, 5);
    expect(nodule.source).toBe('auto');
    expect(nodule.box.width).toBeGreaterThan(0);
    expect(nodule.box.x + nodule.box.width).toBeLessThanOrEqual(top.columns);
    expect(nodule.box.y + nodule.box.height).toBeLessThanOrEqual(top.rows);
    expect(nodule.outline.length).toBeGreaterThanOrEqual(3);
    expect(nodule.lexicon.map((l) => l.item)).toEqual(['composition', 'echogenicity', 'shape', 'margin', 'echogenicFoci']);
    expect(nodule.tiradsPoints).toBe(chartPoints(nodule.lexicon));
    expect(nodule.trLevel).toBe(trLevel(nodule.tiradsPoints));

    const study = await studyRow(system.pool, studyUid);
    expect(study.priority).toBe(result.priority);
    expect(study.triage_status).toBe('triaged');
    expect(study.reading_status).toBe('triaged');
    expect(study.ai_result_ref).toBe(result.id);

    // The SR is in the archive: same study, Modality SR, three verified copies, written by the inference role.
    const srUid = await waitFor('SR uid', async () => (await results(system.pool, studyUid))[0]?.sr_sop_instance_uid ?? undefined);
    const sr = await system.pool.query(
      `SELECT i.sop_class_uid, se.modality, i.sha256 FROM instances i JOIN series se ON se.id = i.series_ref JOIN studies s ON s.id = i.study_ref
        WHERE i.sop_instance_uid = $1 AND s.study_instance_uid = $2`,
      [srUid, studyUid],
    );
    expect(sr.rows).toHaveLength(1);
    expect(sr.rows[0].sop_class_uid).toBe('1.2.840.10008.5.1.4.1.1.88.33');
    expect(sr.rows[0].modality).toBe('SR');
    const copies = await system.pool.query("SELECT target FROM copies WHERE sha256 = $1 AND state = 'ok' ORDER BY target", [sr.rows[0].sha256]);
    expect(copies.rows.map((c) => c.target)).toEqual(['fs-1', 'fs-2', 'fs-3']);
    const audit = await system.pool.query("SELECT actor_username FROM audit_events WHERE study_instance_uid = $1 AND details->>'sopInstanceUid' = $2", [studyUid, srUid]);
    expect(audit.rows.map((r) => r.actor_username)).toContain('service:inference');

    // A late arrival re-runs triage for the new instance count; the SR arrival itself never does.
    const late = await frameInstance(path.join(ddti ?? '', THYROID_FRAMES[2] ?? ''), { studyInstanceUid: studyUid });
    expect((await stow(ingest(), apiKey, [late], studyUid)).status).toBe(200);
    const second = await resultFor(studyUid, 3);
    expect(['triaged', 'no_nodule_found']).toContain(second.status);
    expect(second.images).toHaveLength(3);
    const all = await results(system.pool, studyUid);
    // On a loaded machine the quiet period can pass between the two instances of one STOW: a result for
    // the first instance alone is then stored too (and superseded), which is correct, so only the tail is fixed.
    expect(all.map((r) => r.instance_count).slice(-2)).toEqual([2, 3]);
    expect((await studyRow(system.pool, studyUid)).ai_result_ref).toBe(second.id);

    // Reader-guided scoring: the reader boxes the nodule on the first image and gets its categories.
    const reader = await signIn(viewer(), 'radiologist', demoPassword(system, 'radiologist'));
    const sop = (result.images[0] as { sopInstanceUid: string }).sopInstanceUid;
    const asked = await call<{ finding: Nodule; level: string; id: string }>(viewer(), 'POST', `/api/studies/${studyUid}/ai/nodules`, reader, { sopInstanceUid: sop, frameNumber: 1, box: nodule.box });
    expect(asked.status).toBe(201);
    expect(asked.body.finding.source).toBe('reader');
    expect(asked.body.finding.lexicon).toHaveLength(5);
    expect(asked.body.finding.tiradsPoints).toBe(chartPoints(asked.body.finding.lexicon));
    const listed = await call<{ results: { id: string }[] }>(viewer(), 'GET', `/api/studies/${studyUid}/ai/nodules`, reader);
    expect(listed.body.results.map((r) => r.id)).toEqual([asked.body.id]);
    const trail = await system.pool.query("SELECT action FROM audit_events WHERE study_instance_uid = $1 AND details->>'what' = 'reader-ai-nodule'", [studyUid]);
    expect(trail.rows).toEqual([{ action: 'C' }]);
    // A box off the image is refused with a reason; the automatic triage is untouched.
    const off = await call<{ detail?: string }>(viewer(), 'POST', `/api/studies/${studyUid}/ai/nodules`, reader, { sopInstanceUid: sop, frameNumber: 1, box: { x: 5000, y: 5000, width: 40, height: 40 } });
    expect(off.status).toBe(422);
    expect((await studyRow(system.pool, studyUid)).ai_result_ref).toBe(second.id);
  }, 240_000);

  withData('keeps non-thyroid ultrasound out of the queue order: not_triaged with a reason, by the image or by the attributes', async () => {
    for (const f of OTHER_FRAMES) {
      const uid = newUid();
      expect((await stow(ingest(), apiKey, [await frameInstance(path.join(others ?? '', f), { studyInstanceUid: uid })], uid)).status).toBe(200);
      const result = await resultFor(uid, 1);
      expect(result.status).toBe('not_triaged');
      expect(result.reason).toMatch(/do not look like a B-mode thyroid ultrasound|colour-Doppler/);
      expect(result.score).toBeNull();
      expect(result.sr_sop_instance_uid).toBeNull();
      expect((await studyRow(system.pool, uid)).priority).toBe('routine');
    }
    // A real thyroid frame sent as a breast study: the attributes decide before the pixels.
    const uid = newUid();
    const breast = await frameInstance(path.join(ddti ?? '', THYROID_FRAMES[0] ?? ''), { studyInstanceUid: uid, extra: { BodyPartExamined: 'BREAST' } });
    expect((await stow(ingest(), apiKey, [breast], uid)).status).toBe(200);
    const result = await resultFor(uid, 1);
    expect(result.status).toBe('not_triaged');
    expect(result.reason).toMatch(/BodyPartExamined names another body part \(breast\)/);
    expect(result.gate).toMatchObject({ decidedBy: 'attributes' });
    expect((await studyRow(system.pool, uid)).triage_status).toBe('not_triaged');
  }, 180_000);

  it('lets a clinic map its own protocol name to the thyroid scope (admin, audited), ahead of the image gate', async () => {
    const admin = await signIn(viewer(), 'admin', demoPassword(system, 'admin'));
    const clinic = system.credentials.clinics.find((c) => c.code === 'demo-clinic')?.id ?? '';
    const put = await call(viewer(), 'PUT', `/api/admin/clinics/${clinic}/triage-scope-rules`, admin, { rules: [{ pattern: 'PROTO-7', scope: 'thyroid' }] });
    expect(put.status).toBe(200);
    const bad = await call(viewer(), 'PUT', `/api/admin/clinics/${clinic}/triage-scope-rules`, admin, { rules: [{ pattern: 'x', scope: 'liver' }] });
    expect(bad.status).toBe(400);
    const audited = await system.pool.query("SELECT event_type FROM audit_events WHERE details->>'what' = 'triage-scope-rules' AND clinic_id = $1", [clinic]);
    expect(audited.rows).toEqual([{ event_type: 'Security Alert' }]);

    // Synthetic frames the image gate would not admit; the clinic's protocol name does.
    const uid = newUid();
    const file = makeInstance({ studyInstanceUid: uid, rows: 120, columns: 160, studyDescription: 'proto-7 small parts', seriesDescription: '', extra: { BodyPartExamined: null } });
    expect((await stow(ingest(), apiKey, [file], uid)).status).toBe(200);
    const result = await resultFor(uid, 1);
    expect(['triaged', 'no_nodule_found']).toContain(result.status);
    expect(result.gate).toMatchObject({ decidedBy: 'attributes', evidence: 'clinic mapping "PROTO-7"' });
    await call(viewer(), 'PUT', `/api/admin/clinics/${clinic}/triage-scope-rules`, admin, { rules: [] });
  }, 120_000);

  it('gives a study without ultrasound a not-triaged result with the reason and keeps routine priority', async () => {
    const ct = makeStudy(1, { modality: 'CT', sopClassUid: '1.2.840.10008.5.1.4.1.1.2', rows: 32, columns: 32 });
    expect((await stow(ingest(), apiKey, ct.files, ct.studyInstanceUid)).status).toBe(200);
    const result = await resultFor(ct.studyInstanceUid, 1);
    expect(result.status).toBe('not_triaged');
    expect(result.reason).toMatch(/no ultrasound image.*CT/);
    expect(result.score).toBeNull();
    expect(result.images).toEqual([expect.objectContaining({ status: 'skipped', sopInstanceUid: ct.sopInstanceUids[0] })]);
    const study = await studyRow(system.pool, ct.studyInstanceUid);
    expect(study.priority).toBe('routine');
    expect(study.triage_status).toBe('not_triaged');
    expect(result.sr_sop_instance_uid).toBeNull();
  }, 120_000);

  it('fails a study with a corrupt pixel stream at once, with a readable reason and one attempt', async () => {
    const uid = newUid();
    const file = makeInstance({ studyInstanceUid: uid, transferSyntax: '1.2.840.10008.1.2.4.50', rows: 64, columns: 64 });
    // Garbage between SOI and EOI: the file still passes ingest validation, the codestream cannot decode.
    const soi = file.indexOf(Buffer.from([0xff, 0xd8, 0xff]));
    const eoi = file.lastIndexOf(Buffer.from([0xff, 0xd9]));
    for (let i = soi + 2; i < eoi; i++) file[i] = (i * 37) & 0xff;
    expect((await stow(ingest(), apiKey, [file], uid)).status).toBe(200);
    const result = await resultFor(uid, 1);
    expect(result.status).toBe('failed');
    expect(result.reason).toMatch(/not a JPEG codestream|could not|corrupt/i);
    expect((await studyRow(system.pool, uid)).triage_status).toBe('failed');
    expect((await studyRow(system.pool, uid)).priority).toBe('routine');

    const queue = new Queue('triage', system.env.REDIS_URL ?? '', { prefix: system.env.QUEUE_PREFIX });
    try {
      const job = await waitFor('failed job', async () => {
        const j = await queue.getJob(`triage:${uid}:${manifest.version}:1`);
        return j && (await j.isFailed()) ? j : undefined;
      });
      expect(job.attemptsMade).toBe(1);
      expect(job.failedReason).toBe(result.reason);
    } finally {
      await queue.close();
    }
  }, 120_000);
});
