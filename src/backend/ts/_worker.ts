/**
 * A worker thread of the TypeScript backend: waits for a job in shared memory, takes its part
 * (unless the main thread took it first), computes it, counts it done, and waits again (see
 * _threads.ts and _protocol.ts for the protocol).
 *
 * @module
 */
import { workerData } from "node:worker_threads";
import { KERNEL_NAMES, KERNELS, type Operand } from "./_kernels.ts";
import { claim, DONE, DTYPES, FAILED, partRange, QUIT, READY, SEQ, waitWhile } from "./_protocol.ts";
import { view } from "./_alloc.ts";

const { sync, claims, job, heap, part } = workerData as {
  sync: Int32Array;
  claims: Int32Array;
  job: Float64Array;
  heap: SharedArrayBuffer;
  part: number;
};

/** `v` as a small integer when it is one. */
function int(v: number): number {
  return (v | 0) === v ? v | 0 : v;
}

// Read the sequence number before saying ready: the first job may come right after.
let seen = Atomics.load(sync, SEQ);
Atomics.add(sync, READY, 1);
Atomics.notify(sync, READY);
for (;;) {
  seen = waitWhile(sync, SEQ, seen);
  if (Atomics.load(sync, QUIT) === 1) break;
  if (!claim(claims, part, seen)) continue; // not a part of this job, or the main thread took it
  const name = KERNEL_NAMES[job[0]], total = job[1], parts = job[2];
  try {
    const ops: Operand[] = [];
    let at = 4;
    for (let i = 0; i < job[3]; i++, at += 3) {
      ops.push(view(DTYPES[job[at]], heap, job[at + 1], job[at + 2]) as Operand);
    }
    // Numbers read from a Float64Array are doubles to V8, and so is every index computed
    // from them: the kernels ran at half speed until integers became small integers again.
    const params = Array.from(job.subarray(at + 1, at + 1 + job[at]), int);
    const [lo, hi] = partRange(total, part, parts);
    KERNELS[name].run(ops, params, int(lo), int(hi));
  } catch (e) {
    console.error(`convnet ts backend: worker ${part}: ${name} failed:`, e);
    Atomics.store(sync, FAILED, part);
  }
  Atomics.add(sync, DONE, 1);
  Atomics.notify(sync, DONE);
}
