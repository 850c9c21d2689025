import fs from 'node:fs';
import path from 'node:path';
import { REPO_ROOT } from '../support/processes';

/**
 * Issue #19: the docs say where things are, and that stays true. Every package and service has a README
 * saying what the room is for, who uses it, what it may import and what it must not do, its import list
 * agreeing with its package.json; and every file a markdown page points at (a relative link, or a path in
 * backticks) exists, so a moved or deleted module cannot leave a page pointing at nothing.
 */

const SKIP_DIRS = new Set(['node_modules', 'dist', '.data', '.git', '.turbo', 'coverage']);

function walk(dir: string): string[] {
  return fs.readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    if (SKIP_DIRS.has(entry.name)) return [];
    const full = path.join(dir, entry.name);
    return entry.isDirectory() ? walk(full) : [full];
  });
}

const ALL_FILES = walk(REPO_ROOT).map((f) => path.relative(REPO_ROOT, f));
const MARKDOWN = ALL_FILES.filter((f) => f.endsWith('.md'));

/** A path in backticks is taken for a file of the repository when it ends in one of these. */
const FILE_EXTENSION = /\.(ts|js|mjs|cjs|json|md|sh|sql|ya?ml|py|onnx|html|css|conf|toml)$/;

/** Named in backticks but made at run time or outside this repository: each with what it is. */
const NOT_IN_REPO: Record<string, string> = {
  'app-config.js': "OHIF's configuration file, in the OHIF deployment",
  'crop-oof.json': 'written by the training script (models/thyroid-nodule/train)',
  'DATA_DIR/secrets/oidc-provider.jwks.json': 'generated at first start under DATA_DIR',
  'migrations/NNNN_name.sql': 'the naming pattern of a migration',
};

function section(text: string, heading: string): string | null {
  const start = text.indexOf(`\n## ${heading}\n`);
  if (start < 0) return null;
  const end = text.indexOf('\n## ', start + heading.length + 4);
  return text.slice(start, end < 0 ? undefined : end);
}

function workspaceDirs(): string[] {
  return ['packages', 'services'].flatMap((group) =>
    fs
      .readdirSync(path.join(REPO_ROOT, group))
      .map((name) => path.join(group, name))
      .filter((dir) => fs.existsSync(path.join(REPO_ROOT, dir, 'package.json'))),
  );
}

/** The nearest folder with a package.json at or above `dir` (repository-relative), or the root. */
function packageRoot(dir: string): string {
  for (let d = dir; d !== '.' && d !== ''; d = path.dirname(d)) if (fs.existsSync(path.join(REPO_ROOT, d, 'package.json'))) return d;
  return '.';
}

/** The relative links and backticked file paths of a markdown page that point at nothing. */
export function unresolvedReferences(file: string): string[] {
  const text = fs.readFileSync(path.join(REPO_ROOT, file), 'utf8');
  const dir = path.dirname(file);
  const lineOf = (index: number): number => text.slice(0, index).split('\n').length;
  const exists = (p: string): boolean => fs.existsSync(path.join(REPO_ROOT, p));
  const missing: string[] = [];
  for (const m of text.matchAll(/\]\(([^)\s]+)\)/g)) {
    const target = (m[1] ?? '').split('#')[0] ?? '';
    if (target === '' || /^[a-z][a-z0-9+.-]*:/i.test(target)) continue;
    // A link resolves as a markdown viewer resolves it: from the page's folder.
    if (!exists(path.join(dir, decodeURIComponent(target)))) missing.push(`${file}:${lineOf(m.index ?? 0)} link ${target}`);
  }
  // Paths in prose, not inside fenced code (commands and examples name things that need not exist).
  const prose = text.replace(/```[\s\S]*?```/g, (block) => block.replace(/[^\n]/g, ' '));
  const pkg = packageRoot(dir);
  for (const m of prose.matchAll(/`([^`\n]+)`/g)) {
    const named = (m[1] ?? '').trim().replace(/:\d+(-\d+)?$/, '');
    if (!/^[\w.@/-]+$/.test(named) || !FILE_EXTENSION.test(named) || named.startsWith('@') || NOT_IN_REPO[named] !== undefined) continue;
    const found = named.includes('/')
      ? // Written from the page, the repository root, its package or the package's src/, or as the tail of a path.
        [dir, '.', pkg, path.join(pkg, 'src')].some((base) => exists(path.join(base, named))) || ALL_FILES.some((f) => f.endsWith(`/${named.replace(/^\.\//, '')}`))
      : // A bare file name: some file of the repository has it.
        ALL_FILES.some((f) => path.basename(f) === named);
    if (!found) missing.push(`${file}:${lineOf(m.index ?? 0)} \`${named}\``);
  }
  return missing;
}

describe('docs', () => {
  it('every package and service has a README saying what the room is for, who uses it, what it may import and what it must not do', () => {
    const problems: string[] = [];
    for (const dir of workspaceDirs()) {
      const readme = path.join(REPO_ROOT, dir, 'README.md');
      if (!fs.existsSync(readme)) {
        problems.push(`${dir}: no README.md`);
        continue;
      }
      const text = fs.readFileSync(readme, 'utf8');
      for (const heading of ['What this room is for', 'Who uses it', 'What it may import', 'What it must not do']) {
        if (section(text, heading) === null) problems.push(`${dir}/README.md: no "## ${heading}"`);
      }
      // The import list is the package.json's: every dependency named, and no other workspace package.
      const manifest = JSON.parse(fs.readFileSync(path.join(REPO_ROOT, dir, 'package.json'), 'utf8')) as { dependencies?: Record<string, string> };
      const deps = Object.keys(manifest.dependencies ?? {}).filter((d) => !d.startsWith('@types/'));
      const listed = new Set([...(section(text, 'What it may import') ?? '').matchAll(/`([^`]+)`/g)].map((m) => m[1]));
      for (const dep of deps) if (!listed.has(dep)) problems.push(`${dir}/README.md: may import does not name ${dep} (a dependency)`);
      for (const name of listed) {
        if (name?.startsWith('@yunying/') && !deps.includes(name)) problems.push(`${dir}/README.md: may import names ${name}, not a dependency`);
      }
    }
    expect(problems).toEqual([]);
  });

  it('every file a markdown page links to or names in backticks exists', () => {
    expect(MARKDOWN.length).toBeGreaterThan(30);
    expect(MARKDOWN.flatMap(unresolvedReferences)).toEqual([]);
  });

  it('finds a link and a backticked path that point at nothing, and passes those that resolve', () => {
    const dir = fs.mkdtempSync(path.join(REPO_ROOT, 'test/foundation/.docs-check-'));
    const page = path.join(path.relative(REPO_ROOT, dir), 'page.md');
    try {
      fs.writeFileSync(
        path.join(REPO_ROOT, page),
        [
          'See [testing](../../../docs/testing.md), [gone](../../../docs/gone.md) and [a site](https://example.org/x.md).',
          'The cycle check is `test/support/import-graph.ts`; the old worker was `src/worker-gone.ts`, bare `no-such-module.ts`.',
          '```sh',
          'cat `made/at/run-time.json`',
          '```',
        ].join('\n'),
      );
      expect(unresolvedReferences(page)).toEqual([`${page}:1 link ../../../docs/gone.md`, `${page}:2 \`src/worker-gone.ts\``, `${page}:2 \`no-such-module.ts\``]);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
