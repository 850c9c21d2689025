import { normaliseDate, normaliseDateTime, normaliseTime } from './temporal';

describe('legacy DA / TM / DT forms (PS3.5 6.2)', () => {
  it('turns ACR-NEMA dates and times into the PS3.5 forms', () => {
    expect(normaliseDate('1994.01.30')).toBe('19940130');
    expect(normaliseTime('07:57:30')).toBe('075730');
    expect(normaliseTime('07:57:30.25')).toBe('075730.25');
    expect(normaliseTime('07:57')).toBe('0757');
    expect(normaliseDateTime('1994.01.30 07:57:30')).toBe('19940130075730');
    expect(normaliseDateTime('1994-01-30T07:57:30.5+0800')).toBe('19940130075730.5+0800');
  });

  it('leaves standard and unrecognised values as received', () => {
    for (const v of ['19940130', '1994', 'garbage', '1994.1.30', '19940130-19951231']) expect(normaliseDate(v)).toBe(v);
    for (const v of ['075730', '0757', '07', '075730.123456', '7:57']) expect(normaliseTime(v)).toBe(v);
    for (const v of ['19940130075730', '19940130075730.5+0800', '2024']) expect(normaliseDateTime(v)).toBe(v);
  });
});
