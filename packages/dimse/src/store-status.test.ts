import { AppError } from '@yunying/core';
import { answerForException, errorComment, statusLabel } from './store-status';

describe('C-STORE statuses', () => {
  it('answers an exception 0xC000 when retrying cannot help and 0xA700 otherwise', () => {
    expect(answerForException(new Error('connection refused')).status).toBe(0xa700);
    expect(answerForException(new AppError('forbidden', 'no clinic')).status).toBe(0xc000);
  });

  it('keeps an Error Comment within LO (64 characters, no backslash or control characters)', () => {
    expect(errorComment('a\\b\nc')).toBe('a b c');
    expect(errorComment('x'.repeat(200))).toHaveLength(64);
  });

  it('labels statuses as four hex digits', () => {
    expect(statusLabel(0)).toBe('0x0000');
    expect(statusLabel(0xa700)).toBe('0xA700');
  });
});
