import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { createTestCatalog, type TestCatalog } from '../testing';
import { generateDatabaseTypes } from './generate-types';

/**
 * The committed database.types.ts must be what the migrations produce: a migration added or changed without
 * regenerating (npm run db:types -w @yunying/catalog) would leave typed queries checking against a schema
 * that no longer exists.
 */
describe('generated database types', () => {
  let catalog: TestCatalog;

  beforeAll(async () => {
    catalog = await createTestCatalog('types');
  });

  afterAll(async () => {
    await catalog.drop();
  });

  it('match the schema the migrations create', async () => {
    const generated = await generateDatabaseTypes(catalog.pool, catalog.schema);
    const committed = await readFile(path.join(__dirname, 'database.types.ts'), 'utf8');
    if (committed !== generated) {
      throw new Error('src/typed/database.types.ts differs from the migrated schema: run `npm run db:types -w @yunying/catalog` and commit the result');
    }
    expect(generated).toContain('export interface DB {');
  });
});
