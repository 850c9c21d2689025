import { execFileSync } from 'node:child_process';
import path from 'node:path';

const REPO_ROOT = path.resolve(__dirname, '../../..');

/**
 * In a fresh process (jest's module registry would hide what Node itself loads): the package's source
 * compiled as jest compiles it, and Node's own require cache read before and after an S3 target is built.
 */
function minioLoaded(script: string): boolean[] {
  const out = execFileSync(process.execPath, ['-r', './bench/fuzz/register.cjs', '-e', script], { cwd: REPO_ROOT, encoding: 'utf8' });
  return JSON.parse(out.trim()) as boolean[];
}

describe('minio, loaded on first use', () => {
  it('is not in a process that only imports the storage package and builds filesystem targets, and is once an S3 target is built', () => {
    const script = `
      const loaded = () => Object.keys(require.cache).some((k) => k.includes('/node_modules/minio/'));
      const storage = require('./packages/storage/src/index.ts');
      const seen = [loaded()];
      storage.createTargetsFromConfig({ kind: 'fs', roots: ['/d1/yy', '/d2/yy', '/d3/yy'] });
      seen.push(loaded());
      const [s3] = storage.createTargetsFromConfig({ kind: 's3', replicas: [{ endpoint: 'http://s3-a:9000', bucket: 'yy', accessKey: 'a', secretKey: 'b' }] });
      seen.push(loaded(), s3.kind === 's3');
      console.log(JSON.stringify(seen));
    `;
    expect(minioLoaded(script)).toEqual([false, false, true, true]);
  });
});
