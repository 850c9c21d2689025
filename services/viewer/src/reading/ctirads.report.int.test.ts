import { execFile } from 'node:child_process';
import { AuditLog } from '@yunying/audit';
import fs from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import request from 'supertest';
import { storeTriagedResult } from '@yunying/catalog/testing';
import { createLogger } from '@yunying/core';
import { newUid } from '@yunying/dicom/testing';
import { createMetricsRegistry, createServiceApp } from '@yunying/http';
import { scoredImage } from '@yunying/nodule-model/testing';
import { readingRouters } from './index';
import { readingWorld, type ReadingWorld } from './reading.test-support';
import type { ReportVersionView } from './report.service';

const run = promisify(execFile);
const SECRET = 'ctirads-secret-ctirads-secret-ctirads-secret-01';
const AI_SOP = newUid();

type Source = 'ai' | 'reader';
const field = (code: string, source: Source, confirmed: boolean) => ({ code, source, confirmed });

/** The AI's nodule as the triage stores it: solid, very hypoechoic, taller-than-wide, smooth, punctate foci. */
const AI_IMAGES = [
  scoredImage({
    sopInstanceUid: AI_SOP,
    seriesInstanceUid: newUid(),
    nodules: [{ codes: { composition: 'solid', echogenicity: 'very-hypo', shape: 'taller', margin: 'smooth', echogenicFoci: 'punctate' }, box: { x: 60, y: 30, width: 40, height: 30 }, sizeMm: { long: 12, short: 9 } }],
  }),
];

function aiNodule(confirmed: boolean) {
  return {
    location: 'Left lobe',
    composition: field('solid', 'ai', confirmed),
    echogenicity: field('very-hypo', 'ai', confirmed),
    shape: field('taller', 'ai', confirmed),
    margin: field('smooth', 'ai', confirmed),
    echogenicFoci: { codes: ['punctate'], source: 'ai' as Source, confirmed },
    size: { longMm: 12, shortMm: 9, source: 'ai' as Source, confirmed },
    aiNodule: { sopInstanceUid: AI_SOP, frameNumber: 1, index: 1 },
  };
}

/**
 * C-TIRADS 2020 chosen per clinic (#20) through the HTTP API on the real PostgreSQL: the admin sets the
 * clinic's system; a report begun then is scored in C-TIRADS by the server (features from the same codes,
 * the AI's prefill included), cannot be signed until comet-tail artefacts are assessed and every AI field
 * confirmed, and keeps its system after the clinic changes back.
 */
