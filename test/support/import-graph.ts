/**
 * The import graph of the TypeScript sources (TypeScript's own parser, no bundler), and its cycles. A
 * cycle between modules makes their load order matter (a value read before its module finished loading
 * is undefined under CommonJS); a cycle between workspace packages makes them one package in all but name.
 */
import fs from 'node:fs';
import path from 'node:path';
import ts from 'typescript';

export interface ImportGraph {
  /** Repository-relative module path -> the repository-relative modules it imports (types included). */
  modules: Map<string, Set<string>>;
  /** Workspace package name -> the workspace packages its non-test sources import. */
  packages: Map<string, Set<string>>;
}

const SOURCE_DIRS = ['src', 'web/src'];

/** Every TypeScript source under `dir` (declarations, node_modules and build output left out). */
export function tsFiles(dir: string): string[] {
  if (!fs.existsSync(dir)) return [];
  return fs.readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const full = path.join(dir, entry.name);
    if (entry.isDirectory()) return entry.name === 'node_modules' || entry.name === 'dist' ? [] : tsFiles(full);
    return entry.name.endsWith('.ts') && !entry.name.endsWith('.d.ts') ? [full] : [];
  });
}

/** Every module specifier of a file: imports and re-exports (type-only too), import() and require(). */
export function specifiersOf(fileName: string, text: string): string[] {
  const source = ts.createSourceFile(fileName, text, ts.ScriptTarget.Latest, false, ts.ScriptKind.TS);
  const found: string[] = [];
  const visit = (node: ts.Node): void => {
    if ((ts.isImportDeclaration(node) || ts.isExportDeclaration(node)) && node.moduleSpecifier && ts.isStringLiteral(node.moduleSpecifier)) {
      found.push(node.moduleSpecifier.text);
    } else if (ts.isCallExpression(node) && node.arguments.length === 1) {
      const [arg] = node.arguments;
      const isImport = node.expression.kind === ts.SyntaxKind.ImportKeyword;
      const isRequire = ts.isIdentifier(node.expression) && node.expression.text === 'require';
      if ((isImport || isRequire) && arg && ts.isStringLiteral(arg)) found.push(arg.text);
    }
    ts.forEachChild(node, visit);
  };
  visit(source);
  return found;
}

function resolveRelative(from: string, specifier: string): string | null {
  const base = path.resolve(path.dirname(from), specifier);
  const candidates = [base, `${base}.ts`, base.replace(/\.js$/, '.ts'), path.join(base, 'index.ts')];
  return candidates.find((c) => c.endsWith('.ts') && fs.existsSync(c)) ?? null;
}

interface Workspace {
  name: string;
  dir: string;
}

function workspaces(root: string): Workspace[] {
  return ['packages', 'services'].flatMap((group) => {
    const groupDir = path.join(root, group);
    if (!fs.existsSync(groupDir)) return [];
    return fs.readdirSync(groupDir).flatMap((name) => {
      const pkgFile = path.join(groupDir, name, 'package.json');
      if (!fs.existsSync(pkgFile)) return [];
      const pkg = JSON.parse(fs.readFileSync(pkgFile, 'utf8')) as { name?: unknown };
      return typeof pkg.name === 'string' ? [{ name: pkg.name, dir: path.join(groupDir, name) }] : [];
    });
  });
}

const isTest = (file: string): boolean => /\.test\.ts$/.test(file) || path.basename(file) === 'testing.ts';

/** The graph of packages/* and services/* sources under `root` (a workspace import resolves to its src/index.ts or src/testing.ts). */
export function importGraph(root: string): ImportGraph {
  const spaces = workspaces(root);
  const byName = new Map(spaces.map((w) => [w.name, w]));
  const owner = (file: string): Workspace | undefined => spaces.find((w) => file.startsWith(`${w.dir}${path.sep}`));
  const modules = new Map<string, Set<string>>();
  const packages = new Map<string, Set<string>>(spaces.map((w) => [w.name, new Set<string>()]));
  for (const space of spaces) {
    for (const file of SOURCE_DIRS.flatMap((d) => tsFiles(path.join(space.dir, d)))) {
      const edges = new Set<string>();
      for (const specifier of specifiersOf(file, fs.readFileSync(file, 'utf8'))) {
        let target: string | null = null;
        if (specifier.startsWith('.')) target = resolveRelative(file, specifier);
        else {
          const [scope = '', name = '', ...rest] = specifier.split('/');
          const dep = byName.get(`${scope}/${name}`);
          if (!dep) continue;
          const entry = path.join(dep.dir, 'src', rest.length === 0 ? 'index.ts' : `${rest.join('/')}.ts`);
          target = fs.existsSync(entry) ? entry : null;
        }
        if (target === null) continue;
        edges.add(path.relative(root, target));
        const to = owner(target);
        if (to && to.name !== space.name && !isTest(file)) packages.get(space.name)?.add(to.name);
      }
      modules.set(path.relative(root, file), edges);
    }
  }
  return { modules, packages };
}

/**
 * The cycles of a directed graph: its strongly connected components with more than one node, or one node
 * importing itself (Tarjan), each sorted, listed in sorted order so a report is stable.
 */
export function cycles(graph: ReadonlyMap<string, ReadonlySet<string>>): string[][] {
  let counter = 0;
  const index = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const onStack = new Set<string>();
  const found: string[][] = [];
  // Iterative, so a deep import chain cannot overflow the call stack.
  for (const start of graph.keys()) {
    if (index.has(start)) continue;
    const work: { node: string; next: Iterator<string> }[] = [];
    const open = (node: string): void => {
      index.set(node, counter);
      low.set(node, counter);
      counter += 1;
      stack.push(node);
      onStack.add(node);
      work.push({ node, next: (graph.get(node) ?? new Set<string>()).values() });
    };
    open(start);
    while (work.length > 0) {
      const top = work[work.length - 1];
      if (!top) break;
      const step = top.next.next();
      if (!step.done) {
        const to = step.value;
        if (!index.has(to)) open(to);
        else if (onStack.has(to)) low.set(top.node, Math.min(low.get(top.node) ?? 0, index.get(to) ?? 0));
        continue;
      }
      work.pop();
      const parent = work[work.length - 1];
      if (parent) low.set(parent.node, Math.min(low.get(parent.node) ?? 0, low.get(top.node) ?? 0));
      if (low.get(top.node) !== index.get(top.node)) continue;
      const component: string[] = [];
      for (;;) {
        const member = stack.pop();
        if (member === undefined) break;
        onStack.delete(member);
        component.push(member);
        if (member === top.node) break;
      }
      if (component.length > 1 || graph.get(top.node)?.has(top.node)) found.push(component.sort());
    }
  }
  return found.sort((a, b) => (a[0] ?? '').localeCompare(b[0] ?? ''));
}
