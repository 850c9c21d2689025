/**
 * The reading service's integration-test world, shared by its int tests: a migrated test catalog with
 * the demo seed, fs replica targets, the AuthService and the report write path (IngestPipeline), and a
 * way to store an instance as the demo clinic's. Test-only (excluded from the build).
 */
import { IngestPipeline } from '@yunying/archive';
import { AuditLog } from '@yunying/audit';
import { AuthService, seedDemo, type DemoCredentials } from '@yunying/auth';
import { createTestCatalog, type TestCatalog } from '@yunying/catalog/testing';
import { createLogger } from '@yunying/core';
import { makeInstance } from '@yunying/dicom/testing';
import { createMetricsRegistry } from '@yunying/http';
import { ReplicatedStore } from '@yunying/storage';
import { tempFsTargets, type TempFsTargets } from '@yunying/storage/testing';

export interface ReadingWorld {
  catalog: TestCatalog;
  storage: TempFsTargets;
  store: ReplicatedStore;
  demo: DemoCredentials;
  auth: AuthService;
  pipeline: IngestPipeline;
  /** The demo seed's password of a user. */
  password(username: string): string;
  /** Stores a small US instance of a new study as the demo clinic's, through the write path. */
  ingestStudy(studyInstanceUid: string, patient: { name: string; id: string }): Promise<void>;
  close(): Promise<void>;
}

export async function readingWorld(name: string, tokenSecret: string, options: { retentionMinYears?: number } = {}): Promise<ReadingWorld> {
  const catalog = await createTestCatalog(name);
  const storage = await tempFsTargets();
  const demo = await seedDemo(catalog.pool, { tokenSecret });
  if (!demo) throw new Error('seed created nothing');
  const clinic = demo.clinics.find((c) => c.code === 'demo-clinic');
  if (!clinic) throw new Error('no demo clinic');
  const auth = new AuthService({
    pool: catalog.pool,
    tokenSecret,
    accessTokenTtlSeconds: 300,
    refreshTokenTtlSeconds: 3600,
    audit: new AuditLog(catalog.pool),
    signInLimits: { maxFailures: 1000, maxFailuresPerIp: 1000 },
  });
  const store = new ReplicatedStore({ targets: storage.targets, writeQuorum: 3 });
  const pipeline = new IngestPipeline({
    pool: catalog.pool,
    store,
    logger: createLogger({ level: 'silent', service: `${name}-test` }),
    metrics: createMetricsRegistry(),
    parseLimits: {},
    retentionMinYears: options.retentionMinYears ?? 15,
  });
  return {
    catalog,
    storage,
    store,
    demo,
    auth,
    pipeline,
    password: (username) => demo.users.find((u) => u.username === username)?.password ?? '',
    async ingestStudy(studyInstanceUid, patient) {
      const bytes = makeInstance({ studyInstanceUid, rows: 8, columns: 8, modality: 'US', patientName: patient.name, patientId: patient.id });
      const outcome = await pipeline.ingest(bytes, { clinicId: clinic.id, actor: { username: 'test-device' }, sourceIp: '127.0.0.1', via: 'STOW-RS' });
      if (outcome.status !== 'stored') throw new Error(`test instance not stored: ${outcome.status}`);
    },
    async close() {
      await catalog.drop();
      await storage.cleanup();
    },
  };
}
