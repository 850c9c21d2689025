import { loadConfigOrExit } from '@yunying/config';
import { createPool } from './database';
import { migrate } from './migrate';

// `npm run migrate`: applies pending migrations to the configured database and schema, then exits.
async function main(): Promise<void> {
  const config = loadConfigOrExit();
  const pool = createPool({ url: config.database.url, schema: config.database.schema, poolSize: 1 });
  try {
    const applied = await migrate(pool, config.database.schema);
    process.stdout.write(applied.length ? `applied: ${applied.join(', ')}\n` : 'catalog is up to date\n');
  } finally {
    await pool.end();
  }
}

main().catch((error: unknown) => {
  process.stderr.write(`migrate failed: ${error instanceof Error ? error.message : String(error)}\n`);
  process.exit(1);
});
