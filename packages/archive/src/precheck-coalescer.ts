import type { IngestPrecheck, IngestPrecheckInput } from '@yunying/catalog';

/**
 * The ingest pre-checks of one process, merged into one statement per group (#14). The pre-check (is this
 * a re-send, do its UIDs belong to another clinic or study, which clinic sends it) must run before an
 * instance's copies are written, so that a refused instance leaves none, and it needs the instance's UIDs
 * and digests: a streamed STOW part or a C-STORE has them only once it is parsed and hashed. So it cannot
 * be done once per request ahead of the parts; what can be merged is what waits at the same time.
 * Like the group committer: a check asked for while none runs is sent on the next turn of the event loop
 * (so that parts parsed in the same turn join it); those asked for while one runs go together in the next
 * statement. A lone instance waits for nothing new.
 *
 * Each instance's answer is the one it would get alone (ingestPrechecks checks each on its own). A failed
 * statement of several instances is retried for each alone, so that a value one instance carries (a class
 * 22 error) fails only that instance's request, as before.
 */
export class PrecheckCoalescer {
  private queue: Waiting[] = [];
  private running = false;

  constructor(
    private readonly run: (inputs: readonly IngestPrecheckInput[]) => Promise<IngestPrecheck[]>,
    /** Instances in one statement at most. */
    private readonly maxInstances: number,
  ) {}

  check(input: IngestPrecheckInput): Promise<IngestPrecheck> {
    return new Promise<IngestPrecheck>((resolve, reject) => {
      this.queue.push({ input, resolve, reject });
      if (this.running) return;
      this.running = true;
      setImmediate(() => void this.drain());
    });
  }

  private async drain(): Promise<void> {
    while (this.queue.length > 0) await this.settle(this.queue.splice(0, Math.max(1, this.maxInstances)));
    this.running = false;
  }

  private async settle(group: readonly Waiting[]): Promise<void> {
    let results: IngestPrecheck[];
    try {
      results = await this.run(group.map((w) => w.input));
    } catch (error) {
      const [only] = group;
      if (group.length === 1 && only) only.reject(error);
      else await Promise.all(group.map((w) => this.settle([w])));
      return;
    }
    group.forEach((w, i) => {
      const result = results[i];
      if (result) w.resolve(result);
      else w.reject(new Error('the pre-check returned no answer for an instance'));
    });
  }
}

interface Waiting {
  input: IngestPrecheckInput;
  resolve: (result: IngestPrecheck) => void;
  reject: (error: unknown) => void;
}
