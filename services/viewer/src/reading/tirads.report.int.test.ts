import path from 'node:path';
import { AuditLog } from '@yunying/audit';
import request from 'supertest';
import type { DemoCredentials } from '@yunying/auth';
import { storeTriagedResult, type TestCatalog } from '@yunying/catalog/testing';
import { createLogger } from '@yunying/core';
import { newUid } from '@yunying/dicom/testing';
import { createMetricsRegistry, createServiceApp } from '@yunying/http';
import { scoredImage } from '@yunying/nodule-model/testing';
import type { TempFsTargets } from '@yunying/storage/testing';
import { readingRouters } from './index';
import { readingWorld, type ReadingWorld } from './reading.test-support';
import type { ReportVersionView } from './report.service';

const SECRET = 'tirads-secret-tirads-secret-tirads-secret-0001';
const LOCATION = 'Right lobe, lower pole';
/** The instance the AI result's nodule is on. */
const AI_SOP = newUid();

type Source = 'ai' | 'reader';
const field = (code: string | null, source: Source = 'ai', confirmed = false) => ({ code, source, confirmed });

/** A TR5 nodule by its categories (solid 2, very hypoechoic 3, taller 3, smooth 0, punctate 3 = 11), as the AI prefills it. */
function aiNodule(confirmed = false) {
  return {
    location: LOCATION,
    composition: field('solid', 'ai', confirmed),
    echogenicity: field('very-hypo', 'ai', confirmed),
    shape: field('taller', 'ai', confirmed),
    margin: field('smooth', 'ai', confirmed),
    echogenicFoci: { codes: ['punctate'], source: 'ai' as Source, confirmed },
    size: { longMm: 12, shortMm: 9, source: 'ai' as Source, confirmed },
    aiNodule: { sopInstanceUid: AI_SOP, frameNumber: 1, index: 1 },
  };
}

/** The AI result's nodule those fields came from, as the triage stores it. */
const AI_IMAGES = [
  scoredImage({
    sopInstanceUid: AI_SOP,
    seriesInstanceUid: newUid(),
    nodules: [{ codes: { composition: 'solid', echogenicity: 'very-hypo', shape: 'taller', margin: 'smooth', echogenicFoci: 'punctate' }, box: { x: 60, y: 30, width: 40, height: 30 }, sizeMm: { long: 12, short: 9 } }],
  }),
];

/**
 * Structured TI-RADS findings (#20) through the reading API on the real PostgreSQL: validation as
 * problem+json, the server's own TR level and recommendation whatever the client claims, signing refused
 * while a field is unconfirmed, findings kept per version (report and addendum) and audited by count only.
 */
