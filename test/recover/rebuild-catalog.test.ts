import fs from 'node:fs';
import path from 'node:path';
import { makeInstance, makeStudy, newUid } from '@yunying/dicom/testing';
import { quoteIdent } from '@yunying/catalog';
import { FsReplicaTarget, ReplicatedStore } from '@yunying/storage';
import { s3SystemEnv, s3TestSettings, uniqueBucketName } from '@yunying/storage/testing';
import { api, sha256, signIn } from '../keep/keep.support';
import { describeUnless } from '../support/skip';
import { startSystem, stow, stowItems, type RunningSystem } from '../support/system';
import { archiveCli, catalogSnapshot } from './rebuild.support';

/**
 * #18 rebuild-catalog on the fs replica targets: studies of two clinics (two series, one instance in a
 * second version) go through the real ingest path (STOW-RS to the launcher process); the catalog is then
 * rebuilt from the three copies alone into empty schemas by the real CLI, and the rows must equal the
 * originals. Damage to copies is reported, never repaired or deleted by the rebuild.
 */

interface Report {
  objects: number;
  pending: number;
  outcomes: Record<string, number>;
  catalog: Record<string, number>;
  mismatches: {
    fewerCopies: { count: number; sample: { sha256: string; goodOn: string[] }[] };
    digestMismatch: { count: number; sample: { sha256: string; target: string }[] };
    unattributed: { count: number; sample: { sha256: string; outcome: string }[] };
    notIndexed: { count: number; sample: { sha256: string; outcome: string }[] };
  };
}

const TARGETS = ['fs-1', 'fs-2', 'fs-3'];

function listFiles(dir: string): string[] {
  const out: string[] = [];
  const walk = (d: string): void => {
    for (const entry of fs.readdirSync(d, { withFileTypes: true })) {
      const full = path.join(d, entry.name);
      if (entry.isDirectory()) walk(full);
      else out.push(path.relative(dir, full));
    }
  };
  walk(dir);
  return out.sort();
}

