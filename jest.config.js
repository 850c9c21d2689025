// One jest configuration for the whole monorepo, in three tiers (see docs/testing.md):
//   unit         *.test.ts beside the code, no outside system
//   integration  *.int.test.ts beside the code, against real Postgres / Redis / object storage
//   system       test/**/*.test.ts, services as processes, real DICOM clients and a real browser
const fs = require('node:fs');
const path = require('node:path');

const swc = [
  '<rootDir>/test/support/swc-local-math.js',
  {
    jsc: { parser: { syntax: 'typescript' }, target: 'es2022' },
    module: { type: 'commonjs' },
    sourceMaps: 'inline',
  },
];

// oidc-provider (and the jose it brings) ship only ES modules; jest's CommonJS runtime needs them compiled.
const swcEsm = ['@swc/jest', { jsc: { parser: { syntax: 'ecmascript' }, target: 'es2022' }, module: { type: 'commonjs' } }];

// Workspace packages resolve to their TypeScript sources, so tests never run against a stale dist/.
const moduleNameMapper = {};
for (const group of ['packages', 'services']) {
  const dir = path.join(__dirname, group);
  if (!fs.existsSync(dir)) continue;
  for (const name of fs.readdirSync(dir)) {
    const pkgFile = path.join(dir, name, 'package.json');
    if (!fs.existsSync(pkgFile)) continue;
    const pkgName = JSON.parse(fs.readFileSync(pkgFile, 'utf8')).name;
    moduleNameMapper[`^${pkgName}$`] = `<rootDir>/${group}/${name}/src/index.ts`;
    moduleNameMapper[`^${pkgName}/testing$`] = `<rootDir>/${group}/${name}/src/testing.ts`;
    // Other subpath exports (e.g. @yunying/nodule-model/tirads-report, bundled by the web app) likewise.
    const exportsMap = JSON.parse(fs.readFileSync(pkgFile, 'utf8')).exports ?? {};
    for (const [key, target] of Object.entries(exportsMap)) {
      if (key === '.' || key === './testing' || typeof target?.types !== 'string') continue;
      moduleNameMapper[`^${pkgName}/${key.slice(2)}$`] = `<rootDir>/${group}/${name}/${target.types.replace('./dist/', 'src/').replace(/\.d\.ts$/, '.ts')}`;
    }
  }
}

const common = {
  rootDir: __dirname,
  transform: { '^.+\\.ts$': swc, '/node_modules/oidc-provider/.+\\.js$': swcEsm },
  transformIgnorePatterns: ['^(?!.*/node_modules/oidc-provider/).*/node_modules/'],
  moduleNameMapper,
  testEnvironment: 'node',
  testPathIgnorePatterns: ['/node_modules/', '/dist/', '/.data/'],
  setupFilesAfterEnv: ['<rootDir>/test/support/jest.setup.ts'],
};

module.exports = {
  reporters: ['default', '<rootDir>/test/support/summary-reporter.js'],
  projects: [
    {
      ...common,
      displayName: 'unit',
      // Wherever the code lives: src/ of every package and service, and the viewer's web app (web/src).
      // ...and repository-wide checks that need no outside system (test/**/*.unit.test.ts).
      testMatch: ['<rootDir>/{packages,services}/**/*.test.ts', '<rootDir>/test/**/*.unit.test.ts'],
      testPathIgnorePatterns: [...common.testPathIgnorePatterns, '\\.int\\.test\\.ts$'],
    },
    {
      ...common,
      displayName: 'integration',
      testMatch: ['<rootDir>/{packages,services}/**/*.int.test.ts'],
    },
    {
      ...common,
      displayName: 'system',
      testMatch: ['<rootDir>/test/**/*.test.ts'],
      testPathIgnorePatterns: [...common.testPathIgnorePatterns, '\\.unit\\.test\\.ts$'],
    },
  ],
};
