import { createHmac } from 'node:crypto';

/** RFC 6238 (SHA-1, 6 digits, 30 s steps): the code of `step` for a base32 key. */
function totpForStep(base32: string, step: number): string {
  const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';
  let bits = '';
  for (const c of base32.replace(/[=\s]+/g, '').toUpperCase()) bits += alphabet.indexOf(c).toString(2).padStart(5, '0');
  const key = Buffer.from((bits.match(/.{8}/g) ?? []).map((b) => parseInt(b, 2)));
  const counter = Buffer.alloc(8);
  counter.writeBigUInt64BE(BigInt(step));
  const mac = createHmac('sha1', key).update(counter).digest();
  const offset = (mac[mac.length - 1] ?? 0) & 0x0f;
  return String((mac.readUInt32BE(offset) & 0x7fffffff) % 1_000_000).padStart(6, '0');
}

/** One sign-in request: the JSON body sent, the status and JSON answer received. */
export type SignInPost = (body: Record<string, unknown>) => Promise<{ status: number; body: unknown }>;

const authenticators = new Map<string, { secret: string; lastStep: number }>();

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/**
 * Signs in as the lab's Yunying runs in production mode, where radiologists need a TOTP second factor (#17):
 * the password, then (first time) the key from the enrolment answer is kept like an authenticator app keeps
 * it, and the code of a time step not used before is sent with the challenge. Returns the final answer.
 */
export async function signInWithSecondFactor(post: SignInPost, user: { username: string; password: string }, client: 'api' | 'browser'): Promise<unknown> {
  const first = await post({ username: user.username, password: user.password, client });
  if (first.status === 200) return first.body;
  const problem = (typeof first.body === 'object' && first.body !== null ? first.body : {}) as Record<string, unknown>;
  if (first.status !== 401 || problem.totpRequired !== true || typeof problem.challenge !== 'string') throw new Error(`sign-in answered ${first.status}`);
  if (typeof problem.secret === 'string') authenticators.set(user.username, { secret: problem.secret, lastStep: 0 });
  const app = authenticators.get(user.username);
  if (!app) throw new Error(`sign-in of ${user.username} needs a code, and no authenticator was set up here`);
  // Each step is accepted once: after two codes within one step, wait for the next.
  const step = Math.max(Math.floor(Date.now() / 30_000), app.lastStep + 1);
  while (step > Math.floor(Date.now() / 30_000) + 1) await sleep(1000);
  app.lastStep = step;
  const second = await post({ challenge: problem.challenge, totp: totpForStep(app.secret, step), client });
  if (second.status !== 200) throw new Error(`sign-in with a one-time code answered ${second.status}`);
  return second.body;
}
