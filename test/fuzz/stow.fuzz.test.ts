import { makeInstance, uidFromSeed } from '@yunying/dicom/testing';
import { startSystem, stow, stowItems, type RunningSystem } from '../support/system';
import { generatedSeeds, realSeeds } from './seeds';
import { prepare } from './parser.harness';
import { runStowFuzz } from './stow.harness';

/**
 * #8 fuzzing, STOW-RS target, the deterministic sample of `npm test`: 100 mutants POSTed to the real
 * ingest process (ROLE=ingest: the role under test, without the inference and viewer load). Never a
 * 5xx, never a hang, a reason for each refusal, nothing stored from a rejected mutant, the process
 * alive after every batch. The long run is bench/fuzz/run.ts.
 */
describe('mutation fuzzing: STOW-RS (sample, system)', () => {
  let system: RunningSystem;

  beforeAll(async () => {
    system = await startSystem({ env: { ROLE: 'ingest' } });
  });
  afterAll(async () => {
    await system?.stop();
  });

  it('answers 100 deterministic mutants with 2xx or 4xx + reason, stores nothing rejected, stays up', async () => {
    const seeds = prepare([...generatedSeeds('fuzz-stow-sample'), ...realSeeds(4, 128 * 1024)]);
    const summary = await runStowFuzz({ system, apiKey: system.credentials.apiKey?.key ?? '', seeds, cases: 100, seed: 20_240_802 });
    expect(summary.failures).toEqual([]);
    expect(summary.byKind.rejected ?? 0).toBeGreaterThan(30);
    expect(summary.byKind.accepted ?? 0).toBeGreaterThan(3);
  }, 180_000);

  it('stores an instance with a NUL inside a text value (found by the fuzzer: it was a 503 "retry later" forever)', async () => {
    const file = makeInstance({ seed: 'fuzz-nul', rows: 8, columns: 8, extra: { SeriesDescription: 'Left\0lobe', StudyID: '1\x002' } });
    const result = await stow(system.urls.ingest ?? '', system.credentials.apiKey?.key ?? '', [file]);
    expect(result.status).toBe(200);
    expect(stowItems(result, '00081199')).toHaveLength(1);
    const row = await system.pool.query<{ description: unknown }>(
      "SELECT dicom_json->'0008103E'->'Value'->>0 AS description FROM instances WHERE sop_instance_uid = $1 AND is_current",
      [uidFromSeed('fuzz-nul/instance')],
    );
    expect(row.rows[0]?.description).toBe('Leftlobe');
  });

  it('stores an instance whose IS values exceed 32 bits (found by the fuzzer: the integer columns refused them, 503 forever)', async () => {
    const file = makeInstance({ seed: 'fuzz-is', noPixelData: true, extra: { NumberOfFrames: '99999999999999', SeriesNumber: '4294967296' } });
    const result = await stow(system.urls.ingest ?? '', system.credentials.apiKey?.key ?? '', [file]);
    expect(result.status).toBe(200);
    const row = await system.pool.query<{ number_of_frames: number | null }>('SELECT number_of_frames FROM instances WHERE sop_instance_uid = $1', [uidFromSeed('fuzz-is/instance')]);
    expect(row.rows).toEqual([{ number_of_frames: null }]);
  });
});
