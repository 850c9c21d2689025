// Builds the browser app into ../dist/web (inside the viewer package's dist/, which turbo caches as the
// build output): one ES module bundle and one stylesheet under /assets, and index.html at the root.
import { build } from 'esbuild';
import { copyFile, mkdir, rm } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
const out = path.resolve(here, '../dist/web');
const watch = process.argv.includes('--dev');

await rm(out, { recursive: true, force: true });
await mkdir(path.join(out, 'assets'), { recursive: true });
await build({
  // The share page (#20) is a second entry: phones load none of the viewer's code for it.
  entryPoints: { app: path.join(here, 'src/main.ts'), share: path.join(here, 'src/share/main.ts') },
  outdir: path.join(out, 'assets'),
  entryNames: '[name]',
  // Code only some pages need (the reading viewer: main.ts imports it lazily) goes into content-named chunks.
  splitting: true,
  chunkNames: 'chunks/[name]-[hash]',
  bundle: true,
  format: 'esm',
  target: ['es2022'],
  minify: !watch,
  sourcemap: true,
  legalComments: 'linked',
  logLevel: 'warning',
  // cornerstone-tools reads process.env.NODE_ENV in a few places.
  define: { 'process.env.NODE_ENV': '"production"' },
});
await copyFile(path.join(here, 'src/styles.css'), path.join(out, 'assets/app.css'));
await copyFile(path.join(here, 'src/index.html'), path.join(out, 'index.html'));
await copyFile(path.join(here, 'src/share/share.css'), path.join(out, 'assets/share.css'));
await copyFile(path.join(here, 'src/share.html'), path.join(out, 'share.html'));
