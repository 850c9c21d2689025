import { catalogScaleMode, databaseUrl } from '../../bench/src/benches/catalog-kept';
import { catalogSizes, growthRefusal, studiesFor } from '../../bench/src/benches/catalog-scale';
import { Args } from '../../bench/src/lib/args';

// bench:catalog-scale's options for loading a kept catalog apart from measuring it (#18); the loading and
// measuring themselves run against PostgreSQL in the benchmark, not here.
describe('catalog-scale modes', () => {
  const mode = (...argv: string[]): ReturnType<typeof catalogScaleMode> => catalogScaleMode(new Args(argv));

  it('is a full growing run without the kept-database options', () => {
    expect(mode('--sizes', '1000000,5000000')).toEqual({ kind: 'run' });
  });

  it('loads, measures or compares named databases', () => {
    expect(mode('--database', 'yy_scale_1m', '--load-only', '--sizes', '1000000')).toEqual({ kind: 'load', database: 'yy_scale_1m' });
    expect(mode('--measure-only', '--database=yy_scale_5m')).toEqual({ kind: 'measure', database: 'yy_scale_5m' });
    expect(mode('--compare', 'yy_scale_1m, yy_scale_5m')).toEqual({ kind: 'compare', databases: ['yy_scale_1m', 'yy_scale_5m'] });
  });

  it('refuses combinations that mean nothing', () => {
    expect(() => mode('--load-only')).toThrow('needs --database');
    expect(() => mode('--database', 'yy_a')).toThrow('--load-only or --measure-only');
    expect(() => mode('--database', 'yy_a', '--load-only', '--measure-only')).toThrow('one or the other');
    expect(() => mode('--compare', 'yy_a')).toThrow('at least two');
    expect(() => mode('--compare', 'yy_a,yy_b', '--measure-only')).toThrow('nothing else');
  });

  it('takes only plain database names (they are quoted into CREATE DATABASE)', () => {
    expect(() => mode('--database', 'Yy-1m"; DROP', '--load-only')).toThrow('not a database name');
    expect(() => mode('--compare', 'yy_a,yy b')).toThrow('not a database name');
  });

  it('puts the database into the server URL', () => {
    expect(databaseUrl('postgres://postgres@127.0.0.1:5432/postgres', 'yy_scale_1m')).toBe('postgres://postgres@127.0.0.1:5432/yy_scale_1m');
    expect(databaseUrl('postgres://u:p@db:6543/x?sslmode=disable', 'yy_b')).toBe('postgres://u:p@db:6543/yy_b?sslmode=disable');
  });
});

describe('catalog-scale sizes and disk', () => {
  it('reads --sizes as instance rows, 20 per study', () => {
    expect(catalogSizes(new Args(['--sizes', '1000000,5000000']), '1')).toEqual([1_000_000, 5_000_000]);
    expect(studiesFor(5_000_000)).toBe(250_000);
    expect(() => catalogSizes(new Args(['--sizes', '5M']), '1')).toThrow('--sizes');
    expect(() => catalogSizes(new Args(['--sizes', '10']), '1')).toThrow('--sizes');
  });

  it('refuses a growth step that would leave less than the kept free space', () => {
    // 0 -> 5 M rows at 4 800 bytes: 24 GB + 6 GB headroom.
    expect(growthRefusal(0, 250_000, 4_800, 80e9, 15e9)).toBeNull();
    expect(growthRefusal(0, 250_000, 4_800, 40e9, 15e9)).toMatch(/^5 M instance rows not grown: ~30 GB needed at 4800 bytes .* 40 GB free, 15 GB to be kept free$/);
    // Growing 1 M -> 5 M needs only the 4 M new rows; without a measured size the first guess (5 000 bytes) counts.
    expect(growthRefusal(50_000, 250_000, 4_800, 45e9, 15e9)).toBeNull();
    expect(growthRefusal(0, 250_000, null, 45e9, 15e9)).toMatch(/at 5000 bytes/);
  });
});
