import { decodeClinicStudiesCursor, decodeQueueCursor, encodeClinicStudiesCursor, encodeQueueCursor } from './cursor';

describe('keyset cursors', () => {
  it('round-trips the queue sort key, microseconds included', () => {
    const key = { rank: 1, receivedAt: '2024-05-06T07:08:09.123456Z', id: '9007199254740993' };
    const cursor = encodeQueueCursor(key);
    expect(cursor).toMatch(/^[A-Za-z0-9_-]+$/);
    expect(decodeQueueCursor(cursor)).toEqual(key);
  });

  it('round-trips the clinic list key', () => {
    const key = { receivedAt: '2024-05-06T07:08:09.000001Z', id: '42' };
    expect(decodeClinicStudiesCursor(encodeClinicStudiesCursor(key))).toEqual(key);
  });

  it('refuses a cursor of another list', () => {
    const cursor = encodeClinicStudiesCursor({ receivedAt: '2024-05-06T07:08:09.000001Z', id: '42' });
    expect(() => decodeQueueCursor(cursor)).toThrow(expect.objectContaining({ code: 'bad_request' }));
  });

  const forged = (value: unknown): string => Buffer.from(JSON.stringify(value)).toString('base64url');
  it.each([
    ['not base64url', '***'],
    ['not JSON', Buffer.from('{').toString('base64url')],
    ['an object', forged({ rank: 0 })],
    ['a rank out of range', forged(['queue', 3, '2024-05-06T07:08:09.123456Z', '1'])],
    ['a fractional rank', forged(['queue', 0.5, '2024-05-06T07:08:09.123456Z', '1'])],
    ['a millisecond timestamp', forged(['queue', 0, '2024-05-06T07:08:09.123Z', '1'])],
    ['an impossible date', forged(['queue', 0, '2024-13-45T07:08:09.123456Z', '1'])],
    ['an SQL fragment as id', forged(['queue', 0, '2024-05-06T07:08:09.123456Z', '1 OR 1=1'])],
    ['a numeric id', forged(['queue', 0, '2024-05-06T07:08:09.123456Z', 1])],
    ['extra members', forged(['queue', 0, '2024-05-06T07:08:09.123456Z', '1', 'x'])],
  ])('refuses %s', (_what, cursor) => {
    expect(() => decodeQueueCursor(cursor)).toThrow(expect.objectContaining({ code: 'bad_request', status: 400 }));
  });
});
