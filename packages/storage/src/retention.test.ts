import { AppError } from '@yunying/core';
import { GLOBAL_MINIMUM_RETENTION_YEARS, computeRetainUntil, parseDicomDate } from './retention';

const iso = (d: Date): string => d.toISOString();

describe('computeRetainUntil', () => {
  const receivedAt = new Date('2024-05-10T08:30:00.000Z');

  it('adds the policy years to the date of receipt when StudyDate is earlier', () => {
    const until = computeRetainUntil({ studyDate: '20240502', receivedAt, policyYears: 20, minimumYears: 15 });
    expect(iso(until)).toBe('2044-05-10T08:30:00.000Z');
  });

  it('raises a policy below the minimum to the minimum', () => {
    const until = computeRetainUntil({ studyDate: null, receivedAt, policyYears: 5, minimumYears: 18 });
    expect(iso(until)).toBe('2042-05-10T08:30:00.000Z');
  });

  it('never goes below the global minimum of 15 years, even when the configured minimum is lower', () => {
    expect(GLOBAL_MINIMUM_RETENTION_YEARS).toBe(15);
    const until = computeRetainUntil({ receivedAt, policyYears: 1, minimumYears: 2 });
    expect(iso(until)).toBe('2039-05-10T08:30:00.000Z');
  });

  it('counts from a StudyDate later than receipt (start of that day, UTC)', () => {
    const until = computeRetainUntil({ studyDate: '20240512', receivedAt, policyYears: 15, minimumYears: 15 });
    expect(iso(until)).toBe('2039-05-12T00:00:00.000Z');
  });

  it('ignores a StudyDate absurdly far in the future', () => {
    const until = computeRetainUntil({ studyDate: '29991231', receivedAt, policyYears: 15, minimumYears: 15 });
    expect(iso(until)).toBe('2039-05-10T08:30:00.000Z');
  });

  it.each([['garbage'], [''], ['2024'], ['20240230'], ['20241301'], ['18991231'], ['20240101-20241231'], [undefined], [null]])(
    'falls back to the date of receipt for StudyDate %p',
    (studyDate) => {
      const until = computeRetainUntil({ studyDate, receivedAt, policyYears: 15, minimumYears: 15 });
      expect(iso(until)).toBe('2039-05-10T08:30:00.000Z');
    },
  );

  it('turns 29 February into 1 March of a common year, never 28 February (never shorter)', () => {
    const leap = new Date('2024-02-29T12:00:00.000Z');
    expect(iso(computeRetainUntil({ receivedAt: leap, policyYears: 15, minimumYears: 15 }))).toBe('2039-03-01T12:00:00.000Z');
    // 2024 + 16 = 2040 is a leap year again: 29 February stays.
    expect(iso(computeRetainUntil({ receivedAt: leap, policyYears: 16, minimumYears: 15 }))).toBe('2040-02-29T12:00:00.000Z');
    expect(iso(computeRetainUntil({ studyDate: '20240229', receivedAt: new Date('2024-02-28T23:00:00Z'), policyYears: 15, minimumYears: 15 }))).toBe(
      '2039-03-01T00:00:00.000Z',
    );
  });

  it('rounds up to the whole second (S3 retention has second precision)', () => {
    const until = computeRetainUntil({ receivedAt: new Date('2024-05-10T08:30:00.001Z'), policyYears: 15, minimumYears: 15 });
    expect(iso(until)).toBe('2039-05-10T08:30:01.000Z');
  });

  it('accepts the pre-3.0 DA form YYYY.MM.DD', () => {
    expect(parseDicomDate('2024.05.12')?.toISOString()).toBe('2024-05-12T00:00:00.000Z');
  });

  it.each([[-1], [1.5], [Number.NaN]])('rejects policyYears %p', (policyYears) => {
    expect(() => computeRetainUntil({ receivedAt, policyYears, minimumYears: 15 })).toThrow(AppError);
  });

  it('rejects an invalid receivedAt', () => {
    expect(() => computeRetainUntil({ receivedAt: new Date('nope'), policyYears: 15, minimumYears: 15 })).toThrow(AppError);
  });
});
