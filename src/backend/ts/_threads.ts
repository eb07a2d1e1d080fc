/**
 * Worker threads for the TypeScript backend, and the one call that splits a kernel across them.
 *
 * With N threads there are N − 1 workers; the main thread computes part 0 of every job
 * itself. A job travels through shared memory (no messages): the kernel's index, its
 * operands as offsets into the shared heap, and its numbers. The main thread bumps a
 * sequence number; each worker takes its part, computes it and counts it done. The main
 * thread, done with part 0, computes every part that no worker has taken yet, so a worker
 * that the OS has not scheduled (fewer free cores than threads) costs nothing: waiting for
 * such workers made 2 threads 10× slower than 1 on 2 cores under a load average of 10. Each
 * part is the same range with the same arithmetic whichever thread runs it, so results stay
 * bit-identical.
 *
 * Waking a sleeping thread (Atomics.wait / notify) takes about 30–50 µs here, longer than
 * many kernels at batch 10, so threads spin on the shared counters for a while before they
 * sleep (a spinning round trip takes under 1 µs). Workers are unref'd: they never keep the
 * process alive.
 *
 * @module
 */
import { Worker } from "node:worker_threads";
import { KERNEL_NAMES, type KernelName, KERNELS, type Operand } from "./_kernels.ts";
import { allocateShared, free, heapAllocOrNull, heapMemory, inSharedHeap, sharedHeap } from "./_alloc.ts";

export { DONE, DTYPES, FAILED, JOB_SLOTS, QUIT, READY, SEQ, SPIN_MS, waitWhile } from "./_protocol.ts";
import { claim, DONE, DTYPES, FAILED, JOB_SLOTS, partRange, QUIT, READY, SEQ, waitWhile } from "./_protocol.ts";

interface Pool {
  sync: Int32Array;
  /** One slot per part (see `claim` in _protocol.ts). */
  claims: Int32Array;
  job: Float64Array;
  workers: Worker[];
}

let pool: Pool | null = null;
let threads = 1;

/** The number of threads kernels run on (the main thread included). */
export function numThreads(): number {
  return threads;
}

/**
 * Runs kernels on `n` threads from now on: the main thread and n − 1 workers. Waits until
 * the workers have started (about 60 ms each). With n > 1, new tensors are allocated in the
 * shared heap that workers can reach.
 */
export function startThreads(n: number): void {
  if (!Number.isInteger(n) || n < 1) {
    throw new Error(`setNumThreads: n must be a positive integer, got ${String(n)}`);
  }
  if (n === threads) return;
  stopWorkers();
  threads = n;
  allocateShared(n > 1);
  if (n === 1) return;
  const sync = new Int32Array(new SharedArrayBuffer(64));
  const claims = new Int32Array(new SharedArrayBuffer(4 * n));
  const job = new Float64Array(new SharedArrayBuffer(JOB_SLOTS * 8));
  const heap = sharedHeap();
  const workers: Worker[] = [];
  for (let part = 1; part < n; part++) {
    // env: {}: the default copies process.env, which asks for --allow-env (a prompt on a terminal).
    const worker = new Worker(workerUrl(), {
      workerData: { sync, claims, job, heap, part, memory: heapMemory() },
      env: {},
    });
    worker.unref();
    workers.push(worker);
  }
  pool = { sync, claims, job, workers };
  const deadline = performance.now() + 20_000;
  for (let ready; (ready = Atomics.load(sync, READY)) < n - 1;) {
    if (performance.now() > deadline) {
      stopWorkers();
      threads = 1;
      allocateShared(false);
      throw new Error(
        `setNumThreads: only ${ready} of ${n - 1} worker threads started within 20 s ` +
          "(can the process read src/backend/ts/_worker.ts?); running on one thread",
      );
    }
    Atomics.wait(sync, READY, ready, 100);
  }
}

/**
 * The worker's module. `node:worker_threads` starts only file: and data: URLs: when convnet is
 * imported over http(s) (JSR), a one-line data: module imports the worker from there.
 */
function workerUrl(): URL {
  const url = new URL("./_worker.ts", import.meta.url);
  if (url.protocol === "file:") return url;
  return new URL(`data:text/javascript,import ${encodeURIComponent(JSON.stringify(url.href))};`);
}

