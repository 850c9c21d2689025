import fs from 'node:fs';
import path from 'node:path';
import { specifiersOf } from '../support/import-graph';
import { REPO_ROOT } from '../support/processes';

/**
 * Issue #19: no dependency that nothing uses. Each workspace's package.json dependencies must be imported
 * (import, re-export, import(), require()) by a source of that workspace, named as a string there (a jest
 * transform, a bundler's entry), or run by a script: an unused one is install time, lockfile churn and
 * attack surface for nothing, and it hides which room really depends on which.
 */

/** Used, but never imported nor named: each with the reason. */
const USED_WITHOUT_IMPORT: Record<string, string> = {
  '@swc/core': 'the compiler @swc/jest loads (its peer dependency)',
  '@types/node': 'ambient types of every TypeScript source',
  '@types/jest': 'ambient types of every test',
};

const SOURCE = /\.(ts|js|mjs|cjs)$/;
const WORKSPACE_GROUPS = ['packages', 'services', 'test', 'bench'];

function files(dir: string, skip: (full: string) => boolean): string[] {
  if (!fs.existsSync(dir)) return [];
  return fs.readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const full = path.join(dir, entry.name);
    if (skip(full)) return [];
    if (entry.isDirectory()) return ['node_modules', 'dist', '.data', '.git', '.turbo'].includes(entry.name) ? [] : files(full, skip);
    return [full];
  });
}

interface Manifest {
  name?: string;
  scripts?: Record<string, string>;
  dependencies?: Record<string, string>;
  devDependencies?: Record<string, string>;
  optionalDependencies?: Record<string, string>;
}

function workspaceDirs(): string[] {
  const dirs = [REPO_ROOT];
  for (const group of WORKSPACE_GROUPS) {
    const groupDir = path.join(REPO_ROOT, group);
    if (fs.existsSync(path.join(groupDir, 'package.json'))) dirs.push(groupDir);
    else if (fs.existsSync(groupDir)) {
      for (const name of fs.readdirSync(groupDir)) if (fs.existsSync(path.join(groupDir, name, 'package.json'))) dirs.push(path.join(groupDir, name));
    }
  }
  return dirs;
}

/** The commands a package installs (its "bin"), as they appear in scripts. */
function binariesOf(dep: string, from: string): string[] {
  for (let dir = from; ; dir = path.dirname(dir)) {
    const manifest = path.join(dir, 'node_modules', dep, 'package.json');
    if (fs.existsSync(manifest)) {
      const bin = (JSON.parse(fs.readFileSync(manifest, 'utf8')) as { bin?: string | Record<string, string> }).bin;
      return bin === undefined ? [] : typeof bin === 'string' ? [dep.split('/').pop() ?? dep] : Object.keys(bin);
    }
    if (dir === REPO_ROOT || dir === path.dirname(dir)) return [];
  }
}

const specifierCache = new Map<string, { text: string; specifiers: string[] }>();
function read(file: string): { text: string; specifiers: string[] } {
  let entry = specifierCache.get(file);
  if (entry === undefined) {
    const text = fs.readFileSync(file, 'utf8');
    entry = { text, specifiers: specifiersOf(file, text) };
    specifierCache.set(file, entry);
  }
  return entry;
}

