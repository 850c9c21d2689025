import { execFileSync } from 'node:child_process';
import path from 'node:path';
import { checkPassword, passwordProblem } from './password-policy';

describe('password policy', () => {
  it.each([
    ['aaaaaaaaaaaa', 'too few different characters'],
    ['abcabcabcabc', 'too few different characters'],
    ['abcdeabcdeabcde', 'a short repeated pattern'],
    ['short', 'at least 12 characters'],
  ])('%s -> %s', (password, problem) => {
    expect(passwordProblem(password)).toBe(problem);
  });

  it.each([
    'Password2024!',
    'qwertyuiop12',
    'woaini1314520',
    '1q2w3e4r5t6y',
    '123456789012',
    'P@ssw0rd 2024',
    // From the bundled breached-password list, whole and case-insensitively.
    'QAZWSXEDCRFV',
    'Leavemealone',
    'FinalFantasy',
    // A listed word with digits and symbols around it.
    'Sunshine!!2024',
    '1985-Michael-1985',
  ])('%s is refused as common', (password) => {
    expect(checkPassword(password)?.code).toBe('common-password');
  });

  it('refuses the user name, the clinic and the product inside the password', () => {
    expect(passwordProblem('carol-radiology-9', 'carol')).toBe('contains the user name');
    expect(checkPassword('My Lakeside Clinic 7x!', { username: 'dora', words: ['lakeside-hz', 'Lakeside Imaging Centre'] })?.code).toBe('contains-context-word');
    expect(checkPassword('kq LAKESIDE-HZ vw 88', { words: ['lakeside-hz'] })?.code).toBe('contains-context-word');
    expect(checkPassword('我在杭州云影上班了 2024')?.code).toBe('contains-context-word');
    expect(checkPassword('Yunying rocks, 2024!')?.code).toBe('contains-context-word');
    expect(checkPassword('d0ra works at 7 lakes', { username: 'dora', words: ['hz'] })).toBeNull();
  });

  it('accepts passphrases and random strings', () => {
    expect(passwordProblem('a long enough password')).toBeNull();
    expect(passwordProblem('correct horse battery staple')).toBeNull();
    expect(passwordProblem('Vq7!rT2p#Lm9xZ')).toBeNull();
    expect(passwordProblem('甲状腺结节随访很重要吧')).toBe('at least 12 characters');
  });
});

describe('the breached-password list, loaded on first use', () => {
  it('is not in a process that only imports @yunying/auth, and is once a password is checked', () => {
    // A fresh process: jest's module registry would hide what Node itself loads.
    const script = `
      const loaded = () => Object.keys(require.cache).some((k) => k.includes('/node_modules/@zxcvbn-ts/language-common/'));
      require('./packages/auth/src/index.ts');
      const seen = [loaded()];
      const policy = require('./packages/auth/src/password-policy.ts');
      seen.push(policy.passwordProblem('Sunshine2024!'), loaded());
      console.log(JSON.stringify(seen));
    `;
    const out = execFileSync(process.execPath, ['-r', './bench/fuzz/register.cjs', '-e', script], { cwd: path.resolve(__dirname, '../../..'), encoding: 'utf8' });
    const [before, problem, after] = JSON.parse(out.trim()) as [boolean, string | null, boolean];
    expect(before).toBe(false);
    expect(problem).not.toBeNull();
    expect(after).toBe(true);
  });
});