/**
 * Never called: its literal import puts the worker's module in the module graph, so that over
 * http(s) it is downloaded (and locked) with the rest of convnet. Fetched only when a worker starts,
 * it never arrives: the main thread waits in `Atomics.wait`, and the download needs its event loop.
 */
// deno-lint-ignore no-unused-vars
function keepWorkerInModuleGraph(): Promise<unknown> {
  return import("./_worker.ts");
}

function stopWorkers(): void {
  if (!pool) return;
  Atomics.store(pool.sync, QUIT, 1);
  Atomics.add(pool.sync, SEQ, 1);
  Atomics.notify(pool.sync, SEQ);
  pool = null; // the workers return from their loop and end
}

/**
 * Runs kernel `name` over [0, total), split into contiguous parts across the threads (at
 * least `grain` units each; the main thread takes part 0). Operands outside the shared
 * heap (allocated before threads were on) travel through temporary copies.
 */
export function runSplit(
  name: KernelName,
  ops: Operand[],
  params: readonly number[],
  total: number,
  grain: number,
): void {
  const kernel = KERNELS[name];
  const parts = Math.min(threads, Math.floor(total / grain));
  if (parts <= 1 || pool === null) return kernel.run(ops, params, 0, total);
  const { sync, claims, job } = pool;
  const shared = ops.map((a) => a.length === 0 || inSharedHeap(a) ? a : copyToHeap(a));
  if (shared.includes(null)) { // the heap is full: stay on this thread
    shared.forEach((s, i) => s !== ops[i] && s !== null && free(s));
    return kernel.run(ops, params, 0, total);
  }
  const sh = shared as Operand[];
  if (4 + 3 * sh.length + 1 + params.length > JOB_SLOTS) {
    throw new Error(
      `ts backend: job ${name} has ${sh.length} operands and ${params.length} numbers; the job block holds ${JOB_SLOTS} slots`,
    );
  }
  let at = 0;
  job[at++] = KERNEL_NAMES.indexOf(name);
  job[at++] = total;
  job[at++] = parts;
  job[at++] = sh.length;
  for (const a of sh) {
    job[at++] = DTYPES.indexOf(dtypeOf(a));
    job[at++] = a.byteOffset;
    job[at++] = a.length;
  }
  job[at++] = params.length;
  for (const v of params) job[at++] = v;
  Atomics.store(sync, DONE, 0);
  const seq = (Atomics.load(sync, SEQ) + 1) | 0;
  for (let part = 1; part < parts; part++) Atomics.store(claims, part, seq);
  Atomics.store(sync, SEQ, seq);
  Atomics.notify(sync, SEQ);
  let error: unknown = null;
  let stolen = 0;
  for (let part = 0; part < parts; part++) {
    // Part 0 is this thread's; then every part that no worker has taken yet.
    if (part > 0 && !claim(claims, part, seq)) continue;
    if (part > 0) stolen++;
    const [lo, hi] = partRange(total, part, parts);
    try {
      kernel.run(sh, params, lo, hi);
    } catch (e) {
      error ??= e; // still wait: the next job must not start while workers run this one
    }
  }
  const byWorkers = parts - 1 - stolen;
  for (let done; (done = Atomics.load(sync, DONE)) < byWorkers;) waitWhile(sync, DONE, done);
  for (let i = 0; i < sh.length; i++) {
    if (sh[i] === ops[i]) continue;
    if (i < kernel.outputs) ops[i].set(sh[i] as never);
    free(sh[i]);
  }
  const failed = Atomics.exchange(sync, FAILED, 0);
  if (error !== null) throw error;
  if (failed !== 0) {
    throw new Error(`ts backend: kernel ${name} failed on worker thread ${failed} (its error is on stderr)`);
  }
}

function dtypeOf(a: Operand): (typeof DTYPES)[number] {
  return a instanceof Float32Array ? "float32" : a instanceof Float64Array ? "float64" : "int32";
}

function copyToHeap(a: Operand): Operand | null {
  const copy = heapAllocOrNull(dtypeOf(a), a.length) as Operand | null;
  copy?.set(a as never);
  return copy;
}
