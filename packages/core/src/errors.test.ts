import { AppError, PermanentError } from './errors';

describe('AppError', () => {
  it('derives the HTTP status and retryability from the code', () => {
    expect(new AppError('not_found', 'no such study').status).toBe(404);
    expect(new AppError('unavailable', 'replica down').retryable).toBe(true);
    expect(new AppError('bad_request', 'x').retryable).toBe(false);
    expect(new PermanentError('corrupt pixel data').retryable).toBe(false);
    expect(new AppError('conflict', 'x', { status: 409 }).status).toBe(409);
  });
});
