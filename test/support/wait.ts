/**
 * The one bounded wait of the system tests: polls observable state instead of sleeping for a fixed time.
 * `probe` answers `null`, `undefined` or `false` for "not yet" and anything else for "done" (that value
 * is returned). Without `everyMs` the interval grows from 50 ms to one second, so a quick event is seen
 * quickly and a slow one does not hammer the system under test; with it, the probe runs at that fixed
 * interval (for a test that must catch a short-lived intermediate state).
 */
export async function waitFor<T>(
  what: string,
  probe: () => Promise<T | null | undefined | false>,
  timeoutMs = 90_000,
  everyMs?: number,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (let delay = everyMs ?? 50; ; delay = everyMs ?? Math.min(delay * 2, 1000)) {
    const value = await probe();
    if (value !== null && value !== undefined && value !== false) return value;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, delay));
  }
}
