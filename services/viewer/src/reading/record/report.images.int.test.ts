import { execFile } from 'node:child_process';
import { AuditLog } from '@yunying/audit';
import fs from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import request from 'supertest';
import { storeTriagedResult, type TestCatalog } from '@yunying/catalog/testing';
import { createLogger } from '@yunying/core';
import { naturalizedDataset } from '@yunying/dicom';
import { makeInstance, newUid } from '@yunying/dicom/testing';
import { createMetricsRegistry, createServiceApp } from '@yunying/http';
import { scoredImage } from '@yunying/nodule-model/testing';
import { readingRouters } from '../index';
import { readingWorld, type ReadingWorld } from '../reading.test-support';

const run = promisify(execFile);
const SECRET = 'srimages-secret-srimages-secret-srimages-0001';
const reader = (code: string) => ({ code, source: 'reader', confirmed: true });
const ai = (code: string) => ({ code, source: 'ai', confirmed: true });

/**
 * Image references in the signed report SR (#20) through the reading API, the real write path and dcmtk:
 * a nodule the AI found names its image as the best illustration and its AI size is inferred from that
 * image; a long axis the reader measured with the caliper on frame 2 of a cine is inferred from a SCOORD
 * POLYLINE selected from that frame; a caliper on an instance the study does not hold is not referenced.
 */
