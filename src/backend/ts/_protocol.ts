/**
 * The protocol between the main thread and the workers: the slots of the shared sync and job
 * blocks, and the wait both sides use. Shared by _threads.ts and _worker.ts (which must not import
 * each other).
 *
 * @module
 */

/** Indices into the Int32 sync block. DONE counts the parts of the current job that workers finished. */
export const SEQ = 0, DONE = 1, FAILED = 2, READY = 3, QUIT = 4;

/**
 * A part of a job is taken by one thread only. The main thread posts job `seq` by writing
 * `claims[part] = seq` for each part a worker may compute; a thread takes the part by swapping
 * `seq` for `TAKEN`. The main thread, done with its own part, takes every part no worker has
 * taken yet, so a worker that the OS has not scheduled (more threads than free cores) delays
 * nothing; a worker that wakes after the main thread moved on finds its slot holding another
 * value and skips the job it missed. Which thread computes a part never changes its numbers.
 */
export const TAKEN = -1;

/** Takes `part` of job `seq` for the calling thread; false when another thread took it or the job is over. */
export function claim(claims: Int32Array, part: number, seq: number): boolean {
  return Atomics.compareExchange(claims, part, seq, TAKEN) === seq;
}

/** The range [lo, hi) of `part` of `parts` over [0, total). */
export function partRange(total: number, part: number, parts: number): [number, number] {
  return [Math.floor(total * part / parts), Math.floor(total * (part + 1) / parts)];
}
/** Size of the Float64 job block: kernel, total, parts, operand count, 3 per operand, count, params. */
export const JOB_SLOTS = 128;
/**
 * How long a thread spins on a shared counter before it sleeps. The gaps between jobs in a
 * training step at batch 10 are 11 µs (median) and under 0.5 ms 98% of the time, so a worker
 * that spins this long is awake for the next job; when it sleeps anyway, the main thread takes
 * its part (see `claim`) rather than wait 30–50 µs for it to wake. Spinning longer burned the
 * CPU that, on a loaded machine, the main thread needed: 13 ms per step at 2 ms against 9 at
 * 0.5 (batch 10, 2 threads, load average 9 on 2 cores).
 */
export const SPIN_MS = 0.5;
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
