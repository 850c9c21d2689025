import { createHash, randomBytes } from 'node:crypto';
import { createPool, inTransaction, quoteIdent, type Pool } from './database';
import { loadMigrations, migrate } from './migrate';
import { recordInstances } from './archive-batch.repository';
import type { InstanceRecord } from './archive.repository';
import { testDatabaseUrl } from './testing';

/**
 * #18 catalog partitioning (migration 1810): instances and copies hash-partitioned on their natural keys.
 * Rows written before the migration survive it; the uniqueness the ingest path relies on still holds
 * across partitions; the write path's lookups read one partition (EXPLAIN).
 */
function instance(clinicId: string, study: string, n: number): InstanceRecord {
  const sop = `${study}.1.${n}`;
  const sha256 = createHash('sha256').update(sop).digest('hex');
  const retainUntil = new Date(Date.now() + 10 * 365 * 86_400_000);
  return {
    clinicId,
    studyInstanceUid: study,
    seriesInstanceUid: `${study}.1`,
    sopInstanceUid: sop,
    sopClassUid: '1.2.840.10008.5.1.4.1.1.6.1',
    transferSyntaxUid: '1.2.840.10008.1.2.1',
    attributes: {
      PatientName: 'TEST^PARTITION', PatientID: 'P-PART', PatientBirthDate: null, PatientSex: null, StudyDate: '20260101', StudyTime: null,
      AccessionNumber: null, ReferringPhysicianName: null, StudyID: null, StudyDescription: null, Modality: 'US', SeriesNumber: 1,
      SeriesDescription: null, SeriesDate: null, BodyPartExamined: null, InstanceNumber: n, Rows: 8, Columns: 8, NumberOfFrames: 1,
      PhotometricInterpretation: 'MONOCHROME2',
    },
    dicomJson: { '00080018': { vr: 'UI', Value: [sop] } },
    frames: [],
    sha256,
    datasetSha256: sha256,
    objectKey: `sha256/${sha256.slice(0, 2)}/${sha256.slice(2, 4)}/${sha256}`,
    size: 100,
    retainUntil,
    copies: ['a', 'b', 'c'].map((target) => ({ target, key: `sha256/${sha256}`, versionId: null, size: 100, retainUntil, lockMode: 'FS_READONLY' as const })),
    failedCopies: [],
    receivedAt: new Date(),
  };
}

/** The partitions a plan reads ("... on instances_h03"). */
function partitionsRead(plan: string, table: string): string[] {
  return [...new Set([...plan.matchAll(new RegExp(`on (${table}_h\\d\\d)`, 'g'))].map((m) => m[1] ?? ''))];
}

async function planOf(pool: Pool, sql: string, params: unknown[]): Promise<string> {
  const client = await pool.connect();
  try {
    // The test tables are tiny: without this the planner rightly prefers sequential scans, and the
    // question here is whether an index exists that prunes to one partition.
    await client.query('SET enable_seqscan = off');
    const { rows } = await client.query<{ 'QUERY PLAN': string }>(`EXPLAIN (COSTS OFF) ${sql}`, params);
    return rows.map((r) => r['QUERY PLAN']).join('\n');
  } finally {
    await client.query('RESET enable_seqscan');
    client.release();
  }
}

