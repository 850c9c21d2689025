/**
 * Work arrays reused from call to call within one thread. The descriptor kernels and the frame resize
 * need frame-sized temporaries that die when the call returns (about 2.6 MB per frame of the 8 MB the
 * served path allocates in large arrays). Allocated afresh, each is an ArrayBuffer whose memory lives
 * outside V8's heap; on the analysis thread, whose live heap is only ~15 MB, that churn started a full
 * mark-compact every five frames or so (75 over the 401 DDTI frames, 10-45 ms each: the p95 of the
 * served path, #13 runtime in docs/model-card.md).
 *
 * A slot grows and never shrinks, and is handed out as a view of the requested length with whatever the
 * last user left in it: callers write every element they read. A view must not outlive the synchronous
 * call that took it (no await in between), and one slot is never taken twice at once: each slot has a
 * single user, named by the slot.
 */
export type Int32Slot = 'distanceToMask' | 'distanceToOutside' | 'gradientRows';
export type Float64Slot = 'gradientBlur' | 'resizeRows';

type WorkArray = Int32Array | Float64Array;

const int32 = new Map<Int32Slot, Int32Array>();
const float64 = new Map<Float64Slot, Float64Array>();

/** Room for `length` elements, rounded up so a slot settles after a few frames of growing regions. */
function capacity(length: number): number {
  return Math.max(1024, 2 ** Math.ceil(Math.log2(Math.max(1, length))));
}

function take<S, A extends WorkArray>(slots: Map<S, A>, slot: S, length: number, allocate: (capacity: number) => A): A {
  let array = slots.get(slot);
  if (array === undefined || array.length < length) {
    array = allocate(capacity(length));
    slots.set(slot, array);
  }
  return array.subarray(0, length) as A;
}

export function workInt32(slot: Int32Slot, length: number): Int32Array {
  return take(int32, slot, length, (n) => new Int32Array(n));
}

export function workFloat64(slot: Float64Slot, length: number): Float64Array {
  return take(float64, slot, length, (n) => new Float64Array(n));
}
