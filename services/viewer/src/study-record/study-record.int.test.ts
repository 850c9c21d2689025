import request from 'supertest';
import { IngestPipeline } from '@yunying/archive';
import { AuditLog } from '@yunying/audit';
import { AuthService, seedDemo, type DemoCredentials } from '@yunying/auth';
import { createTestCatalog, type TestCatalog } from '@yunying/catalog/testing';
import { createLogger } from '@yunying/core';
import { makeInstance, newUid } from '@yunying/dicom/testing';
import { createMetricsRegistry, createServiceApp } from '@yunying/http';
import { ReplicatedStore } from '@yunying/storage';
import { tempFsTargets, type TempFsTargets } from '@yunying/storage/testing';
import { studyRecordRoutes } from './study-record.route';
import type { StudyRecordView } from './study-record.service';

const SECRET = 'record-secret-record-secret-record-secret-0001';

/**
 * GET /api/audit/studies/{uid}/record on the real PostgreSQL with studies written through the real write
 * path (three fs replicas): an instance re-sent with other bytes is a second version with its own three
 * locked copies; the ingest records appear as the study's history; auditors and admins only; audited.
 */
describe('study record API (real PostgreSQL)', () => {
  let catalog: TestCatalog;
  let storage: TempFsTargets;
  let demo: DemoCredentials;
  let app: ReturnType<typeof createServiceApp>;
  const token: Record<string, string> = {};
  const study = newUid();
  const sop = newUid();
  const series = newUid();

  beforeAll(async () => {
    catalog = await createTestCatalog('record');
    storage = await tempFsTargets();
    const seeded = await seedDemo(catalog.pool, { tokenSecret: SECRET });
    if (!seeded) throw new Error('seed created nothing');
    demo = seeded;
    const auth = new AuthService({ pool: catalog.pool, tokenSecret: SECRET, accessTokenTtlSeconds: 300, refreshTokenTtlSeconds: 3600, audit: new AuditLog(catalog.pool), signInLimits: { maxFailures: 1000, maxFailuresPerIp: 1000 } });
    const pipeline = new IngestPipeline({
      pool: catalog.pool,
      store: new ReplicatedStore({ targets: storage.targets, writeQuorum: 3 }),
      logger: createLogger({ level: 'silent', service: 'record-test' }),
      metrics: createMetricsRegistry(),
      parseLimits: {},
      retentionMinYears: 15,
    });
    const clinicId = demo.clinics.find((c) => c.code === 'demo-clinic')?.id ?? '';
    const sender = { clinicId, actor: { username: 'test-device' }, sourceIp: '127.0.0.1', via: 'STOW-RS' as const };
    for (const [description, outcome] of [['first', 'stored'], ['corrected', 'new_version']]) {
      const bytes = makeInstance({ studyInstanceUid: study, seriesInstanceUid: series, sopInstanceUid: sop, rows: 8, columns: 8, seriesDescription: description, patientName: 'Record^Patient', patientId: 'REC-1' });
      expect((await pipeline.ingest(bytes, sender)).status).toBe(outcome);
    }
    const password = (u: string): string => demo.users.find((x) => x.username === u)?.password ?? '';
    for (const u of ['auditor', 'admin', 'radiologist', 'clinic']) token[u] = (await auth.signIn(u, password(u))).accessToken;
    app = createServiceApp({ service: 'viewer', logger: createLogger({ level: 'silent', service: 'viewer' }), metrics: createMetricsRegistry(), readiness: [], routes: [studyRecordRoutes(catalog.pool, auth, 7 * 86_400).router] });
  }, 120_000);

  afterAll(async () => {
    await catalog?.drop();
    await storage?.cleanup();
  });

  it('shows each version of each instance with its three locked copies and the ingest history', async () => {
    const res = await request(app).get(`/api/audit/studies/${study}/record`).set('Authorization', `Bearer ${token.auditor ?? ''}`);
    expect(res.status).toBe(200);
    const record = res.body as StudyRecordView;
    expect(record.clinic).toMatchObject({ code: 'demo-clinic', retentionYears: 15 });
    expect(record.instances).toHaveLength(1);
    const versions = record.instances[0]?.versions ?? [];
    expect(versions.map((v) => [v.version, v.current])).toEqual([
      [1, false],
      [2, true],
    ]);
    expect(new Set(versions.map((v) => v.sha256)).size).toBe(2);
    const studyRetainUntil = new Date(record.retainUntil).getTime();
    for (const v of versions) {
      expect(v.copies.map((c) => [c.target, c.state])).toEqual(storage.targets.map((t) => [t.name, 'ok']));
      // The current version's copies were locked by the ingest that set the study's retain-until. A superseded
      // version's lock is 15 years from its own receipt: when the second ingest fell in a later second, the
      // study's retain-until moved past it and the record must say so (the keeper's lock extender catches up).
      for (const c of v.copies) {
        const retainUntil = new Date(c.retainUntil).getTime();
        if (v.current) expect([retainUntil >= studyRetainUntil, c.lockShort]).toEqual([true, false]);
        else expect(c.lockShort).toBe(retainUntil < studyRetainUntil);
      }
      // Every field of a copy, in the view's order (the copies come from json_build_object keyed as the view names them).
      for (const c of v.copies) {
        expect(Object.keys(c)).toEqual(['target', 'state', 'lockMode', 'retainUntil', 'versionId', 'writtenAt', 'lastVerifiedAt', 'failureReason', 'repairAttempts', 'lastRepairedAt', 'lockShort']);
        expect(c).toMatchObject({ failureReason: null, repairAttempts: 0, lastRepairedAt: null });
        expect(typeof c.lockMode).toBe('string');
        expect(Number.isNaN(new Date(c.writtenAt).getTime())).toBe(false);
      }
    }
    expect(record.history.map((e) => [e.type, e.event]).reverse()).toEqual([
      ['DICOM Instances Transferred', 'stored'],
      ['DICOM Instances Transferred', 'new_version'],
    ]);
    expect(record.reports).toEqual([]);
    expect(JSON.stringify(record)).not.toMatch(/Record\^Patient|REC-1/);
  });

  it('is for auditors and admins only, 404 for an unknown study, and each read is audited', async () => {
    expect((await request(app).get(`/api/audit/studies/${study}/record`).set('Authorization', `Bearer ${token.admin ?? ''}`)).status).toBe(200);
    for (const who of ['radiologist', 'clinic']) expect((await request(app).get(`/api/audit/studies/${study}/record`).set('Authorization', `Bearer ${token[who] ?? ''}`)).status).toBe(403);
    expect((await request(app).get(`/api/audit/studies/${newUid()}/record`).set('Authorization', `Bearer ${token.auditor ?? ''}`)).status).toBe(404);
    const { rows } = await catalog.pool.query<{ actor_username: string }>(`SELECT actor_username FROM audit_events WHERE details->>'what' = 'study-record' AND study_instance_uid = $1 ORDER BY seq`, [study]);
    expect(rows.map((r) => r.actor_username)).toEqual(['auditor', 'admin']);
  });
});