describe('catalog partitioning (real PostgreSQL)', () => {
  const schema = `part_${randomBytes(6).toString('hex')}`;
  const pool = createPool({ url: testDatabaseUrl(), schema, poolSize: 3, applicationName: 'yunying-test' });
  let clinicId = '';
  const study = `2.25.${BigInt(`0x${randomBytes(8).toString('hex')}`)}`;
  const instances = Array.from({ length: 12 }, (_, n) => instance('', study, n + 1));

  beforeAll(async () => {
    // The schema as it was before 1810, with rows written by the ingest path's own catalog write.
    await migrate(pool, schema, loadMigrations().filter((m) => m.version < '1810'));
    const { rows } = await pool.query<{ id: string }>(`INSERT INTO clinics (code, name) VALUES ('part-1', 'Partition clinic') RETURNING id`);
    clinicId = rows[0]?.id ?? '';
    for (const rec of instances) rec.clinicId = clinicId;
    const recorded = await inTransaction(pool, (client) => recordInstances(client, instances));
    expect(recorded.kind).toBe('recorded');
    await migrate(pool, schema);
  });

  afterAll(async () => {
    await pool.query(`DROP SCHEMA IF EXISTS ${quoteIdent(schema)} CASCADE`);
    await pool.end();
  });

  it('keeps the rows written before the migration, spread over the hash partitions', async () => {
    const { rows } = await pool.query<{ instances: string; copies: string; partitions: string; kind: string }>(
      `SELECT (SELECT count(*) FROM instances WHERE study_ref = (SELECT id FROM studies WHERE study_instance_uid = $1))::text AS instances,
              (SELECT count(*) FROM copies)::text AS copies,
              (SELECT count(DISTINCT tableoid) FROM instances)::text AS partitions,
              (SELECT relkind::text FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = $2 AND c.relname = 'instances') AS kind`,
      [study, schema],
    );
    expect(rows[0]).toEqual({ instances: '12', copies: '36', partitions: expect.any(String), kind: 'p' });
    expect(Number(rows[0]?.partitions)).toBeGreaterThan(1);
  });

  it('still answers a re-send as already stored, and a changed instance as a new version (constraints across partitions)', async () => {
    const again = await inTransaction(pool, (client) => recordInstances(client, instances));
    expect(again.kind === 'recorded' && again.outcomes.map((o) => o.kind)).toEqual(instances.map(() => 'already_stored'));
    const changed = { ...instance(clinicId, study, 1), sha256: 'f'.repeat(64), datasetSha256: 'f'.repeat(64), objectKey: `sha256/${'f'.repeat(64)}` };
    const second = await inTransaction(pool, (client) => recordInstances(client, [changed]));
    expect(second.kind === 'recorded' && second.outcomes[0]?.kind).toBe('new_version');
    const { rows } = await pool.query<{ version: number; is_current: boolean }>(
      'SELECT version, is_current FROM instances WHERE sop_instance_uid = $1 ORDER BY version',
      [changed.sopInstanceUid],
    );
    expect(rows).toEqual([{ version: 1, is_current: false }, { version: 2, is_current: true }]);
    // One current version per SOP Instance UID is enforced by the database itself, whichever partition.
    await expect(
      pool.query(
        `INSERT INTO instances (series_ref, study_ref, clinic_id, sop_instance_uid, version, sop_class_uid, transfer_syntax_uid, sha256, size_bytes, dicom_json)
         SELECT series_ref, study_ref, clinic_id, sop_instance_uid, 3, sop_class_uid, transfer_syntax_uid, $2, size_bytes, dicom_json
           FROM instances WHERE sop_instance_uid = $1 AND version = 1`,
        [changed.sopInstanceUid, instances[5]?.sha256],
      ),
    ).rejects.toThrow(/instances_h\d\d_sop_instance_uid_idx|one_current/);
  });

  it('reads one partition for the write path lookups (EXPLAIN)', async () => {
    const byUid = await planOf(pool, 'SELECT id, version FROM instances WHERE sop_instance_uid = $1', [instances[3]?.sopInstanceUid]);
    expect(partitionsRead(byUid, 'instances')).toHaveLength(1);
    expect(byUid).toMatch(/Index (Only )?Scan/);
    const copy = await planOf(pool, 'SELECT id FROM copies WHERE sha256 = $1 AND target = $2', [instances[3]?.sha256, 'b']);
    expect(partitionsRead(copy, 'copies')).toHaveLength(1);
    expect(copy).toMatch(/copies_h\d\d_sha256_target_(key|idx)/);
    // The keeper's per-copy lookup of an object's instances (claims, lock extension, disposal): an index
    // probe on sha256 in each partition (migration 2051), not a whole (sop_instance_uid, sha256) index.
    const byObject = await planOf(pool, 'SELECT max(s.retain_until) FROM instances i JOIN studies s ON s.id = i.study_ref WHERE i.sha256 = $1', [instances[3]?.sha256]);
    expect(byObject).toMatch(/instances_h\d\d_sha256_idx/);
    expect(byObject).not.toMatch(/sop_instance_uid_sha256_key/);
    // A disposal's instances of a study, every version (the (study_ref, id) index holds current ones only).
    const byStudy = await planOf(pool, 'SELECT DISTINCT sha256 FROM instances WHERE study_ref = $1', ['1']);
    expect(byStudy).toMatch(/instances_h\d\d_study_ref_idx/);
    expect(byStudy).not.toMatch(/Seq Scan/);
    // QIDO's first current instance of a study: one index entry per partition, no sort of the study's rows.
    const first = await planOf(pool, 'SELECT dicom_json FROM instances WHERE study_ref = $1 AND is_current ORDER BY id LIMIT 1', ['1']);
    expect(first).toMatch(/Merge Append/);
    expect(first).not.toMatch(/^\s*->\s*Sort/m);
  });
});
