import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Journal } from './journal';
import { makeBatches } from './upload.service';

describe('upload journal', () => {
  let dir: string;
  beforeEach(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'yy-journal-'));
  });
  afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

  const entry = (p: string, size = 10) => ({ path: p, size, mtimeMs: 1, sha256: 'ab', sopInstanceUid: '1.2', outcome: 'stored' as const });

  it('remembers confirmed files across runs, and forgets a file that changed', () => {
    const file = path.join(dir, 'j.jsonl');
    const first = Journal.open(file);
    first.record([entry('/a'), entry('/b')]);
    first.close();
    const second = Journal.open(file);
    expect(second.lookup({ path: '/a', size: 10, mtimeMs: 1 })?.outcome).toBe('stored');
    expect(second.lookup({ path: '/b', size: 11, mtimeMs: 1 })).toBeUndefined();
    expect(second.lookup({ path: '/c', size: 10, mtimeMs: 1 })).toBeUndefined();
  });

  it('ignores a line torn by a crash mid-append, and compacts to one line per file', () => {
    const file = path.join(dir, 'j.jsonl');
    const journal = Journal.open(file);
    journal.record([entry('/a')]);
    journal.record([{ ...entry('/a'), outcome: 'already_stored' }]);
    journal.close();
    fs.appendFileSync(file, '{"path":"/b","size":1');
    const reopened = Journal.open(file);
    expect(reopened.lookup({ path: '/a', size: 10, mtimeMs: 1 })?.outcome).toBe('already_stored');
    reopened.compact();
    expect(fs.readFileSync(file, 'utf8').trim().split('\n')).toHaveLength(1);
  });
});

describe('batches', () => {
  it('cuts by file count and by bytes, a big file going alone', () => {
    const sizes = [5, 5, 5, 50, 5, 5, 5, 5].map((size) => ({ size }));
    expect(makeBatches(sizes, 3, 20).map((b) => b.map((f) => f.size))).toEqual([[5, 5, 5], [50], [5, 5, 5], [5]]);
  });
});
