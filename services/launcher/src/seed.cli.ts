import { loadConfigOrExit } from '@yunying/config';
import { createPool, migrate } from '@yunying/catalog';
import { seedDemo } from '@yunying/auth';

/**
 * `npm start` runs this once before the services: creates the demo clinics, users and device key when
 * missing, and prints their one-time passwords (only when it created them; they are stored hashed).
 * `--json` prints the credentials as JSON (for system tests).
 */
async function main(): Promise<void> {
  const config = loadConfigOrExit();
  const pool = createPool({ url: config.database.url, schema: config.database.schema, poolSize: 2 });
  try {
    await migrate(pool, config.database.schema);
    const created = await seedDemo(pool, { tokenSecret: config.auth.tokenSecret, retentionMinYears: config.retentionMinYears });
    if (process.argv.includes('--json')) {
      process.stdout.write(`${JSON.stringify(created)}\n`);
      return;
    }
    if (!created || (created.users.length === 0 && created.apiKey === null)) {
      process.stdout.write('Demo users already exist (their passwords were printed on first start; reset them as admin if lost).\n');
      return;
    }
    const lines = ['', 'Demo accounts created — shown only this once, write them down:'];
    for (const user of created.users) lines.push(`  ${user.role.padEnd(12)} user ${user.username.padEnd(12)} password ${user.password}`);
    if (created.apiKey) lines.push(`  device key for ${created.apiKey.clinicCode}: ${created.apiKey.key}`);
    for (const clinic of created.clinics) lines.push(`  clinic ${clinic.code}: DICOM calling AE title ${clinic.aeTitle}`);
    process.stdout.write(`${lines.join('\n')}\n\n`);
  } finally {
    await pool.end();
  }
}

main().catch((error: unknown) => {
  process.stderr.write(`seed failed: ${error instanceof Error ? error.message : String(error)}\n`);
  process.exit(1);
});
