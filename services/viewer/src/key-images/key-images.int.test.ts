import { execFile } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import request from 'supertest';
import sharp from 'sharp';
import type { TestCatalog } from '@yunying/catalog/testing';
import { createLogger } from '@yunying/core';
import { makeInstance, newUid } from '@yunying/dicom/testing';
import { naturalizedDataset } from '@yunying/dicom';
import { createMetricsRegistry, createServiceApp } from '@yunying/http';
import { AuditLog } from '@yunying/audit';
import type { ReplicatedStore } from '@yunying/storage';
import type { TempFsTargets } from '@yunying/storage/testing';
import { readingWorld, type ReadingWorld } from '../reading/reading.test-support';
import { shareRoutes, ShareService } from '../share';
import { keyImageRoutes } from './key-images.route';
import { KeyImageService } from './key-images.service';

const run = promisify(execFile);
const SECRET = 'keyimg-secret-keyimg-secret-keyimg-secret-0001';
const KOS = '1.2.840.10008.5.1.4.1.1.88.59';
/** Frame 1 dark, frame 2 bright, frame 3 mid grey, each with a little texture: which frame was drawn shows in the mean. */
const LEVELS = [30, 210, 120];
const cine = (frame: number, row: number, column: number): number => (LEVELS[frame] ?? 0) + ((row + column) % 8);

interface View {
  revision: number;
  title: string | null;
  images: { seriesInstanceUid: string; sopInstanceUid: string; sopClassUid: string; frameNumber: number | null }[];
  kos: { sopInstanceUid: string; stored: boolean } | null;
}

/**
 * Key images (#20) on real PostgreSQL, the real write path (three fs targets) and dcmtk: the reader's
 * marks are stored as a TID 2010 Key Object Selection document with three locked copies that dsrdump
 * reads; a share link shows exactly those frames, read back from the stored KOS, and falls back to the
 * first image of each series when nothing is marked.
 */