describe('C-TIRADS 2020 report (real PostgreSQL)', () => {
  let world: ReadingWorld;
  let app: ReturnType<typeof createServiceApp>;
  let reader = '';
  let admin = '';
  let password = '';
  let aiResultId = '';
  const study = newUid();
  const clinicId = (): string => world.demo.clinics.find((c) => c.code === 'demo-clinic')?.id ?? '';
  const setSystem = (system: string) => request(app).put(`/api/admin/clinics/${clinicId()}/tirads-system`).set('Authorization', `Bearer ${admin}`).send({ system });
  const draft = (body: object) => request(app).put(`/api/studies/${study}/report/draft`).set('Authorization', `Bearer ${reader}`).send(body);

  beforeAll(async () => {
    world = await readingWorld('ctirads', SECRET);
    await world.ingestStudy(study, { name: 'Test^Patient', id: 'CT-1' });
    aiResultId = await storeTriagedResult(world.catalog.pool, study, { instanceCount: 1, images: AI_IMAGES });
    password = world.password('radiologist');
    reader = (await world.auth.signIn('radiologist', password)).accessToken;
    admin = (await world.auth.signIn('admin', world.password('admin'))).accessToken;
    app = createServiceApp({
      service: 'viewer',
      logger: createLogger({ level: 'silent', service: 'viewer' }),
      metrics: createMetricsRegistry(),
      readiness: [],
      routes: readingRouters({
        pool: world.catalog.pool,
        audit: new AuditLog(world.catalog.pool),
        authenticator: world.auth,
        reportPipeline: world.pipeline,
        reports: { signingAlgorithm: 'ecdsa-p256', signingSecretFile: path.join(world.storage.dir, 'secrets', 'report-signing.key'), generateMissingSecret: true },
        logger: createLogger({ level: 'silent', service: 'ctirads-test' }),
      }).map((r) => r.router),
    });
    expect((await request(app).post(`/api/queue/${study}/claim`).set('Authorization', `Bearer ${reader}`)).status).toBe(200);
  }, 120_000);

  afterAll(async () => {
    await world?.close();
  });

  it('lets only an admin choose the clinic’s system, audited', async () => {
    expect((await request(app).put(`/api/admin/clinics/${clinicId()}/tirads-system`).set('Authorization', `Bearer ${reader}`).send({ system: 'c-tirads-2020' })).status).toBe(403);
    expect((await setSystem('k-tirads')).status).toBe(400);
    expect((await setSystem('c-tirads-2020')).body).toEqual({ clinicId: clinicId(), system: 'c-tirads-2020' });
    const { rows } = await world.catalog.pool.query<{ details: { system: string } }>(`SELECT details FROM audit_events WHERE details->>'what' = 'tirads-system'`);
    expect(rows.map((r) => r.details.system)).toEqual(['c-tirads-2020']);
  });

  it('scores the AI prefill in C-TIRADS and refuses to sign until comet-tail is assessed and every field confirmed', async () => {
    const saved = await draft({ findings: '', impression: 'Suspicious nodule.', aiResultRef: aiResultId, aiSuggestionAccepted: false, nodules: [aiNodule(false)] });
    expect(saved.status).toBe(200);
    const version = saved.body as ReportVersionView;
    expect(version.tiradsSystem).toBe('c-tirads-2020');
    expect(version.nodules[0]?.cTirads).toMatchObject({
      features: { solid: true, markedlyHypoechoic: true, suspiciousMargin: false, microcalcifications: true, tallerThanWide: true, cometTail: null },
      count: null,
      category: null,
    });
    const refused = await request(app).post(`/api/studies/${study}/report/sign`).set('Authorization', `Bearer ${reader}`).send({ password });
    expect(refused.status).toBe(422);
    expect((refused.body as { fields: string[] }).fields).toEqual([
      'nodules[0].composition',
      'nodules[0].echogenicity',
      'nodules[0].shape',
      'nodules[0].margin',
      'nodules[0].echogenicFoci',
      'nodules[0].size',
      'nodules[0].cometTail',
    ]);
    // The reader accepts the AI's findings and states there are no comet-tail artefacts: 4 features.
    const accepted = await draft({ findings: '', impression: 'Suspicious nodule.', aiResultRef: aiResultId, aiSuggestionAccepted: true, nodules: [{ ...aiNodule(true), cometTail: { present: false, source: 'reader' } }] });
    expect(accepted.status).toBe(200);
    const scored = accepted.body as ReportVersionView;
    expect(scored.nodules[0]?.cTirads).toMatchObject({ count: 4, category: 'C-TR4C', maxDiameterMm: 12, recommendation: { action: 'fna', rule: 'C-TR4C: FNA if > 1 cm' } });
    expect(scored.cTiradsCategory).toBe('C-TR4C');
    // The ACR score is kept alongside (the same codes): 2 + 3 + 3 + 0 + 3 = 11, TR5.
    expect(scored.nodules[0]?.score).toMatchObject({ totalPoints: 11, trLevel: 'TR5' });
    // A client's claimed category is dropped: the server computes it.
    const claimed = await draft({ aiResultRef: aiResultId, aiSuggestionAccepted: true, nodules: [{ ...aiNodule(true), cometTail: { present: true, source: 'reader' }, cTirads: { category: 'C-TR2' } }] });
    expect((claimed.body as ReportVersionView).nodules[0]?.cTirads).toMatchObject({ count: 3, category: 'C-TR4C' });
    expect((await draft({ aiResultRef: aiResultId, nodules: [{ ...aiNodule(true), cometTail: { present: true, source: 'ai' } }] })).status).toBe(400);
  });

  it('signs in C-TIRADS and keeps the system when the clinic changes back', async () => {
    const signed = await request(app).post(`/api/studies/${study}/report/sign`).set('Authorization', `Bearer ${reader}`).send({ password });
    expect(signed.status).toBe(200);
    expect((await setSystem('acr-2017')).status).toBe(200);
    const report = await request(app).get(`/api/studies/${study}/report`).set('Authorization', `Bearer ${reader}`);
    const v1 = (report.body as { versions: ReportVersionView[] }).versions[0];
    expect(v1).toMatchObject({ status: 'signed', tiradsSystem: 'c-tirads-2020', cTiradsCategory: 'C-TR4C' });
    const { rows } = await world.catalog.pool.query<{ tirads_system: string }>('SELECT tirads_system FROM reports r JOIN studies s ON s.id = r.study_ref WHERE s.study_instance_uid = $1', [study]);
    expect(rows).toEqual([{ tirads_system: 'c-tirads-2020' }]);
  });

  it('stores an SR that dcmtk reads, with the C-TIRADS findings coded', async () => {
    const { rows } = await world.catalog.pool.query<{ object_key: string }>(
      `SELECT o.object_key FROM report_records rr JOIN instances i ON i.sop_instance_uid = rr.sr_sop_instance_uid AND i.is_current JOIN objects o ON o.sha256 = i.sha256`,
    );
    expect(rows).toHaveLength(1);
    const file = path.join(world.storage.dir, 'ctirads-report.dcm');
    fs.writeFileSync(file, await world.store.read(rows[0]?.object_key ?? ''));
    const dump = await run('dsrdump', ['-v', '+Pt', '+Pn', file]);
    const notes = dump.stderr.split('\n').filter((l) => l.trim() !== '' && !l.includes('VR checker does not support this Specific Character Set'));
    expect(notes).toEqual([]);
    expect(dump.stdout).toContain('C-TIRADS comet-tail artifacts');
    expect(dump.stdout).toContain('C-TIRADS 2020 TR4C');
    expect(dump.stdout).toContain('ACR TI-RADS TR5');
  });
});