/** The dependencies of the workspace at `dir` that nothing in it uses. */
export function unusedDependencies(dir: string): string[] {
  const manifest = JSON.parse(fs.readFileSync(path.join(dir, 'package.json'), 'utf8')) as Manifest;
  const declared = [manifest.dependencies, manifest.devDependencies, manifest.optionalDependencies].flatMap((d) => Object.keys(d ?? {}));
  // The root's tools serve every workspace: their use is anywhere in the repository.
  const own = files(dir, (full) => dir !== REPO_ROOT && full !== dir && fs.existsSync(path.join(full, 'package.json')) && fs.statSync(full).isDirectory());
  const sources = own.filter((f) => SOURCE.test(f) && !f.endsWith('.d.ts'));
  const specifiers = new Set(sources.flatMap((f) => read(f).specifiers));
  const imported = (dep: string): boolean => [...specifiers].some((s) => s === dep || s.startsWith(`${dep}/`));
  const texts = sources.map((f) => read(f).text).join('\n');
  const named = (dep: string): boolean => texts.includes(`'${dep}'`) || texts.includes(`"${dep}"`);
  const commands = [...Object.values(manifest.scripts ?? {}), ...own.filter((f) => f.endsWith('.sh')).map((f) => fs.readFileSync(f, 'utf8'))].join('\n');
  const run = (dep: string): boolean => binariesOf(dep, dir).some((bin) => new RegExp(`(^|[\\s/;&|(])${bin.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}(\\s|$)`, 'm').test(commands));
  return declared.filter((dep) => {
    if (USED_WITHOUT_IMPORT[dep] !== undefined) return false;
    const typed = dep.startsWith('@types/') ? dep.slice('@types/'.length).replace(/^(.+)__(.+)$/, '@$1/$2') : null;
    return !(imported(dep) || named(dep) || run(dep) || (typed !== null && (imported(typed) || named(typed))));
  });
}

/**
 * The workspace packages (@yunying/*) the workspace at `dir` imports without declaring them. npm hoists every
 * workspace into the root node_modules, so an undeclared one still resolves here, but turbo builds in the
 * order the manifests declare, and the manifest stops saying which room depends on which.
 */
export function undeclaredWorkspaceImports(dir: string): string[] {
  const manifest = JSON.parse(fs.readFileSync(path.join(dir, 'package.json'), 'utf8')) as Manifest;
  const declared = new Set([manifest.name, ...[manifest.dependencies, manifest.devDependencies, manifest.optionalDependencies].flatMap((d) => Object.keys(d ?? {}))]);
  const own = files(dir, (full) => full !== dir && fs.existsSync(path.join(full, 'package.json')) && fs.statSync(full).isDirectory());
  const imported = own.filter((f) => SOURCE.test(f) && !f.endsWith('.d.ts')).flatMap((f) => read(f).specifiers);
  const packages = new Set(imported.filter((s) => s.startsWith('@yunying/')).map((s) => s.split('/').slice(0, 2).join('/')));
  return [...packages].filter((name) => !declared.has(name)).sort();
}

describe('dependencies', () => {
  it('every dependency of every workspace package.json is used by that workspace', () => {
    const unused = workspaceDirs().flatMap((dir) => unusedDependencies(dir).map((dep) => `${path.relative(REPO_ROOT, dir) || '.'}: ${dep}`));
    expect(unused).toEqual([]);
  });

  it('every workspace package a workspace imports is declared in its package.json', () => {
    const undeclared = workspaceDirs()
      .filter((dir) => dir !== REPO_ROOT)
      .flatMap((dir) => undeclaredWorkspaceImports(dir).map((name) => `${path.relative(REPO_ROOT, dir)}: ${name}`));
    expect(undeclared).toEqual([]);
  });

  it('every export of a package or service has its source (jest and tsc resolve dist/ X.d.ts to src/ X.ts)', () => {
    const missing = workspaceDirs()
      .filter((dir) => /\/(packages|services)\//.test(`${dir}/`))
      .flatMap((dir) => {
        const manifest = JSON.parse(fs.readFileSync(path.join(dir, 'package.json'), 'utf8')) as { exports?: Record<string, { types?: string }> };
        return Object.entries(manifest.exports ?? {})
          .map(([subpath, target]) => [subpath, (target.types ?? '').replace('./dist/', 'src/').replace(/\.d\.ts$/, '.ts')] as const)
          .filter(([, source]) => !fs.existsSync(path.join(dir, source)))
          .map(([subpath, source]) => `${path.relative(REPO_ROOT, dir)}: ${subpath} -> ${source}`);
      });
    expect(missing).toEqual([]);
  });
});
