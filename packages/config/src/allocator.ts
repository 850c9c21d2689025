/**
 * The C library's allocator settings every Yunying process should start with (#14), as GLIBC_TUNABLES.
 *
 * Why: an instance is a ~1.5 MB buffer (the joined STOW-RS part or C-STORE dataset, its sealed copy), and
 * glibc maps each allocation above its mmap threshold afresh and hands it back to the kernel when freed, so
 * every instance's buffers are faulted in page by page again (~1 ms per 1.5 MB, against ~0.05 ms to fill
 * memory already mapped). With these settings allocations up to 32 MiB come from the heap and up to
 * 256 MiB of freed memory is kept: measured alternated with `bench:explain` (docs/benchmarks.md, session
 * 24), the launcher's main thread spends ~1.8 ms less per instance at four STOW-RS clients. The price is
 * memory that stays mapped after a peak (at most the trim threshold above what is in use).
 *
 * glibc reads GLIBC_TUNABLES once, before any code of the process runs, and ignores a name it does not
 * know without a word; so `npm start`, the Kubernetes ConfigMap and the benchmark's launcher set it from
 * here (tests check that they do), and `allocatorTuned` lets the launcher say when it is missing.
 */
export const RECOMMENDED_GLIBC_TUNABLES = 'glibc.malloc.mmap_threshold=33554432:glibc.malloc.trim_threshold=268435456';

/** Whether a GLIBC_TUNABLES value carries each recommended setting (the operator may add others). */
export function allocatorTuned(value: string | undefined): boolean {
  if (value === undefined) return false;
  const set = new Set(value.split(':').map((pair) => pair.trim()));
  return RECOMMENDED_GLIBC_TUNABLES.split(':').every((pair) => set.has(pair));
}
