import { AppError } from '@yunying/core';
import { checkPassword } from './password-policy';
import { withAcceptedRandomPassword } from './seed';

describe('demo seed passwords', () => {
  it('draws again while the policy refuses a random password, and returns the one that was accepted', async () => {
    const tried: string[] = [];
    const password = await withAcceptedRandomPassword(async (candidate) => {
      tried.push(candidate);
      // The policy's own refusal, as createUser throws it, for the first two draws.
      if (tried.length <= 2) throw new AppError('bad_request', 'Password refused: contains the name of the clinic or of this system', { details: { passwordProblem: 'contains-context-word' } });
      return Promise.resolve();
    });
    expect(tried).toHaveLength(3);
    expect(new Set(tried).size).toBe(3);
    expect(password).toBe(tried[2]);
    expect(checkPassword(password)).toBeNull();
  });

  it('does not retry other failures', async () => {
    let calls = 0;
    const failing = withAcceptedRandomPassword(() => {
      calls++;
      return Promise.reject(new AppError('conflict', 'username taken'));
    });
    await expect(failing).rejects.toThrow('username taken');
    expect(calls).toBe(1);
  });
});
