import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { createTestCatalog } from '../testing';
import { generateDatabaseTypes } from './generate-types';

/**
 * Regenerates src/typed/database.types.ts from a throwaway schema migrated in TEST_DATABASE_URL (default: the
 * local `test` database); run after adding a migration. Needs only a PostgreSQL, not a running Yunying.
 */
async function main(): Promise<void> {
  const catalog = await createTestCatalog('types');
  try {
    const source = await generateDatabaseTypes(catalog.pool, catalog.schema);
    const target = path.resolve(__dirname, '../../src/typed/database.types.ts');
    await writeFile(target, source);
    process.stdout.write(`wrote ${target}\n`);
  } finally {
    await catalog.drop();
  }
}

main().catch((error: unknown) => {
  process.stderr.write(`${error instanceof Error ? error.message : String(error)}\n`);
  process.exitCode = 1;
});
