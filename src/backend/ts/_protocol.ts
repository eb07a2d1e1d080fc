/**
 * The protocol between the main thread and the workers: the slots of the shared sync and job
 * blocks, and the wait both sides use. Shared by _threads.ts and _worker.ts (which must not import
 * each other).
 *
 * @module
 */

/** Indices into the Int32 sync block. */
export const SEQ = 0, DONE = 1, FAILED = 2, READY = 3, QUIT = 4;
/** Size of the Float64 job block: kernel, total, parts, operand count, 3 per operand, count, params. */
export const JOB_SLOTS = 128;
/** How long a thread spins on a shared counter before it sleeps. */
export const SPIN_MS = 2;
/** Element types of operands in a job, by code. */
export const DTYPES = ["float32", "float64", "int32"] as const;

/** Waits until `sync[i]` differs from `seen` and returns it: spins for `SPIN_MS`, then sleeps. */
export function waitWhile(sync: Int32Array, i: number, seen: number): number {
  let v = Atomics.load(sync, i);
  if (v !== seen) return v;
  const spinUntil = performance.now() + SPIN_MS;
  for (let spins = 0; (v = Atomics.load(sync, i)) === seen;) {
    if ((++spins & 1023) === 0 && performance.now() > spinUntil) Atomics.wait(sync, i, seen, 50);
  }
  return v;
}