describe('rebuild-catalog from the fs replica targets (system)', () => {
  let system: RunningSystem;
  let objectCount: number;
  const schemas: string[] = [];
  const root = (target: string): string => path.join(system.dataDir, `replica-${'abc'[TARGETS.indexOf(target)]}`);
  const rebuiltSchema = (): string => {
    const name = `${system.env.DATABASE_SCHEMA ?? ''}_rb${schemas.length}`;
    schemas.push(name);
    return name;
  };

  beforeAll(async () => {
    system = await startSystem({ env: { SCRUB_INTERVAL_SECONDS: '0', REPAIR_RETRY_SECONDS: '3600', ORPHAN_SWEEP_INTERVAL_SECONDS: '0' } });
    const admin = await signIn(system, 'admin');
    const other = system.credentials.clinics.find((c) => c.code !== system.credentials.apiKey?.clinicCode);
    if (!other) throw new Error('the seed has one clinic only');
    const created = await fetch(`${system.urls.viewer}/api/admin/api-keys`, {
      method: 'POST',
      headers: { authorization: `Bearer ${admin}`, 'content-type': 'application/json' },
      body: JSON.stringify({ clinicId: other.id, name: 'rebuild-test' }),
    });
    expect(created.status).toBe(201);
    const otherKey = ((await created.json()) as { key: string }).key;

    const a = makeStudy(5, { rows: 16, columns: 16, modality: 'US' });
    const b = makeStudy(3, { rows: 8, columns: 8, modality: 'US' });
    const bSecondSeries = makeStudy(2, { rows: 8, columns: 8, modality: 'SR', studyInstanceUid: b.studyInstanceUid, seriesInstanceUid: newUid(), seriesNumber: 2 });
    const ingest = system.urls.ingest ?? '';
    expect((await stow(ingest, system.credentials.apiKey?.key ?? '', a.files)).status).toBe(200);
    expect((await stow(ingest, otherKey, [...b.files, ...bSecondSeries.files])).status).toBe(200);
    // Different bytes under a known SOP Instance UID: version 2, which becomes current.
    const second = makeInstance({ rows: 16, columns: 16, studyInstanceUid: a.studyInstanceUid, seriesInstanceUid: a.seriesInstanceUid, sopInstanceUid: a.sopInstanceUids[0], instanceNumber: 1, studyDescription: 'corrected' });
    const versioned = await stow(ingest, system.credentials.apiKey?.key ?? '', [second]);
    expect(stowItems(versioned, '00081199')).toHaveLength(1);
    // A legal hold lives on the copies too (fs sidecar, S3 object legal hold): the rebuild must bring it back.
    expect((await api(system, 'PUT', `/api/admin/studies/${b.studyInstanceUid}/legal-hold`, admin, { on: true })).status).toBe(200);
    objectCount = 5 + 3 + 2 + 1;
    const versions = await system.pool.query<{ n: string }>('SELECT count(*) AS n FROM instances WHERE version = 2');
    expect(Number(versions.rows[0]?.n)).toBe(1);
  });

  afterAll(async () => {
    for (const schema of schemas) await system?.pool.query(`DROP SCHEMA IF EXISTS ${quoteIdent(schema)} CASCADE`);
    await system?.stop();
  });

  it('rebuilds studies, series, instances, objects and copies equal to the originals, and again without change', async () => {
    const live = await catalogSnapshot(system.pool, system.env.DATABASE_SCHEMA ?? '');
    expect(live.instances).toHaveLength(objectCount);
    expect(live.copies).toHaveLength(objectCount * 3);
    expect(live.clinics).toHaveLength(2);
    expect((live.studies as { legal_hold: boolean }[]).map((st) => st.legal_hold).sort()).toEqual([false, true]);
    expect((live.objects as { legal_hold: boolean }[]).filter((o) => o.legal_hold)).toHaveLength(5);
    const schema = rebuiltSchema();

    // A bounded run stops after 4 objects with the rest pending (exit 4); the next run continues from there.
    const bounded = await archiveCli(system, ['rebuild-catalog', '--schema', schema, '--json', '--max-objects', '4']);
    expect({ code: bounded.code, stderr: bounded.stderr }).toEqual({ code: 4, stderr: '' });
    const partial = JSON.parse(bounded.stdout) as Report;
    expect([partial.objects, partial.pending, partial.outcomes.indexed, partial.catalog.instances]).toEqual([objectCount, objectCount - 4, 4, 4]);

    const first = await archiveCli(system, ['rebuild-catalog', '--schema', schema, '--json']);
    expect({ code: first.code, stderr: first.stderr }).toEqual({ code: 0, stderr: '' });
    const report = JSON.parse(first.stdout) as Report;
    expect(report.objects).toBe(objectCount);
    expect(report.pending).toBe(0);
    expect(report.outcomes).toEqual({ indexed: objectCount });
    expect(report.catalog).toMatchObject({ studies: 2, series: 3, instances: objectCount, objects: objectCount, copies: objectCount * 3 });
    expect([report.mismatches.fewerCopies.count, report.mismatches.digestMismatch.count, report.mismatches.unattributed.count, report.mismatches.notIndexed.count]).toEqual([0, 0, 0, 0]);
    expect(await catalogSnapshot(system.pool, schema)).toEqual(live);

    // Idempotent: a second run over the finished rebuild changes nothing and reports the same.
    const again = await archiveCli(system, ['rebuild-catalog', '--schema', schema, '--json']);
    expect(again.code).toBe(0);
    expect(JSON.parse(again.stdout)).toEqual(report);
    expect(await catalogSnapshot(system.pool, schema)).toEqual(live);

    const compared = await archiveCli(system, ['rebuild-catalog', '--compare', '--schema', schema]);
    expect(compared.code).toBe(0);
    expect(compared.stdout).toMatch(/no differences/);
    // Into a catalog that already holds instances of its own, a rebuild refuses.
    const refused = await archiveCli(system, ['rebuild-catalog']);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toMatch(/already holds instances/);
  });

  it('reports missing and corrupt copies and objects without a clinic, deletes nothing, and --compare names the differences', async () => {
    const { rows } = await system.pool.query<{ sha256: string; object_key: string }>('SELECT sha256, object_key FROM objects ORDER BY sha256 LIMIT 2');
    const [missing, corrupt] = rows;
    if (!missing || !corrupt) throw new Error('objects missing');
    fs.unlinkSync(path.join(root('fs-2'), missing.object_key));
    const file = path.join(root('fs-3'), corrupt.object_key);
    fs.chmodSync(file, 0o644);
    const handle = fs.openSync(file, 'r+');
    fs.writeSync(handle, Buffer.from('rotten bytes'), 0, 12, 200);
    fs.closeSync(handle);
    // Copies written without an origin (as before #18): listed and reported, not attributed to anyone.
    const store = new ReplicatedStore({ targets: TARGETS.map((name) => new FsReplicaTarget({ name, root: root(name), createRoot: false })) });
    const anonymous = makeInstance({ rows: 8, columns: 8 });
    await store.put(anonymous, { retainUntil: new Date(Date.now() + 15 * 366 * 86_400_000) });
    const before = TARGETS.map((t) => listFiles(root(t)));

    const schema = rebuiltSchema();
    const run = await archiveCli(system, ['rebuild-catalog', '--schema', schema, '--json']);
    expect(run.code).toBe(3);
    const report = JSON.parse(run.stdout) as Report;
    expect(report.objects).toBe(objectCount + 1);
    expect(report.outcomes).toEqual({ indexed: objectCount, unattributed: 1 });
    expect(report.mismatches.fewerCopies.sample).toEqual(
      [
        { sha256: missing.sha256, goodOn: ['fs-1', 'fs-3'] },
        { sha256: corrupt.sha256, goodOn: ['fs-1', 'fs-2'] },
      ].sort((x, y) => x.sha256.localeCompare(y.sha256)),
    );
    expect(report.mismatches.digestMismatch.sample).toEqual([{ sha256: corrupt.sha256, target: 'fs-3' }]);
    expect(report.mismatches.unattributed.sample).toEqual([{ sha256: sha256(anonymous), outcome: 'unattributed' }]);
    // No patient data on either stream: the fixtures' patient name never appears.
    expect(run.stdout + run.stderr).not.toMatch(/\^/);

    // The rebuild read the targets and changed nothing there.
    expect(TARGETS.map((t) => listFiles(root(t)))).toEqual(before);
    const states = await system.pool.query<{ sha256: string; target: string; state: string }>(
      `SELECT sha256, target, state FROM ${quoteIdent(schema)}.copies WHERE state <> 'ok' ORDER BY sha256, target`,
    );
    expect(states.rows).toEqual(
      [
        { sha256: missing.sha256, target: 'fs-2', state: 'missing' },
        { sha256: corrupt.sha256, target: 'fs-3', state: 'corrupt' },
      ].sort((x, y) => x.sha256.localeCompare(y.sha256)),
    );

    const compared = await archiveCli(system, ['rebuild-catalog', '--compare', '--schema', schema]);
    expect({ code: compared.code, stderr: compared.stderr }).toEqual({ code: 3, stderr: '' });
    const lines = compared.stdout.split('\n').filter((l) => l.startsWith('copy '));
    expect(lines.sort()).toEqual(
      [`copy ${missing.sha256} fs-2: differs in lock_mode, state`, `copy ${corrupt.sha256} fs-3: differs in lock_mode, state`].sort(),
    );
    expect(compared.stdout).toMatch(/2 differences/);
  });

  it('goes on without a target it cannot reach: names it, records its copies missing, indexes every object from the others', async () => {
    const away = `${root('fs-2')}.unmounted`;
    fs.renameSync(root('fs-2'), away);
    try {
      const schema = rebuiltSchema();
      const run = await archiveCli(system, ['rebuild-catalog', '--schema', schema, '--json']);
      expect(run.code).toBe(3);
      const report = JSON.parse(run.stdout) as Report & { unreachable: string[] };
      expect(report.unreachable).toEqual(['fs-2']);
      expect(report.outcomes).toEqual({ indexed: objectCount, unattributed: 1 });
      const states = await system.pool.query<{ target: string; state: string; n: string }>(
        `SELECT target, state, count(*) AS n FROM ${quoteIdent(schema)}.copies GROUP BY 1, 2 ORDER BY 1, 2`,
      );
      // fs-3 still holds the copy corrupted by the previous test.
      expect(states.rows.map((r) => `${r.target} ${r.state} ${r.n}`)).toEqual([
        `fs-1 ok ${objectCount}`,
        `fs-2 missing ${objectCount}`,
        'fs-3 corrupt 1',
        `fs-3 ok ${objectCount - 1}`,
      ]);
    } finally {
      fs.renameSync(away, root('fs-2'));
    }
  });

  it('--adopt after a point-in-time restore: indexes only what the restored catalog lacks and leaves the rest as it is', async () => {
    const later = makeStudy(2, { rows: 8, columns: 8 });
    expect((await stow(system.urls.ingest ?? '', system.credentials.apiKey?.key ?? '', later.files)).status).toBe(200);
    const schemaName = system.env.DATABASE_SCHEMA ?? '';
    const before = await catalogSnapshot(system.pool, schemaName);
    // The restored catalog predates the last study: its rows are gone, its copies are on the targets.
    const digests = later.files.map(sha256);
    await system.pool.query('DELETE FROM copies WHERE sha256 = ANY($1)', [digests]);
    await system.pool.query('DELETE FROM instances WHERE sha256 = ANY($1)', [digests]);
    await system.pool.query('DELETE FROM series WHERE series_instance_uid = $1', [later.seriesInstanceUid]);
    await system.pool.query('DELETE FROM studies WHERE study_instance_uid = $1', [later.studyInstanceUid]);
    await system.pool.query('DELETE FROM objects WHERE sha256 = ANY($1)', [digests]);

    const run = await archiveCli(system, ['rebuild-catalog', '--adopt', '--json']);
    // Exit 3: the copies damaged by the earlier tests are still reported.
    expect(run.code).toBe(3);
    const report = JSON.parse(run.stdout) as Report;
    expect(report.outcomes).toEqual({ catalogued: objectCount, indexed: 2, unattributed: 1 });
    // The restored rows (including their copy states: the damage above is the scrubber's to find) are
    // untouched, the later study is back as it was.
    expect(await catalogSnapshot(system.pool, schemaName)).toEqual(before);
  });
});

