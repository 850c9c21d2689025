/**
 * Group commit across requests and associations (#14). Every catalog transaction of a process's ingest
 * goes through one committer: a submission (a request's batch, one C-STORE, one derived object) is written
 * at once when no transaction is running, and the submissions that arrive while one runs are written
 * together in the next one. A lone client therefore waits for nothing it did not wait for before, and
 * concurrent clients (several synchronous associations, several STOW requests) share transactions: one
 * multi-row statement per table, one commit, one outbox relay kick for all of them.
 *
 * What a shared transaction may hold: whole submissions, in arrival order, up to `maxInstances` items (a
 * larger submission goes alone), and never two items with the same key (SOP Instance UID): the second
 * waits for the next transaction, so it meets the first as a committed row exactly as it did when every
 * request committed on its own (stored then already_stored, new_version or uid_conflict).
 */
export interface GroupCommitLimits {
  /** Items in one shared transaction at most (a larger submission is written alone). */
  maxInstances: number;
}

interface Submission<T, R> {
  items: readonly T[];
  resolve: (results: R[]) => void;
  reject: (error: unknown) => void;
}

export class GroupCommitter<T, R> {
  private queue: Array<Submission<T, R>> = [];
  private running = false;

  /**
   * `commit` writes the submissions of one group and returns each one's results, in order; it is called
   * once at a time. Should it throw, every submission of the group is rejected (never resolved as done).
   */
  constructor(
    private readonly limits: GroupCommitLimits,
    private readonly keyOf: (item: T) => string,
    private readonly commit: (group: ReadonlyArray<readonly T[]>) => Promise<R[][]>,
  ) {
    if (!(limits.maxInstances >= 1)) throw new Error('group commit: maxInstances must be at least 1');
  }

  /** Resolves with the results of these items once the transaction holding them has ended. */
  submit(items: readonly T[]): Promise<R[]> {
    return new Promise<R[]>((resolve, reject) => {
      this.queue.push({ items, resolve, reject });
      if (!this.running) void this.drain();
    });
  }

  private async drain(): Promise<void> {
    this.running = true;
    try {
      while (this.queue.length > 0) {
        const group = this.take();
        try {
          const results = await this.commit(group.map((s) => s.items));
          group.forEach((s, i) => {
            const r = results[i];
            if (r === undefined || r.length !== s.items.length) s.reject(new Error('group commit: a submission got no results'));
            else s.resolve(r);
          });
        } catch (error) {
          for (const s of group) s.reject(error);
        }
      }
    } finally {
      this.running = false;
    }
  }

  /** The next group: queued submissions in order while they fit and repeat no key of the group. */
  private take(): Array<Submission<T, R>> {
    const group: Array<Submission<T, R>> = [];
    const keys = new Set<string>();
    let size = 0;
    while (this.queue.length > 0) {
      const next = this.queue[0] as Submission<T, R>;
      if (group.length > 0) {
        if (size + next.items.length > this.limits.maxInstances) break;
        if (next.items.some((item) => keys.has(this.keyOf(item)))) break;
      }
      this.queue.shift();
      group.push(next);
      size += next.items.length;
      for (const item of next.items) keys.add(this.keyOf(item));
    }
    return group;
  }
}
