import { AssociationThrottle } from './association.throttle';

describe('AssociationThrottle', () => {
  it('throttles an address after maxFailures refusals within the window, until they age out', () => {
    let now = 1_000_000;
    const throttle = new AssociationThrottle({ maxFailures: 3, windowMs: 60_000, now: () => now });
    expect([throttle.recordFailure('10.0.0.9'), throttle.recordFailure('10.0.0.9')]).toEqual([false, false]);
    expect(throttle.isThrottled('10.0.0.9')).toBe(false);
    expect(throttle.recordFailure('10.0.0.9')).toBe(true); // the refusal that starts throttling, once
    expect(throttle.isThrottled('10.0.0.9')).toBe(true);
    expect(throttle.isThrottled('10.0.0.10')).toBe(false); // per address
    now += 60_001;
    expect(throttle.isThrottled('10.0.0.9')).toBe(false);
  });

  it('is off with maxFailures 0 and never throttles an unknown address', () => {
    const throttle = new AssociationThrottle({ maxFailures: 0, windowMs: 60_000 });
    for (let i = 0; i < 50; i += 1) throttle.recordFailure('10.0.0.9');
    expect(throttle.isThrottled('10.0.0.9')).toBe(false);
    const on = new AssociationThrottle({ maxFailures: 1, windowMs: 60_000 });
    on.recordFailure(null);
    expect(on.isThrottled(null)).toBe(false);
  });
});