describe('structured TI-RADS report API (real PostgreSQL)', () => {
  let world: ReadingWorld;
  let catalog: TestCatalog;
  let storage: TempFsTargets;
  let demo: DemoCredentials;
  let app: ReturnType<typeof createServiceApp>;
  let token = '';
  let study = '';
  let aiResultId = '';
  let password = '';

  const base = (): string => `/api/studies/${study}/report`;
  const put = (body: unknown) => request(app).put(`${base()}/draft`).set('Authorization', `Bearer ${token}`).send(body as object);
  // Signing re-authenticates the reader (#20): every sign and addendum carries the password.
  const post = (path: string, body: object = {}) => request(app).post(`${base()}/${path}`).set('Authorization', `Bearer ${token}`).send({ ...body, password });

  beforeAll(async () => {
    world = await readingWorld('tirads', SECRET);
    ({ catalog, storage, demo } = world);
    const { auth, pipeline } = world;
    const logger = createLogger({ level: 'silent', service: 'tirads-test' });
    study = newUid();
    await world.ingestStudy(study, { name: 'Test^Patient', id: 'TR-1' });
    // The AI result the prefill cites, stored through the triage's writer (its content is the web app's to show).
    aiResultId = await storeTriagedResult(catalog.pool, study, { instanceCount: 1, images: AI_IMAGES });
    password = demo.users.find((u) => u.username === 'radiologist')?.password ?? '';
    token = (await auth.signIn('radiologist', password)).accessToken;
    app = createServiceApp({
      service: 'viewer',
      logger: createLogger({ level: 'silent', service: 'viewer' }),
      metrics: createMetricsRegistry(),
      readiness: [],
      routes: readingRouters({
        pool: catalog.pool,
        audit: new AuditLog(catalog.pool),
        authenticator: auth,
        reportPipeline: pipeline,
        reports: { signingAlgorithm: 'ecdsa-p256', signingSecretFile: path.join(storage.dir, 'secrets', 'report-signing.key'), generateMissingSecret: true },
        logger,
      }).map((r) => r.router),
    });
    expect((await request(app).post(`/api/queue/${study}/claim`).set('Authorization', `Bearer ${token}`)).status).toBe(200);
  }, 120_000);

  afterAll(async () => {
    await world?.close();
  });

  it.each([
    ['an unknown category code', { nodules: [{ ...aiNodule(), margin: field('jagged') }] }, 'nodules'],
    ['"none" with another focus', { nodules: [{ ...aiNodule(), echogenicFoci: { codes: ['none', 'macro'], source: 'reader', confirmed: true } }] }, 'nodules'],
    ['a confirmed field without a value', { nodules: [{ ...aiNodule(), shape: field(null, 'reader', true) }] }, 'nodules'],
    ['AI-marked fields without the AI result they came from', { nodules: [aiNodule()] }, 'aiResultRef'],
    ['a negative size', { aiResultRef: null, nodules: [{ ...aiNodule(), composition: field('solid', 'reader'), size: { longMm: -3, shortMm: null, source: 'reader', confirmed: true } }] }, 'nodules'],
    ['a missing item', { nodules: [{ ...aiNodule(), margin: undefined }] }, 'nodules'],
    ['eleven nodules', { nodules: Array.from({ length: 11 }, () => aiNodule()) }, 'nodules'],
  ])('refuses %s with problem+json naming the field, never its value', async (_what, body, path) => {
    const res = await put(body);
    expect(res.status).toBe(400);
    expect(res.headers['content-type']).toMatch(/^application\/problem\+json/);
    expect(JSON.stringify(res.body)).toContain(path);
    expect(JSON.stringify(res.body)).not.toContain(LOCATION);
  });

  it('refuses a field marked as the AI’s that is not what the AI result says, or a nodule the result does not have', async () => {
    const relabelled = await put({ aiResultRef: aiResultId, nodules: [{ ...aiNodule(), margin: field('extrathyroidal', 'ai') }] });
    expect(relabelled.status).toBe(400);
    expect(JSON.stringify(relabelled.body)).toContain('nodules[0].margin');
    const resized = await put({ aiResultRef: aiResultId, nodules: [{ ...aiNodule(), size: { longMm: 20, shortMm: 9, source: 'ai', confirmed: false } }] });
    expect(JSON.stringify(resized.body)).toContain('nodules[0].size');
    const elsewhere = await put({ aiResultRef: aiResultId, nodules: [{ ...aiNodule(), aiNodule: { sopInstanceUid: AI_SOP, frameNumber: 1, index: 2 } }] });
    expect(elsewhere.status).toBe(400);
    expect(JSON.stringify(elsewhere.body)).toContain('nodules[0].aiNodule');
    const unnamed = await put({ aiResultRef: aiResultId, nodules: [{ ...aiNodule(), aiNodule: null }] });
    expect(JSON.stringify(unnamed.body)).toContain('nodules[0].aiNodule');
  });

  it('computes the TR level, points and recommendation itself, ignoring a forged client TR level', async () => {
    const forged = { ...aiNodule(), trLevel: 'TR1', points: 0, score: { trLevel: 'TR1', totalPoints: 0, recommendation: { action: 'none' } } };
    const res = await put({ aiResultRef: aiResultId, tiradsCategory: 'TR2', impression: '', nodules: [forged] });
    expect(res.status).toBe(200);
    const view = res.body as ReportVersionView;
    expect(view.nodules).toHaveLength(1);
    expect(view.nodules[0]?.score).toMatchObject({ totalPoints: 11, trLevel: 'TR5', maxDiameterMm: 12, recommendation: { action: 'fna' } });
    expect(view.nodules[0]).not.toHaveProperty('trLevel');
    // The overall category is the most suspicious nodule's, not the TR2 the client sent.
    expect(view.tiradsCategory).toBe('TR5');
    expect(view.tiradsSystem).toBe('acr-2017');
    const row = await catalog.pool.query<{ tirads_category: string; nodules: { score: { trLevel: string } }[] }>(
      'SELECT r.tirads_category, r.nodules FROM reports r JOIN studies s ON s.id = r.study_ref WHERE s.study_instance_uid = $1',
      [study],
    );
    expect(row.rows[0]?.tirads_category).toBe('TR5');
    expect(row.rows[0]?.nodules.map((n) => n.score.trLevel)).toEqual(['TR5']);
    expect(JSON.stringify(row.rows[0]?.nodules)).not.toContain('"TR1"');
  });

  it('keeps AI fields unconfirmed until the reader confirms them, and refuses to sign before', async () => {
    const view = (await request(app).get(base()).set('Authorization', `Bearer ${token}`)).body as { versions: ReportVersionView[] };
    const stored = view.versions[0]?.nodules[0];
    expect(stored?.composition).toEqual({ code: 'solid', source: 'ai', confirmed: false });
    expect(stored?.echogenicFoci).toEqual({ codes: ['punctate'], source: 'ai', confirmed: false });

    const refused = await post('sign');
    expect(refused.status).toBe(422);
    expect(refused.headers['content-type']).toMatch(/^application\/problem\+json/);
    expect(JSON.stringify(refused.body)).toContain('nodules[0].composition');
    expect(JSON.stringify(refused.body)).toContain('nodules[0].size');

    // The reader changes the margin (their own value: confirmed by choosing it) and leaves the rest unconfirmed.
    const changed = await put({ aiResultRef: aiResultId, nodules: [{ ...aiNodule(), margin: field('lobulated-irregular', 'reader') }] });
    expect((changed.body as ReportVersionView).nodules[0]?.margin).toEqual({ code: 'lobulated-irregular', source: 'reader', confirmed: true });
    const still = await post('sign');
    expect(still.status).toBe(422);
    expect(JSON.stringify(still.body)).not.toContain('nodules[0].margin');
  });

  it('signs once every field is confirmed; the signed version keeps its findings, immutable', async () => {
    expect((await put({ aiResultRef: aiResultId, aiSuggestionAccepted: true, nodules: [aiNodule(true)] })).status).toBe(200);
    const signed = await post('sign');
    expect(signed.status).toBe(200);
    const v1 = signed.body as ReportVersionView;
    expect(v1).toMatchObject({ version: 1, status: 'signed', tiradsCategory: 'TR5' });
    expect(v1.nodules[0]).toMatchObject({ location: LOCATION, composition: { code: 'solid', source: 'ai', confirmed: true }, score: { trLevel: 'TR5' } });
    await expect(
      catalog.pool.query(`UPDATE reports SET nodules = '[]' WHERE study_ref = (SELECT id FROM studies WHERE study_instance_uid = $1)`, [study]),
    ).rejects.toMatchObject({ code: 'YY601' });
  });

  it('keeps each addendum’s own findings beside the report’s, and holds an addendum to the same confirmation rule', async () => {
    const unconfirmed = await post('addendum', { aiResultRef: aiResultId, nodules: [aiNodule()] });
    expect(unconfirmed.status).toBe(422);
    // A second nodule found on review, entered by the reader: mixed (1), iso (1), wider (0), smooth (0), macro (1) = 3 points, TR3.
    const second = {
      location: 'Left lobe',
      composition: field('mixed', 'reader'),
      echogenicity: field('hyper-iso', 'reader'),
      shape: field('wider', 'reader'),
      margin: field('smooth', 'reader'),
      echogenicFoci: { codes: ['macro'], source: 'reader', confirmed: false },
      size: { longMm: 16, shortMm: 11, source: 'reader', confirmed: false },
    };
    const added = await post('addendum', { impression: 'Second nodule on review.', nodules: [second] });
    expect(added.status).toBe(201);
    expect((added.body as ReportVersionView).nodules[0]?.score).toMatchObject({ trLevel: 'TR3', recommendation: { action: 'follow-up' } });
    const all = (await request(app).get(base()).set('Authorization', `Bearer ${token}`)).body as { versions: ReportVersionView[] };
    expect(all.versions.map((v) => [v.version, v.kind, v.tiradsCategory, v.nodules.map((n) => n.score.trLevel)])).toEqual([
      [1, 'report', 'TR5', ['TR5']],
      [2, 'addendum', 'TR3', ['TR3']],
    ]);
  });

  it('audits the report writes with the nodule count, never the findings or the location', async () => {
    const { rows } = await catalog.pool.query<{ details: { status: string; tirads?: number } }>(
      `SELECT details FROM audit_events WHERE details->>'what' = 'report' AND study_instance_uid = $1 AND action <> 'R' ORDER BY seq`,
      [study],
    );
    expect(rows.map((r) => [r.details.status, r.details.tirads])).toEqual([
      ['draft', 1],
      ['draft', 1],
      ['draft', 1],
      ['signed', 1],
      ['signed', 1],
    ]);
    expect(JSON.stringify(rows)).not.toMatch(/lobe|punctate|solid|Test\^Patient/);
  });
});
