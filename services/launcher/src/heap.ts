import v8 from 'node:v8';
import type { Config } from '@yunying/config';

/**
 * How far V8 lets the old generation grow past what the last full collection left live, in a process
 * that runs the ingest role (#14): 100 = to twice the live heap.
 *
 * Why: left to itself V8 derives the factor from how fast it collects against how fast the old generation
 * fills. The ingest role's heap is ~50 MB live, each instance promotes its parse, its JSON and the
 * wrappers of its ~1.5 MB of buffers, and on a busy machine a full collection is slow, so the factor sits
 * at its floor: the next limit is only a few MB above the live heap, less than the young generation, and
 * incremental marking starts again almost at once. Measured with `bench:explain --studies 20` (123
 * instances): 10-12 full mark-compacts per STOW-RS run of one client, each 5-240 ms of main thread; with
 * this factor 3-4 (docs/benchmarks.md). The price is memory: the heap may reach about twice its live size
 * (~100 MB) between collections. V8 flags are per process: in ROLE=all the other roles' heaps, the
 * inference worker threads' included, grow the same way.
 */
export const INGEST_HEAP_GROWING_PERCENT = 100;

const FLAG = '--heap-growing-percent';

/**
 * The V8 flag to set in this process, or null: none when it runs no ingest role, and none when the
 * operator chose a growing factor on node's command line (theirs wins; Node refuses V8 flags such as this
 * one in NODE_OPTIONS, so the command line is the only other place it can come from).
 */
export function heapGrowingFlag(role: Config['role'], execArgv: readonly string[]): string | null {
  if (role !== 'ingest' && role !== 'all') return null;
  const chosen = execArgv.some((arg) => arg === FLAG || arg.startsWith(`${FLAG}=`) || arg === '--heap_growing_percent' || arg.startsWith('--heap_growing_percent='));
  return chosen ? null : `${FLAG}=${INGEST_HEAP_GROWING_PERCENT}`;
}

/**
 * Applies heapGrowingFlag to the running isolate. V8 reads this flag each time it recomputes the heap's
 * limits after a full collection, so setting it at run time takes effect from the next one (checked with
 * a GC counter: 3-4 full collections instead of 10-12 per run); it changes when V8 collects, nothing else.
 */
export function tuneHeapForRole(role: Config['role']): string | null {
  const flag = heapGrowingFlag(role, process.execArgv);
  if (flag !== null) v8.setFlagsFromString(flag);
  return flag;
}
