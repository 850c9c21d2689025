import fs from 'node:fs';
import path from 'node:path';
import { isDicomRejection, parseInstance } from '@yunying/dicom';
import { describeUnless, sharedDataDir } from '../support/skip';
import { firstValue, startSystem, stow, stowItems, type RunningSystem } from '../support/system';

const root = sharedDataDir('dicom');

function walk(dir: string): string[] {
  return fs.readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const full = path.join(dir, entry.name);
    if (entry.isDirectory()) return walk(full);
    return entry.isFile() && !entry.name.endsWith('.tsv') && !entry.name.endsWith('.md') && !entry.name.endsWith('.txt') ? [full] : [];
  });
}

/**
 * #3: every file in ../shared/data/dicom/ is either stored or rejected with the right reason, through the
 * real STOW-RS endpoint. The parser's own conformance test (packages/dicom) names the reason expected for
 * each refused file; here the archive must agree with it end to end, and keep nothing of a refused file.
 */
describeUnless(root === null ? 'shared DICOM data absent (YUNYING_SHARED_DATA)' : null, 'every shared DICOM file through STOW-RS (system)', () => {
  let system: RunningSystem;
  beforeAll(async () => {
    system = await startSystem();
  });
  afterAll(async () => {
    await system?.stop();
  });

  it('stores what the parser accepts and refuses the rest with the parser’s reason', async () => {
    const files = walk(root ?? '');
    expect(files.length).toBeGreaterThan(100);
    const expected = files.map((file) => {
      const bytes = fs.readFileSync(file);
      try {
        const parsed = parseInstance(bytes);
        return { file, bytes, accept: true as const, sop: parsed.sopInstanceUid };
      } catch (error) {
        if (!isDicomRejection(error)) throw error;
        return { file, bytes, accept: false as const, reason: error.reason };
      }
    });
    const mismatches: string[] = [];
    let stored = 0;
    let refused = 0;
    for (let i = 0; i < expected.length; i += 20) {
      const batch = expected.slice(i, i + 20);
      const result = await stow(system.urls.ingest ?? '', system.credentials.apiKey?.key ?? '', batch.map((b) => b.bytes));
      expect([200, 202, 409]).toContain(result.status);
      const referenced = stowItems(result, '00081199');
      const failed = stowItems(result, '00081198');
      // Failed items say which part they were ("part N: ..."), so each file's outcome is known exactly.
      const failedByPart = new Map(failed.map((f) => [Number(/^part (\d+):/.exec(String(firstValue(f, '00991012')))?.[1]), String(firstValue(f, '00991011'))]));
      batch.forEach((b, k) => {
        const reason = failedByPart.get(k + 1);
        const name = path.relative(root ?? '', b.file);
        if (b.accept) {
          // Test files reuse UIDs across unrelated files: a series already filed under another study is a
          // legitimate refusal of the archive (not of the parser).
          if (reason !== undefined && reason !== 'uid_conflict') mismatches.push(`${name}: parser accepts, archive refused (${reason})`);
          if (reason === undefined) stored += 1;
        } else {
          refused += 1;
          if (reason !== b.reason) mismatches.push(`${name}: expected refusal ${b.reason}, got ${reason ?? 'stored'}`);
        }
      });
      expect(referenced.length + failed.length).toBe(batch.length);
    }
    expect(mismatches).toEqual([]);
    expect(stored).toBeGreaterThan(200);
    expect(refused).toBeGreaterThan(20);
    // Nothing of a refused file is in the catalog: every instance row belongs to a file the parser accepted.
    const accepted = new Set(expected.filter((e) => e.accept).map((e) => (e.accept ? e.sop : '')));
    const rows = await system.pool.query<{ sop_instance_uid: string }>('SELECT DISTINCT sop_instance_uid FROM instances');
    expect(rows.rows.filter((r) => !accepted.has(r.sop_instance_uid))).toEqual([]);
  });
});
