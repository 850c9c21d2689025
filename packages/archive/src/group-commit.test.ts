import { GroupCommitter } from './group-commit';

/** A commit function the test ends by hand: each call is recorded with the groups it was given. */
function gate(): { calls: string[][][]; release: () => void; commit: (group: ReadonlyArray<readonly string[]>) => Promise<string[][]> } {
  const calls: string[][][] = [];
  const waiting: Array<() => void> = [];
  return {
    calls,
    release: () => waiting.shift()?.(),
    commit: (group) => {
      calls.push(group.map((s) => [...s]));
      return new Promise((resolve) => waiting.push(() => resolve(group.map((s) => s.map((item) => `ok:${item}`)))));
    },
  };
}

const flush = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

describe('GroupCommitter', () => {
  test('a lone submission is committed at once; those that arrive meanwhile share the next commit, in order', async () => {
    const g = gate();
    const committer = new GroupCommitter<string, string>({ maxInstances: 10 }, (item) => item, g.commit);
    const first = committer.submit(['a']);
    expect(g.calls).toEqual([[['a']]]);
    const second = committer.submit(['b', 'c']);
    const third = committer.submit(['d']);
    g.release();
    expect(await first).toEqual(['ok:a']);
    await flush();
    expect(g.calls[1]).toEqual([['b', 'c'], ['d']]);
    g.release();
    expect(await second).toEqual(['ok:b', 'ok:c']);
    expect(await third).toEqual(['ok:d']);
  });

  test('a key already in the group, or a submission past the limit, waits for the next commit; a large one goes alone', async () => {
    const g = gate();
    const committer = new GroupCommitter<string, string>({ maxInstances: 3 }, (item) => item.split('#')[0] as string, g.commit);
    const results = [committer.submit(['x']), committer.submit(['a', 'b']), committer.submit(['a#2']), committer.submit(['c', 'd', 'e', 'f']), committer.submit(['g'])];
    for (let i = 0; i < 5; i++) {
      g.release();
      await flush();
    }
    await Promise.all(results);
    expect(g.calls).toEqual([[['x']], [['a', 'b']], [['a#2']], [['c', 'd', 'e', 'f']], [['g']]]);
  });

  test('a commit that throws rejects every submission of its group, and the next group is still committed', async () => {
    let calls = 0;
    const committer = new GroupCommitter<string, string>({ maxInstances: 10 }, (item) => item, (group) => {
      calls++;
      if (calls === 1) return Promise.reject(new Error('lost'));
      return Promise.resolve(group.map((s) => s.map((item) => `ok:${item}`)));
    });
    const failed = committer.submit(['a']);
    const after = committer.submit(['b']);
    await expect(failed).rejects.toThrow('lost');
    expect(await after).toEqual(['ok:b']);
  });
});
