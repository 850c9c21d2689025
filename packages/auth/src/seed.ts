import type { Pool } from '@yunying/catalog';
import { isAppError } from '@yunying/core';
import { AuthService } from './auth.service';
import type { Role } from './principal';
import { ensureAeTitle, ensureClinic, lockDemoSeed, unlockDemoSeed } from './repositories/demo-seed.repository';
import { randomSecret } from './secrets';

export interface DemoCredentials {
  clinics: { code: string; id: string; aeTitle: string }[];
  /** Only the users created by this call, with their one-time plaintext passwords. */
  users: { username: string; role: Role; password: string }[];
  /** The demo clinic's device key, when this call created it. */
  apiKey: { name: string; clinicCode: string; key: string } | null;
}

const CLINICS = [
  { code: 'demo-clinic', name: 'Demo Clinic', aeTitle: 'DEMO_US' },
  { code: 'other-clinic', name: 'Other Clinic', aeTitle: 'OTHER_US' },
] as const;

const USERS: { username: string; role: Role; displayName: string }[] = [
  { username: 'clinic', role: 'clinic', displayName: 'Demo clinic uploader' },
  { username: 'radiologist', role: 'radiologist', displayName: 'Demo radiologist' },
  { username: 'auditor', role: 'auditor', displayName: 'Demo auditor' },
  { username: 'admin', role: 'admin', displayName: 'Demo administrator' },
];

const DEMO_KEY_NAME = 'demo-uploader';

/**
 * Creates what is missing of the demo set: clinics `demo-clinic` (AE DEMO_US) and `other-clinic`
 * (AE OTHER_US); users clinic (of demo-clinic), radiologist (granted demo-clinic), auditor and admin, each
 * with a random password; a device key for demo-clinic. Returns the plaintext credentials of what it created
 * (for `npm start` to print once), or null when everything existed: passwords are never stored in plaintext,
 * so they cannot be shown again. Safe to run from several processes at once.
 */
export async function seedDemo(pool: Pool, options: { tokenSecret: string; retentionMinYears?: number }): Promise<DemoCredentials | null> {
  const auth = new AuthService({
    pool,
    tokenSecret: options.tokenSecret,
    accessTokenTtlSeconds: 900,
    refreshTokenTtlSeconds: 43_200,
    ...(options.retentionMinYears !== undefined ? { retentionMinYears: options.retentionMinYears } : {}),
  });
  const client = await pool.connect();
  try {
    await lockDemoSeed(client);
    const retentionYears = options.retentionMinYears ?? 15;
    const clinics: DemoCredentials['clinics'] = [];
    for (const c of CLINICS) {
      // The demo clinics accept AE-title-only DICOM (the README's storescu example, the gateway on loopback);
      // clinics created any other way require DIMSE credentials (migration 0901).
      const id = await ensureClinic(client, { code: c.code, name: c.name, retentionYears, dimseAuth: 'ae_only' });
      await ensureAeTitle(client, c.aeTitle, id);
      clinics.push({ code: c.code, id, aeTitle: c.aeTitle });
    }
    const demoClinicId = clinics[0]?.id;
    if (!demoClinicId) throw new Error('demo clinic missing');

    const users: DemoCredentials['users'] = [];
    for (const u of USERS) {
      if (await auth.findUserByUsername(u.username)) continue;
      const password = await withAcceptedRandomPassword((candidate) =>
        auth.createUser({ username: u.username, displayName: u.displayName, role: u.role, clinicId: u.role === 'clinic' ? demoClinicId : null, password: candidate }, undefined, client),
      );
      users.push({ username: u.username, role: u.role, password });
    }
    const radiologist = await auth.findUserByUsername('radiologist');
    if (radiologist?.role === 'radiologist') await auth.grantClinic(radiologist.id, demoClinicId);

    let apiKey: DemoCredentials['apiKey'] = null;
    const existingKeys = await auth.listApiKeys(demoClinicId);
    if (!existingKeys.some((k) => k.name === DEMO_KEY_NAME)) {
      const created = await auth.createApiKey({ clinicId: demoClinicId, name: DEMO_KEY_NAME }, undefined, client);
      apiKey = { name: DEMO_KEY_NAME, clinicCode: 'demo-clinic', key: created.key };
    }
    return users.length > 0 || apiKey ? { clinics, users, apiKey } : null;
  } finally {
    await unlockDemoSeed(client).catch(() => undefined);
    client.release();
  }
}

/**
 * Runs `create` with a random password, drawing again when the password policy refuses it: 24 random
 * base64url characters now and then contain a context word in look-alike spelling ("d3m0", "yunying"),
 * about once in a few hundred seeds, which failed a start (and a system test's seed) by chance. The
 * policy's refusal comes before anything is written, so drawing again inside the transaction is safe.
 */
export async function withAcceptedRandomPassword(create: (password: string) => Promise<unknown>): Promise<string> {
  for (let attempt = 1; ; attempt++) {
    const password = randomSecret(18);
    try {
      await create(password);
      return password;
    } catch (error) {
      const refused = isAppError(error) && error.details?.passwordProblem !== undefined;
      if (!refused || attempt >= 20) throw error;
    }
  }
}
