/** A dependency a service needs in order to do useful work (Postgres, Redis, object storage...). */
export interface ReadinessCheck {
  name: string;
  check: () => Promise<void>;
}

export interface ReadinessReport {
  ready: boolean;
  checks: { name: string; ok: boolean; error?: string }[];
}

const CHECK_TIMEOUT_MS = 2000;

function withTimeout(promise: Promise<void>, ms: number): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<void>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`no answer within ${ms} ms`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

/** Runs every check in parallel, each bounded in time, so a hung dependency cannot hang /readyz. */
export async function runReadinessChecks(checks: ReadinessCheck[]): Promise<ReadinessReport> {
  const results = await Promise.all(
    checks.map(async ({ name, check }) => {
      try {
        await withTimeout(check(), CHECK_TIMEOUT_MS);
        return { name, ok: true };
      } catch (error) {
        // Only the kind of failure, never connection strings or credentials.
        const message = error instanceof Error ? error.message.replace(/\/\/[^@\s]*@/g, '//***@') : 'failed';
        return { name, ok: false, error: message.slice(0, 200) };
      }
    }),
  );
  return { ready: results.every((r) => r.ok), checks: results };
}
