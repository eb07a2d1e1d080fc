/**
 * The TypeScript backend: kernels in plain TypeScript on typed arrays, on any machine.
 *
 * Two backends live here. {@linkcode tsReferenceBackend} (reference.ts) is plain, readable
 * loops: the reference every other kernel (the fast paths, CUDA) is tested against.
 * {@linkcode tsBackend} (fast.ts) is what the CPU device runs: the same contract, with fast
 * float32 paths where they measurably win, recycled storage, and the big kernels split
 * across worker threads ({@linkcode setNumThreads}).
 *
 * @module
 */
import { numThreads, startThreads } from "./_threads.ts";

export type { FloatArray, NumArray, TsStorage } from "./_types.ts";
export { tsReferenceBackend } from "./reference.ts";
export { tsBackend } from "./fast.ts";

/**
 * Runs the TypeScript backend's big kernels on `n` threads: this one and n − 1 workers
 * (default 1, or the environment variable `CONVNET_THREADS`). Blocks until the workers
 * have started. Each output element is computed by exactly one thread with the same
 * arithmetic whatever `n`, so results are bit-identical run to run and across thread counts.
 * Tensors created from now on live in shared memory that the workers can reach; earlier
 * ones still work (through temporary copies).
 *
 * @example
 * ```ts
 * import { getNumThreads, setNumThreads } from "@convnet/convnet";
 * setNumThreads(navigator.hardwareConcurrency);
 * console.log(getNumThreads());
 * setNumThreads(1);
 * ```
 */
export function setNumThreads(n: number): void {
  startThreads(n);
}

/**
 * The number of threads the TypeScript backend runs on.
 *
 * @example
 * ```ts
 * import { getNumThreads } from "@convnet/convnet";
 * getNumThreads(); // 1 unless setNumThreads or CONVNET_THREADS said otherwise
 * ```
 */
export function getNumThreads(): number {
  return numThreads();
}

function envThreads(): number {
  let v: string | undefined;
  try {
    // Asked without prompting: a program run without --allow-env must not stop at a prompt on a terminal.
    const allowed = Deno.permissions.querySync({ name: "env", variable: "CONVNET_THREADS" }).state === "granted";
    v = allowed ? Deno.env.get("CONVNET_THREADS") : undefined;
  } catch {
    return 1; // no --allow-env
  }
  if (v === undefined || v === "") return 1;
  const n = Number(v);
  if (!Number.isInteger(n) || n < 1) {
    throw new Error(`ts backend: CONVNET_THREADS=${JSON.stringify(v)} is not valid; expected a positive integer`);
  }
  return n;
}

const initial = envThreads();
if (initial > 1) startThreads(initial);