const s3 = s3TestSettings();

describeUnless(s3 === null ? 'no S3 endpoint (S3_ENDPOINT unset; Ceph RGW not running)' : null, 'rebuild-catalog from S3 Object Lock buckets (system, Ceph RGW)', () => {
  let system: RunningSystem;
  let schema: string;

  beforeAll(async () => {
    const buckets = ['a', 'b', 'c'].map((r) => uniqueBucketName(`yy-rebuild-${r}`));
    system = await startSystem({ env: { ...s3SystemEnv(s3!, buckets), SCRUB_INTERVAL_SECONDS: '0', REPAIR_RETRY_SECONDS: '3600', ORPHAN_SWEEP_INTERVAL_SECONDS: '0' } });
    schema = `${system.env.DATABASE_SCHEMA ?? ''}_rb`;
    const study = makeStudy(4, { rows: 8, columns: 8 });
    expect((await stow(system.urls.ingest ?? '', system.credentials.apiKey?.key ?? '', study.files)).status).toBe(200);
    // An S3 object legal hold on every copy of the study: brought back by the rebuild as the study's hold.
    expect((await api(system, 'PUT', `/api/admin/studies/${study.studyInstanceUid}/legal-hold`, await signIn(system, 'admin'), { on: true })).status).toBe(200);
  });
  afterAll(async () => {
    await system?.pool.query(`DROP SCHEMA IF EXISTS ${quoteIdent(schema)} CASCADE`);
    await system?.stop();
  });

  it('rebuilds rows equal to the originals, version ids and COMPLIANCE retain-until included', async () => {
    const live = await catalogSnapshot(system.pool, system.env.DATABASE_SCHEMA ?? '');
    expect(live.copies).toHaveLength(12);
    expect((live.studies as { legal_hold: boolean }[]).map((st) => st.legal_hold)).toEqual([true]);
    expect((live.copies as { version_id: string | null }[]).every((c) => typeof c.version_id === 'string' && c.version_id !== '')).toBe(true);
    const run = await archiveCli(system, ['rebuild-catalog', '--schema', schema, '--json']);
    expect({ code: run.code, stderr: run.stderr }).toEqual({ code: 0, stderr: '' });
    expect((JSON.parse(run.stdout) as Report).outcomes).toEqual({ indexed: 4 });
    expect(await catalogSnapshot(system.pool, schema)).toEqual(live);
    const compared = await archiveCli(system, ['rebuild-catalog', '--compare', '--schema', schema]);
    expect(compared.code).toBe(0);
  });
});
