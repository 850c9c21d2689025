import argon2 from 'argon2';

/**
 * argon2id with the OWASP Password Storage Cheat Sheet parameters (m=19 MiB, t=2, p=1). The parameters
 * are encoded in each hash, so raising them later only affects new hashes; verification reads them back.
 */
const OPTIONS = { type: argon2.argon2id, memoryCost: 19_456, timeCost: 2, parallelism: 1 } as const;

export const MIN_PASSWORD_LENGTH = 12;

export function hashPassword(password: string): Promise<string> {
  return argon2.hash(password, OPTIONS);
}

export async function verifyPassword(hash: string, password: string): Promise<boolean> {
  try {
    return await argon2.verify(hash, password);
  } catch {
    return false;
  }
}

let dummyHash: Promise<string> | undefined;

/** Verifies against a throwaway hash, so an unknown username takes as long as a wrong password. */
export async function burnPasswordCheck(password: string): Promise<void> {
  dummyHash ??= hashPassword('yunying-dummy-password-for-timing');
  await verifyPassword(await dummyHash, password);
}
