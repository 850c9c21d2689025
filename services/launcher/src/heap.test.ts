import { spawnSync } from 'node:child_process';
import { INGEST_HEAP_GROWING_PERCENT, heapGrowingFlag } from './heap';

describe('heapGrowingFlag', () => {
  it('sets the growing factor in a process that runs the ingest role, alone or with the others', () => {
    expect(heapGrowingFlag('ingest', [])).toBe(`--heap-growing-percent=${INGEST_HEAP_GROWING_PERCENT}`);
    expect(heapGrowingFlag('all', ['--enable-source-maps', '--max-old-space-size=2048'])).toBe(`--heap-growing-percent=${INGEST_HEAP_GROWING_PERCENT}`);
  });

  it('leaves the roles without ingest as V8 has them', () => {
    for (const role of ['viewer', 'inference', 'keeper'] as const) expect(heapGrowingFlag(role, [])).toBeNull();
  });

  it("leaves the operator's own choice on node's command line alone, in either spelling", () => {
    expect(heapGrowingFlag('ingest', ['--heap-growing-percent=20'])).toBeNull();
    expect(heapGrowingFlag('ingest', ['--heap-growing-percent', '20'])).toBeNull();
    expect(heapGrowingFlag('all', ['--require', 'x.js', '--heap_growing_percent=50'])).toBeNull();
    // A flag that only begins alike is not the operator's choice of this one.
    expect(heapGrowingFlag('ingest', ['--heap-growing-percentile=1'])).toBe(`--heap-growing-percent=${INGEST_HEAP_GROWING_PERCENT}`);
  });

  it('is a flag this Node accepts (an unknown V8 flag on the command line stops node with "bad option")', () => {
    const flag = heapGrowingFlag('ingest', []);
    if (flag === null) throw new Error('expected a flag');
    const run = spawnSync(process.execPath, [flag, '-e', '0'], { encoding: 'utf8' });
    expect(run.stderr).toBe('');
    expect(run.status).toBe(0);
  });
});
