import Queue from 'bull';
import { makeInstance, makeStudy, newUid } from '@yunying/dicom/testing';
import { startSystem, stow, type RunningSystem } from '../support/system';
import { expectedPriority, nodulePattern, results, shippedManifest, studyRow, waitFor, type ResultRow } from './triage.support';

/**
 * #5 over the real system (launcher process, Postgres, Redis, fs replicas): STOW-RS -> stable study ->
 * triage with the ONNX model -> ai_results + reading priority + an SR written back through the
 * three-copy path; late arrivals re-run; no ultrasound -> not triaged; corrupt pixels -> failed once.
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
  const resultFor = (studyUid: string, count: number): Promise<ResultRow> =>
    waitFor(`result of ${count} instance(s)`, async () => (await results(system.pool, studyUid)).find((r) => r.instance_count === count));

  it('triages an ultrasound study: result with model identity, per-image boxes, priority and an SR in three copies', async () => {
    const studyUid = newUid();
    const gray = makeStudy(1, { studyInstanceUid: studyUid, rows: 140, columns: 180, pixelPattern: nodulePattern(90, 75, 28, 20, { border: 12 }) });
    const rgb = makeInstance({ studyInstanceUid: studyUid, photometric: 'RGB', rows: 120, columns: 150, pixelPattern: nodulePattern(70, 60, 22, 16) });
    const cine = makeInstance({
      studyInstanceUid: studyUid,
      frames: 3,
      rows: 100,
      columns: 120,
      sequenceOfUltrasoundRegions: true,
      pixelPattern: nodulePattern(55, 55, 18, 14, { frameShift: 3 }),
    });
    const sent = await stow(ingest(), apiKey, [...gray.files, rgb, cine], studyUid);
    expect(sent.status).toBe(200);

    const result = await resultFor(studyUid, 3);
    expect(result.status).toBe('triaged');
    expect(result.model_id).toBe(manifest.id);
    expect(result.model_version).toBe(manifest.version);
    expect(result.model_sha256).toBe(manifest.sha256);
    expect(result.thresholds.triage.value).toBe(manifest.triage);
    expect(result.thresholds.urgent.value).toBe(manifest.urgent);
    expect(result.score).toBeGreaterThanOrEqual(0);
    expect(result.score).toBeLessThanOrEqual(1);
    const score = result.score ?? -1;
    expect(result.priority).toBe(expectedPriority(score, manifest));
    expect(result.timings.stableToResultSeconds).toEqual(expect.any(Number));

    // Per image, most suspicious first; the study score is the first image's; each has a box and frame.
    expect(result.images).toHaveLength(3);
    expect(result.images.map((i) => i.status)).toEqual(['scored', 'scored', 'scored']);
    expect(Number(result.images[0]?.score)).toBeCloseTo(score, 5);
    const scores = result.images.map((i) => Number(i.score));
    expect([...scores].sort((a, b) => b - a)).toEqual(scores);
    for (const image of result.images) {
      const box = image.box as { x: number; y: number; width: number; height: number };
      expect(box.width).toBeGreaterThan(0);
      expect(box.x + box.width).toBeLessThanOrEqual(Number(image.columns));
      expect(image.descriptors).toHaveLength(12);
      expect(image.frameNumber).toBeGreaterThanOrEqual(1);
    }
    const cineEntry = result.images.find((i) => i.numberOfFrames === 3);
    expect((cineEntry?.region as { source: string }).source).toBe('sequence_of_ultrasound_regions');
    expect(cineEntry?.frameScores).toHaveLength(3);
    const grayEntry = result.images.find((i) => i.sopInstanceUid === gray.sopInstanceUids[0]);
    // The heuristic region drops the text banner (rows 0-9) and the black left border (12 columns).
    expect(grayEntry?.region).toMatchObject({ source: 'heuristic', x: 12, y: 10 });
    // The located nodule overlaps the drawn one (centre 90,75).
    const gbox = grayEntry?.box as { x: number; y: number; width: number; height: number };
    expect(gbox.x).toBeLessThan(90);
    expect(gbox.x + gbox.width).toBeGreaterThan(90);
    expect(gbox.y).toBeLessThan(75);
    expect(gbox.y + gbox.height).toBeGreaterThan(75);

    // The study's reading priority follows the result.
    const study = await studyRow(system.pool, studyUid);
    expect(study.priority).toBe(result.priority);
    expect(study.triage_status).toBe('triaged');
    expect(study.reading_status).toBe('triaged');
    expect(study.ai_result_ref).toBe(result.id);

    // The SR is in the archive: same study, Modality SR, three verified copies.
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
    const late = makeInstance({ studyInstanceUid: studyUid, rows: 120, columns: 120, pixelPattern: nodulePattern(60, 60, 20, 20) });
    expect((await stow(ingest(), apiKey, [late], studyUid)).status).toBe(200);
    const second = await resultFor(studyUid, 4);
    expect(second.status).toBe('triaged');
    expect(second.images).toHaveLength(4);
    await waitFor('second SR', async () => ((await results(system.pool, studyUid)).find((r) => r.instance_count === 4)?.sr_sop_instance_uid ? true : undefined));
    const all = await results(system.pool, studyUid);
    expect(all.map((r) => r.instance_count)).toEqual([3, 4]);
    expect((await studyRow(system.pool, studyUid)).ai_result_ref).toBe(second.id);
  }, 180_000);

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
