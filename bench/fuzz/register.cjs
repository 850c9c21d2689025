// Lets `node -r ./bench/fuzz/register.cjs <script>.ts` run the long-run scripts (and the test harness
// they share) from TypeScript source, compiled on load by @swc/core as jest does. Workspace packages
// resolve to their built dist/ (run `npx turbo run build` first).
const fs = require('node:fs');
const { transformSync } = require('@swc/core');

require.extensions['.ts'] = function compileTs(module, filename) {
  const { code } = transformSync(fs.readFileSync(filename, 'utf8'), {
    filename,
    jsc: { parser: { syntax: 'typescript' }, target: 'es2022' },
    module: { type: 'commonjs' },
    sourceMaps: 'inline',
  });
  module._compile(code, filename);
};