describe('key images as a DICOM KOS (real PostgreSQL, fs write path, dcmtk)', () => {
  let world: ReadingWorld;
  let catalog: TestCatalog;
  let storage: TempFsTargets;
  let store: ReplicatedStore;
  let app: ReturnType<typeof createServiceApp>;
  const tokens: Record<string, string> = {};
  const study = newUid();
  const cineSeries = newUid();
  const cineSop = newUid();
  const stillSeries = newUid();
  const stillSop = newUid();

  const as = (user: string) => ({ Authorization: `Bearer ${tokens[user] ?? ''}` });
  const save = (body: object, user = 'radiologist') => request(app).put(`/api/studies/${study}/key-images`).set(as(user)).send(body);
  const kosCount = async () =>
    (await catalog.pool.query<{ n: number }>(`SELECT count(*)::int AS n FROM instances i JOIN studies s ON s.id = i.study_ref WHERE s.study_instance_uid = $1 AND i.sop_class_uid = $2`, [study, KOS])).rows[0]?.n;
  const share = async (): Promise<string> => {
    const res = await request(app).post(`/api/studies/${study}/shares`).set(as('clinic')).send({});
    expect(res.status).toBe(201);
    return (res.body as { token: string }).token;
  };
  const shareView = async (token: string) => (await request(app).get('/api/share/view').set('Authorization', `Share ${token}`)).body as { keyImages: string; images: { number: number }[] };
  /** The mean grey of a share image as the JPEG decodes: tells frame 1, 2 and 3 apart. */
  const shareImageMean = async (token: string, n: number): Promise<number> => {
    const res = await request(app).get(`/api/share/images/${n}`).set('Authorization', `Share ${token}`).buffer(true);
    expect(res.status).toBe(200);
    const stats = await sharp(res.body as Buffer).greyscale().stats();
    return stats.channels[0]?.mean ?? -1;
  };

  beforeAll(async () => {
    world = await readingWorld('keyimages', SECRET);
    ({ catalog, storage, store } = world);
    const clinic = world.demo.clinics.find((c) => c.code === 'demo-clinic');
    if (!clinic) throw new Error('no demo clinic');
    const patient = { studyInstanceUid: study, modality: 'US', patientName: 'Key^Images', patientId: 'KEY-1' };
    for (const bytes of [
      makeInstance({ ...patient, seriesInstanceUid: cineSeries, sopInstanceUid: cineSop, seriesNumber: 1, rows: 48, columns: 64, frames: 3, pixelPattern: cine }),
      makeInstance({ ...patient, seriesInstanceUid: stillSeries, sopInstanceUid: stillSop, seriesNumber: 2, rows: 48, columns: 64, pixelPattern: (_f, r, c) => (LEVELS[2] ?? 0) + ((r + c) % 8) }),
    ]) {
      expect((await world.pipeline.ingest(bytes, { clinicId: clinic.id, actor: { username: 'test-device' }, sourceIp: '127.0.0.1', via: 'STOW-RS' })).status).toBe('stored');
    }
    for (const user of ['radiologist', 'clinic', 'auditor']) tokens[user] = (await world.auth.signIn(user, world.password(user))).accessToken;
    const logger = createLogger({ level: 'silent', service: 'keyimages-test' });
    app = createServiceApp({
      service: 'viewer',
      logger,
      metrics: createMetricsRegistry(),
      readiness: [],
      routes: [
        keyImageRoutes(new KeyImageService({ pool: catalog.pool, pipeline: world.pipeline, logger, audit: new AuditLog(catalog.pool) }), world.auth).router,
        shareRoutes(new ShareService(catalog.pool, store, new AuditLog(catalog.pool)), world.auth, { publicRequestsPerMinute: 1000 }).router,
      ],
    });
  }, 120_000);

  afterAll(async () => {
    await world?.close();
  });

  it('a share of a study without key images shows the first image of each series, and says so', async () => {
    const token = await share();
    expect(await shareView(token)).toMatchObject({ keyImages: 'first-of-series', images: [{ number: 1 }, { number: 2 }] });
    // Frame 1 of the cine (dark), then the still image (mid grey).
    expect(await shareImageMean(token, 1)).toBeLessThan(60);
    expect(Math.abs((await shareImageMean(token, 2)) - 123)).toBeLessThan(15);
  });

  it('refuses marks that are not images or frames of the study, and readers only may mark', async () => {
    expect((await save({ images: [{ sopInstanceUid: newUid(), frameNumber: null }] })).status).toBe(400);
    expect((await save({ images: [{ sopInstanceUid: cineSop, frameNumber: 4 }] })).status).toBe(400);
    expect((await save({ images: [{ sopInstanceUid: stillSop }] }, 'clinic')).status).toBe(403);
    expect((await request(app).put(`/api/studies/${newUid()}/key-images`).set(as('radiologist')).send({ images: [] })).status).toBe(404);
    expect(await kosCount()).toBe(0);
  });

  it('stores the marks as a TID 2010 KOS with three locked copies that dsrdump reads, frame numbers included', async () => {
    const res = await save({ title: 'for-referring-provider', images: [{ sopInstanceUid: cineSop, frameNumber: 2 }, { sopInstanceUid: stillSop, frameNumber: 1 }] });
    expect(res.status).toBe(200);
    const saved = res.body as View;
    expect(saved).toMatchObject({ revision: 1, title: 'for-referring-provider', kos: { stored: true } });
    expect(saved.images.map((i) => [i.sopInstanceUid, i.frameNumber])).toEqual([
      [cineSop, 2],
      [stillSop, null],
    ]);
    expect(await kosCount()).toBe(1);
    const { rows } = await catalog.pool.query<{ object_key: string; target: string; lock_mode: string; state: string; modality: string | null }>(
      `SELECT o.object_key, c.target, c.lock_mode, c.state, se.modality
         FROM instances i JOIN objects o ON o.sha256 = i.sha256 JOIN copies c ON c.sha256 = i.sha256 JOIN series se ON se.id = i.series_ref
        WHERE i.sop_instance_uid = $1 AND i.is_current ORDER BY c.target`,
      [saved.kos?.sopInstanceUid],
    );
    expect(rows.map((r) => [r.target, r.lock_mode, r.state, r.modality])).toEqual([
      ['fs-1', 'FS_READONLY', 'ok', 'KO'],
      ['fs-2', 'FS_READONLY', 'ok', 'KO'],
      ['fs-3', 'FS_READONLY', 'ok', 'KO'],
    ]);
    const bytes = await store.read(rows[0]?.object_key ?? '');
    const file = path.join(storage.dir, 'key-images.dcm');
    fs.writeFileSync(file, bytes);
    // dcmtk reads the document and checks the KOS IOD's relationship content constraints (an E:/W: line
    // on a violation). Allowed notes: its VR checker skips UTF-8 strings, and it names TID 2010 but does
    // not check template constraints (it says so for every KOS).
    const dump = await run('dsrdump', ['-v', '+Pt', '+Pn', '+Pu', '+Pc', file]);
    const allowed = ['VR checker does not support this Specific Character Set', 'Check for template constraints not yet supported'];
    const notes = dump.stderr.split('\n').filter((l) => l.trim() !== '' && !allowed.some((a) => l.includes(a)));
    if (process.env.KOS_DUMP) fs.writeFileSync(process.env.KOS_DUMP, dump.stdout);
    expect(notes).toEqual([]);
    expect(dump.stdout).toContain('Key Object Selection Document');
    expect(dump.stdout).toContain('# TID 2010 (DCMR)');
    expect(dump.stdout).toContain('(113002,DCM,"For Referring Provider")');
    expect(dump.stdout).toContain('Demo radiologist');
    // Each IMAGE item names its SOP class and instance; the cine's with frame 2.
    const images = dump.stdout.split('\n').filter((l) => l.includes('IMAGE:'));
    expect(images).toHaveLength(2);
    expect(images[0]).toContain(cineSop);
    expect(images[0]).toMatch(/,2\)>$/);
    expect(images[1]).toContain(stillSop);
    const kos = naturalizedDataset(bytes);
    expect([kos.SOPClassUID, kos.StudyInstanceUID, kos.PatientID, kos.Modality]).toEqual([KOS, study, 'KEY-1', 'KO']);
    expect(JSON.stringify(kos.CurrentRequestedProcedureEvidenceSequence)).toContain(cineSop);
    expect(JSON.stringify(kos.CurrentRequestedProcedureEvidenceSequence)).toContain(stillSop);
  });

  it('a share then shows exactly the marked frames, in the reader’s order, read back from the stored KOS', async () => {
    const token = await share();
    expect(await shareView(token)).toMatchObject({ keyImages: 'marked', images: [{ number: 1 }, { number: 2 }] });
    // Frame 2 of the cine is the bright one.
    expect(await shareImageMean(token, 1)).toBeGreaterThan(190);
    expect(Math.abs((await shareImageMean(token, 2)) - 123)).toBeLessThan(15);
  });

  it('saving the same selection stores nothing new; an unfinished store is finished with the same bytes', async () => {
    const again = await save({ title: 'for-referring-provider', images: [{ sopInstanceUid: cineSop, frameNumber: 2 }, { sopInstanceUid: stillSop, frameNumber: 1 }] });
    expect((again.body as View).revision).toBe(1);
    expect(await kosCount()).toBe(1);
    // As if the process died between the commit and the write path's acknowledgement.
    await catalog.pool.query('UPDATE key_image_selections SET kos_stored_at = NULL');
    const retried = await save({ title: 'for-referring-provider', images: [{ sopInstanceUid: cineSop, frameNumber: 2 }, { sopInstanceUid: stillSop, frameNumber: 1 }] });
    expect(retried.status).toBe(200);
    expect((retried.body as View).kos?.stored).toBe(true);
    expect(await kosCount()).toBe(1);
  });

  it('a new selection is a new KOS revision; clearing every mark sends a share back to the first images', async () => {
    const third = await save({ images: [{ sopInstanceUid: cineSop, frameNumber: 3 }] });
    expect(third.body as View).toMatchObject({ revision: 2, title: 'of-interest', kos: { stored: true } });
    expect(await kosCount()).toBe(2);
    const token = await share();
    expect(await shareView(token)).toMatchObject({ keyImages: 'marked', images: [{ number: 1 }] });
    expect(Math.abs((await shareImageMean(token, 1)) - 123)).toBeLessThan(15);

    const cleared = await save({ images: [] });
    expect(cleared.body as View).toMatchObject({ revision: 3, images: [], kos: null });
    expect(await kosCount()).toBe(2);
    expect(await shareView(token)).toMatchObject({ keyImages: 'first-of-series', images: [{ number: 1 }, { number: 2 }] });
    const current = await request(app).get(`/api/studies/${study}/key-images`).set(as('radiologist'));
    expect(current.body as View).toMatchObject({ revision: 3, images: [] });
    const audited = await catalog.pool.query<{ revision: string }>(
      `SELECT details->>'revision' AS revision FROM audit_events WHERE details->>'what' = 'key-images' AND action = 'C' ORDER BY seq`,
    );
    expect(audited.rows.map((r) => r.revision)).toEqual(['1', '2', '3']);
  });
});
