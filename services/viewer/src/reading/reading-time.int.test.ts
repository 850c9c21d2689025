import path from 'node:path';
import { AuditLog } from '@yunying/audit';
import request from 'supertest';
import type { DemoCredentials } from '@yunying/auth';
import type { TestCatalog } from '@yunying/catalog/testing';
import { createLogger } from '@yunying/core';
import { newUid } from '@yunying/dicom/testing';
import { createMetricsRegistry, createServiceApp } from '@yunying/http';
import type { TempFsTargets } from '@yunying/storage/testing';
import { readingRouters } from './index';
import { readingWorld, type ReadingWorld } from './reading.test-support';

const SECRET = 'reading-time-secret-reading-time-secret-0001';

interface Stats {
  count: number;
  medianSeconds: number;
  p90Seconds: number;
}

/**
 * Reading time (#20) on the real PostgreSQL: the claim records when a reader opened the study, signing
 * records when they finished; the dashboard API gives median and p90 per radiologist and per China
 * Standard Time day, to admins only.
 */
describe('reading time (real PostgreSQL)', () => {
  let world: ReadingWorld;
  let catalog: TestCatalog;
  let storage: TempFsTargets;
  let demo: DemoCredentials;
  let app: ReturnType<typeof createServiceApp>;
  const tokens = { radiologist: '', admin: '', clinic: '' };
  const studies: string[] = [];
  const userIds: Record<string, string> = {};

  const as = (who: keyof typeof tokens) => ({ Authorization: `Bearer ${tokens[who]}` });

  beforeAll(async () => {
    world = await readingWorld('readtime', SECRET);
    ({ catalog, storage, demo } = world);
    const { auth, pipeline } = world;
    for (let i = 0; i < 6; i += 1) {
      const uid = newUid();
      await world.ingestStudy(uid, { name: 'Time^Patient', id: `RT-${i}` });
      studies.push(uid);
    }
    await auth.createUser({ username: 'radiologist2', displayName: 'Second reader', role: 'radiologist', password: 'Hj4$nTq8@cVb3sEw' });
    const { rows } = await catalog.pool.query<{ id: string; username: string }>(`SELECT id, username FROM users`);
    for (const r of rows) userIds[r.username] = r.id;
    const password = (name: string): string => demo.users.find((u) => u.username === name)?.password ?? '';
    for (const who of ['radiologist', 'admin', 'clinic'] as const) tokens[who] = (await auth.signIn(who, password(who))).accessToken;
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
          logger: createLogger({ level: 'silent', service: 'viewer' }),
        }).map((r) => r.router),
    });
  }, 120_000);

  afterAll(async () => {
    await world?.close();
  });

  const row = async (uid: string) =>
    (
      await catalog.pool.query<{ opened_at: Date; signed_at: Date | null; reader_user_id: string }>(
        `SELECT rt.opened_at, rt.signed_at, rt.reader_user_id FROM reading_times rt JOIN studies s ON s.id = rt.study_ref WHERE s.study_instance_uid = $1`,
        [uid],
      )
    ).rows;

  it('records the first claim as the open time (a renewal keeps it) and the signature as the end', async () => {
    const uid = studies[0] ?? '';
    expect((await request(app).post(`/api/queue/${uid}/claim`).set(as('radiologist'))).status).toBe(200);
    const [opened] = await row(uid);
    expect(opened?.reader_user_id).toBe(userIds.radiologist);
    expect(opened?.signed_at).toBeNull();
    expect((await request(app).post(`/api/queue/${uid}/claim`).set(as('radiologist'))).status).toBe(200);
    expect((await row(uid))[0]?.opened_at).toEqual(opened?.opened_at);
    expect((await request(app).put(`/api/studies/${uid}/report/draft`).set(as('radiologist')).send({ findings: 'Normal thyroid.', impression: 'No nodule.' })).status).toBe(200);
    expect((await request(app).post(`/api/studies/${uid}/report/sign`).set(as('radiologist')).send({ password: demo.users.find((u) => u.username === 'radiologist')?.password })).status).toBe(200);
    const [signed] = await row(uid);
    expect(signed?.signed_at).not.toBeNull();
    expect((signed?.signed_at?.getTime() ?? 0) >= (opened?.opened_at.getTime() ?? Infinity)).toBe(true);
  });

  it('gives median and p90 per radiologist and per China Standard Time day, to admins only', async () => {
    // Known durations (seconds) at known sign times, written as the claim and signature would.
    const put = async (study: string, reader: string, signedAt: string, seconds: number): Promise<void> => {
      await catalog.pool.query(
        `INSERT INTO reading_times (study_ref, reader_user_id, clinic_id, opened_at, signed_at)
         SELECT s.id, $2, s.clinic_id, $3::timestamptz - make_interval(secs => $4), $3::timestamptz FROM studies s WHERE s.study_instance_uid = $1`,
        [study, userIds[reader], signedAt, seconds],
      );
    };
    const first = [60, 120, 180, 240, 600];
    for (const [i, seconds] of first.entries()) await put(studies[i + 1] ?? '', 'radiologist', '2026-03-01T10:00:00+08:00', seconds);
    // 2026-03-01 23:30 UTC is already 2 March in China: it counts for that day.
    await put(studies[1] ?? '', 'radiologist2', '2026-03-01T23:30:00Z', 30);
    await put(studies[2] ?? '', 'radiologist2', '2026-03-02T09:00:00+08:00', 90);

    const res = await request(app).get('/api/reading-times?from=2026-03-01&to=2026-03-02').set(as('admin'));
    expect(res.status).toBe(200);
    const body = res.body as { timeZone: string; byReader: (Stats & { username: string })[]; byDay: (Stats & { day: string })[] };
    expect(body.timeZone).toBe('Asia/Shanghai');
    const pick = ({ count, medianSeconds, p90Seconds }: Stats) => ({ count, medianSeconds, p90Seconds });
    // percentile_cont: p90 of 60..600 is 240 + 0.6 x (600 - 240) = 456.
    expect(body.byReader.map((r) => [r.username, pick(r)])).toEqual([
      ['radiologist', { count: 5, medianSeconds: 180, p90Seconds: 456 }],
      ['radiologist2', { count: 2, medianSeconds: 60, p90Seconds: 84 }],
    ]);
    expect(body.byDay.map((d) => [d.day, pick(d)])).toEqual([
      ['2026-03-01', { count: 5, medianSeconds: 180, p90Seconds: 456 }],
      ['2026-03-02', { count: 2, medianSeconds: 60, p90Seconds: 84 }],
    ]);
    // Outside the range: nothing (the real signature above is from today).
    const empty = await request(app).get('/api/reading-times?from=2026-02-01&to=2026-02-28').set(as('admin'));
    expect([empty.status, (empty.body as { byReader: unknown[] }).byReader]).toEqual([200, []]);

    for (const who of ['radiologist', 'clinic'] as const) expect((await request(app).get('/api/reading-times').set(as(who))).status).toBe(403);
    expect((await request(app).get('/api/reading-times')).status).toBe(401);
    const bad = await request(app).get('/api/reading-times?from=2026-03-05&to=2026-03-01').set(as('admin'));
    expect(bad.status).toBe(400);
    expect(bad.headers['content-type']).toMatch(/^application\/problem\+json/);
    expect((await request(app).get('/api/reading-times?from=yesterday').set(as('admin'))).status).toBe(400);
  });
});