describe('signed report SR image references (real PostgreSQL, fs write path, dsrdump)', () => {
  let world: ReadingWorld;
  let catalog: TestCatalog;
  let app: ReturnType<typeof createServiceApp>;
  let token = '';
  let password = '';
  const study = newUid();
  const cineSeries = newUid();
  const cineSop = newUid();
  const stillSeries = newUid();
  const stillSop = newUid();
  const foreignSop = newUid();
  let dump = '';
  let sr: Record<string, unknown> = {};

  beforeAll(async () => {
    world = await readingWorld('srimages', SECRET);
    catalog = world.catalog;
    const clinic = world.demo.clinics.find((c) => c.code === 'demo-clinic');
    if (!clinic) throw new Error('no demo clinic');
    const patient = { studyInstanceUid: study, modality: 'US', patientName: 'Image^Refs', patientId: 'IMG-1', rows: 48, columns: 64 };
    for (const bytes of [
      makeInstance({ ...patient, seriesInstanceUid: cineSeries, sopInstanceUid: cineSop, frames: 3 }),
      makeInstance({ ...patient, seriesInstanceUid: stillSeries, sopInstanceUid: stillSop }),
    ]) {
      expect((await world.pipeline.ingest(bytes, { clinicId: clinic.id, actor: { username: 'test-device' }, sourceIp: '127.0.0.1', via: 'STOW-RS' })).status).toBe('stored');
    }
    // The AI result the first nodule was prefilled from, as the triage stores it: a nodule on the still image.
    const aiImage = scoredImage({
      sopInstanceUid: stillSop,
      seriesInstanceUid: stillSeries,
      rows: 48,
      columns: 64,
      nodules: [{ codes: { composition: 'solid', echogenicity: 'hypo', shape: 'wider', margin: 'smooth', echogenicFoci: 'none' }, box: { x: 20, y: 10, width: 24, height: 18 }, sizeMm: { long: 12, short: 9 } }],
    });
    const aiResultId = await storeTriagedResult(catalog.pool, study, { instanceCount: 2, images: [aiImage] });
    password = world.password('radiologist');
    token = (await world.auth.signIn('radiologist', password)).accessToken;
    const logger = createLogger({ level: 'silent', service: 'srimages-test' });
    app = createServiceApp({
      service: 'viewer',
      logger,
      metrics: createMetricsRegistry(),
      readiness: [],
      routes: readingRouters({
        pool: catalog.pool,
        audit: new AuditLog(catalog.pool),
        authenticator: world.auth,
        reportPipeline: world.pipeline,
        reports: { signingAlgorithm: 'ecdsa-p256', signingSecretFile: path.join(world.storage.dir, 'secrets', 'report-signing.key'), generateMissingSecret: true },
        logger,
      }).map((r) => r.router),
    });
    const as = { Authorization: `Bearer ${token}` };
    expect((await request(app).post(`/api/queue/${study}/claim`).set(as)).status).toBe(200);
    const readerNodule = (sop: string) => ({
      location: 'Left lobe',
      composition: reader('solid'),
      echogenicity: reader('hypo'),
      shape: reader('wider'),
      margin: reader('smooth'),
      echogenicFoci: { codes: ['none'], source: 'reader', confirmed: true },
      size: { longMm: 8.4, shortMm: 5, source: 'reader', confirmed: true, longAxisLine: { sopInstanceUid: sop, frameNumber: 2, points: [10.5, 20, 60.25, 44] } },
    });
    const draft = await request(app)
      .put(`/api/studies/${study}/report/draft`)
      .set(as)
      .send({
        aiResultRef: aiResultId,
        findings: 'Two nodules.',
        impression: 'TR4 nodule right, TR4 nodule left.',
        nodules: [
          {
            location: 'Right lobe',
            composition: ai('solid'),
            echogenicity: ai('hypo'),
            shape: ai('wider'),
            margin: ai('smooth'),
            echogenicFoci: { codes: ['none'], source: 'ai', confirmed: true },
            size: { longMm: 12, shortMm: 9, source: 'ai', confirmed: true },
            aiNodule: { sopInstanceUid: stillSop, frameNumber: 1, index: 1 },
          },
          readerNodule(cineSop),
          // A caliper on an instance this study does not hold: the SR must not name it.
          readerNodule(foreignSop),
        ],
      });
    expect(draft.status).toBe(200);
    expect((await request(app).post(`/api/studies/${study}/report/sign`).set(as).send({ password })).status).toBe(200);
    const stored = await catalog.pool.query<{ object_key: string }>(
      `SELECT o.object_key FROM report_records rr JOIN instances i ON i.sop_instance_uid = rr.sr_sop_instance_uid AND i.is_current JOIN objects o ON o.sha256 = i.sha256`,
    );
    const bytes = await world.store.read(stored.rows[0]?.object_key ?? '');
    const file = path.join(world.storage.dir, 'report-images.dcm');
    fs.writeFileSync(file, bytes);
    const out = await run('dsrdump', ['-v', '+Pn', '+Pu', '+Pc', '+Pl', file]);
    // dcmtk checks the Enhanced SR IOD's relationship constraints (IMAGE, SCOORD, INFERRED FROM, SELECTED FROM);
    // the only note allowed is that its VR checker skips UTF-8 strings.
    expect(out.stderr.split('\n').filter((l) => l.trim() !== '' && !l.includes('VR checker does not support this Specific Character Set'))).toEqual([]);
    dump = out.stdout;
    if (process.env.SR_DUMP) fs.writeFileSync(process.env.SR_DUMP, dump);
    sr = naturalizedDataset(bytes);
  }, 120_000);

  afterAll(async () => {
    await world?.close();
  });

  it('names the image the AI found a nodule on as its best illustration, and infers the AI size from it', () => {
    const lines = dump.split('\n');
    expect(lines.filter((l) => l.includes('(121080,DCM,"Best illustration of finding")'))).toEqual([expect.stringContaining(`contains IMAGE:(121080,DCM,"Best illustration of finding")=(US image,"${stillSop}")`)]);
    expect(lines.some((l) => l.includes(`inferred from IMAGE:(121112,DCM,"Source of Measurement")=(US image,"${stillSop}")`))).toBe(true);
  });

  it('writes the reader’s caliper as a SCOORD POLYLINE selected from frame 2 of the cine, under the long axis', () => {
    const lines = dump.split('\n');
    const scoord = lines.findIndex((l) => l.includes('inferred from SCOORD:(121112,DCM,"Source of Measurement")=(POLYLINE,'));
    expect(scoord).toBeGreaterThan(0);
    expect(lines[scoord]).toContain('=(POLYLINE,10.5/20,60.25/44)');
    // The SCOORD hangs off the long axis NUM and is selected from the cine's frame 2.
    expect(lines[scoord - 1]).toContain('NUM:(103339001,SCT,"Long Axis")="8.4"');
    expect(lines[scoord + 1]).toContain(`selected from IMAGE:=(USm image,"${cineSop}",2)`);
  });

  it('references only instances the study holds, each listed in the evidence sequence', () => {
    expect(dump).not.toContain(foreignSop);
    const evidence = JSON.stringify(sr.CurrentRequestedProcedureEvidenceSequence);
    expect(evidence).toContain(cineSop);
    expect(evidence).toContain(stillSop);
    expect(evidence).not.toContain(foreignSop);
    expect(evidence).toContain(cineSeries);
    // The third nodule's long axis is still reported, without a source it cannot prove.
    expect(dump.split('\n').filter((l) => l.includes('NUM:(103339001,SCT,"Long Axis")'))).toHaveLength(3);
  });
});
