import { AppError } from '@yunying/core';
import { createTargetsFromConfig } from './config';
import { FsReplicaTarget } from './fs.target';
import { S3ReplicaTarget } from './s3.target';

describe('createTargetsFromConfig', () => {
  it('builds fs targets named fs-1..fs-3 from a list of roots', () => {
    const targets = createTargetsFromConfig({ kind: 'fs', roots: ['/d1/yy', '/d2/yy', '/d3/yy'] });
    expect(targets.map((t) => [t.name, t.kind])).toEqual([
      ['fs-1', 'fs'],
      ['fs-2', 'fs'],
      ['fs-3', 'fs'],
    ]);
    expect(targets[1]).toBeInstanceOf(FsReplicaTarget);
  });

  it('builds S3 targets, each bucket on its own endpoint if wanted', () => {
    const creds = { accessKey: 'a', secretKey: 'b' };
    const targets = createTargetsFromConfig({
      kind: 's3',
      replicas: [
        { endpoint: 'http://s3-a:9000', bucket: 'yy', ...creds },
        { endpoint: 'https://s3-b', bucket: 'yy', ...creds, name: 'dc2' },
        { endpoint: 'http://s3-a:9000', bucket: 'yy-3', ...creds },
      ],
    });
    expect(targets.map((t) => t.name)).toEqual(['s3-1', 'dc2', 's3-3']);
    expect(targets.every((t) => t instanceof S3ReplicaTarget)).toBe(true);
  });

  it('refuses two targets on one root or one bucket, and endpoints that are not URLs', () => {
    expect(() => createTargetsFromConfig({ kind: 'fs', roots: ['/d1/yy', '/d1/yy/', '/d3'] })).toThrow(AppError);
    const creds = { accessKey: 'a', secretKey: 'b' };
    expect(() =>
      createTargetsFromConfig({
        kind: 's3',
        replicas: [
          { endpoint: 'http://s3-a:9000', bucket: 'yy', ...creds },
          { endpoint: 'http://s3-a:9000/', bucket: 'yy', ...creds },
        ],
      }),
    ).toThrow(AppError);
    expect(() => createTargetsFromConfig({ kind: 's3', replicas: [{ endpoint: 's3-a:9000', bucket: 'x', ...creds }] })).toThrow(AppError);
  });
});
