import { generatedSeeds, realSeeds } from './seeds';
import { prepare, runParserFuzz } from './parser.harness';
import { recordSkip } from '../support/skip';

/**
 * #8 fuzzing, parser target, the deterministic sample of `npm test`: mutants of generated fixtures
 * and (when the shared data folder is there) of real files. parseInstance returns or throws
 * DicomRejection, decodeFrame returns or throws PixelDecodeError, every case within 2 s. The long run
 * is bench/fuzz/run.ts (10,000+ cases).
 */
describe('mutation fuzzing: parseInstance and decodeFrame (sample)', () => {
  it('survives 400 deterministic mutants: only DicomRejection / PixelDecodeError, no hang, no slow case', async () => {
    const real = realSeeds(6, 256 * 1024);
    if (real.length === 0) recordSkip('parser fuzz: real-file seeds', 'shared data folder (../shared/data/dicom) absent; generated seeds only');
    const seeds = prepare([...generatedSeeds('fuzz-sample'), ...real]);
    const summary = await runParserFuzz({ seeds, cases: 400, seed: 20_240_801 });
    // Both outcomes must be exercised, or the sample tests nothing.
    expect(summary.byKind.accepted ?? 0).toBeGreaterThan(10);
    expect(summary.byKind.rejected ?? 0).toBeGreaterThan(100);
    expect(summary.failures).toEqual([]);
  }, 120_000);
});
