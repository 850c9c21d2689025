import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { REPO_ROOT } from '../support/processes';
import { cycles, importGraph } from '../support/import-graph';

// Issue #19: no import cycle between the modules of packages/ and services/, nor between the packages.
describe('import cycles', () => {
  it('finds none across packages/ and services/ (modules, type-only imports included, and packages)', () => {
    const graph = importGraph(REPO_ROOT);
    expect(graph.modules.size).toBeGreaterThan(200);
    expect(cycles(graph.modules)).toEqual([]);
    expect(cycles(graph.packages)).toEqual([]);
  });

  it('reports a cycle through a workspace import, a re-export and a type-only import', () => {
    const root = fs.mkdtempSync(path.join(os.tmpdir(), 'yy-cycles-'));
    const write = (file: string, text: string): void => {
      fs.mkdirSync(path.dirname(path.join(root, file)), { recursive: true });
      fs.writeFileSync(path.join(root, file), text);
    };
    write('packages/a/package.json', JSON.stringify({ name: '@x/a' }));
    write('packages/b/package.json', JSON.stringify({ name: '@x/b' }));
    write('packages/a/src/index.ts', "export { one } from './one';\n");
    write('packages/a/src/one.ts', "import { two } from '@x/b';\nexport const one = two + 1;\n");
    write('packages/b/src/index.ts', "import type { Three } from './three';\nexport const two: Three = 2;\n");
    write('packages/b/src/three.ts', "import { one } from '@x/a';\nexport type Three = typeof one;\n");
    write('packages/b/src/leaf.ts', "import { two } from './index';\nexport const four = two * 2;\n");
    try {
      const graph = importGraph(root);
      expect(cycles(graph.modules)).toEqual([['packages/a/src/index.ts', 'packages/a/src/one.ts', 'packages/b/src/index.ts', 'packages/b/src/three.ts']]);
      expect(cycles(graph.packages)).toEqual([['@x/a', '@x/b']]);
    } finally {
      fs.rmSync(root, { recursive: true, force: true });
    }
  });

  it('counts a module importing itself', () => {
    expect(cycles(new Map([['a', new Set(['a'])], ['b', new Set(['a'])]]))).toEqual([['a']]);
  });
});
