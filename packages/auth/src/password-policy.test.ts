import { passwordProblem } from './password-policy';

describe('password policy', () => {
  it.each([
    ['aaaaaaaaaaaa', 'too few different characters'],
    ['abcabcabcabc', 'too few different characters'],
    ['abcdeabcdeabcde', 'a short repeated pattern'],
    ['Password2024!', 'a commonly used password'],
    ['qwertyuiop12', 'a commonly used password'],
    ['woaini1314520', 'a commonly used password'],
    ['1q2w3e4r5t6y', 'a commonly used password'],
    ['123456789012', 'a commonly used password'],
    ['P@ssw0rd 2024', 'a commonly used password'],
    ['short', 'at least 12 characters'],
  ])('%s -> %s', (password, problem) => {
    expect(passwordProblem(password)).toBe(problem);
  });

  it('refuses the user name inside the password and accepts a passphrase', () => {
    expect(passwordProblem('carol-radiology-9', 'carol')).toBe('contains the user name');
    expect(passwordProblem('a long enough password')).toBeNull();
    expect(passwordProblem('correct horse battery staple')).toBeNull();
  });
});
