/**
 * Shared by the CUDA backend tests (tests/cuda_*_test.ts): the device under test, device buffers,
 * random inputs, the reference runner and `near()`.
 *
 * Which native library runs:
 * - by default the CPU emulation build (native/build/libconvnet_emu.so, built here by
 *   ensureEmuLibrary), so the suite runs on machines without a GPU;
 * - with CONVNET_DEVICE=cuda (scripts/gpu_check.sh on a card), the real library: CONVNET_LIB, else
 *   native/build/libconvnet_cuda.so.
 * The backend is built from that library directly, never through device("auto"), so the result does
 * not depend on what else the environment offers.
 *
 * Tolerances are atol + rtol·scale, where scale is |reference| for elementwise ops and, for sums of
 * products (GEMM, convolution, reductions), the same computation on absolute values: float32
 * accumulation error grows with the sum of |terms|, not with the (possibly cancelled) result.
 *
 * @module
 */
import { join } from "./_std.ts";
import { ensureEmuLibrary, findCxx } from "../scripts/build_native.ts";
import type { Backend, Broadcast, DType } from "../src/backend/backend.ts";
import { contiguousStrides } from "../src/backend/shape.ts";
import { tsReferenceBackend } from "../src/backend/ts/mod.ts";
import {
  type CudaBackend,
  type CudaDevice,
  cudaDevice,
  type CudaStorage,
  openLibrary,
} from "../src/backend/cuda/mod.ts";
import { Generator } from "../src/tensor/random.ts";

/** The repository root. */
export const root: string = join(import.meta.dirname!, "..");

/** True when the tests run on a real card (CONVNET_DEVICE=cuda), not the emulator. */
export const onCard: boolean = (() => {
  try {
    return Deno.env.get("CONVNET_DEVICE") === "cuda";
  } catch {
    return false;
  }
})();

/** A log sink that drops the build's lines. */
export const quiet = (): void => {};

/** The device under test, or why there is none. */
async function openTarget(): Promise<CudaDevice> {
  if (onCard) return cudaDevice(openLibrary()); // CONVNET_LIB, else native/build/libconvnet_cuda.so
  // CONVNET_EMU_LIB: another emulation build, e.g. the sanitizer's (tests/emu_run_test.ts runs the suite on it).
  const emuLib = Deno.env.get("CONVNET_EMU_LIB");
  return cudaDevice(openLibrary({ path: emuLib || await ensureEmuLibrary({ log: quiet }) }));
}

/** No g++: the emulation library cannot be built here, so the CUDA tests are skipped. */
export const ignore: boolean = !onCard && findCxx() === null;
let target: CudaDevice | null = null;
let targetError: unknown = null;
if (!ignore) {
  try {
    target = await openTarget();
  } catch (e) {
    targetError = e;
  }
}

/** The device, or the reason it could not be opened as the test's failure. */
export function dev(): CudaDevice {
  if (target) return target;
  throw new Error(
    `the CUDA backend could not be opened (${onCard ? "real library" : "emulation build"}): ${
      targetError instanceof Error ? targetError.message : String(targetError)
    }`,
    { cause: targetError },
  );
}

/** Registers a CUDA test (skipped where the device cannot exist). */
export function test(name: string, fn: () => void | Promise<void>): void {
  Deno.test({ name, ignore, fn });
}

/** The reference every CUDA kernel is checked against: the TypeScript backend's plain loops. */
export const ref: Required<Backend> = tsReferenceBackend as Required<Backend>;

/** Host values of any device dtype. */
export type Host = Float32Array | Int32Array | BigInt64Array;

function dtypeOfHost(values: Host): DType {
  return values instanceof Int32Array ? "int32" : values instanceof BigInt64Array ? "int64" : "float32";
}

/** Device buffers of one test, all freed at the end. */
export class Buffers {
  #live: CudaStorage[] = [];
  /** The backend under test. */
  readonly be: CudaBackend;
  constructor() {
    this.be = dev().backend;
  }
  /** Uploads host values (their dtype from the array type). */
  put(values: Host): CudaStorage {
    const s = this.be.fromHost(dtypeOfHost(values), values);
    this.#live.push(s);
    return s;
  }
  /** An output buffer pre-filled with a sentinel (NaN, or -12345 for int32): unwritten outputs show. */
  out(dtype: "float32" | "int32", size: number): CudaStorage {
    const s = this.be.alloc(dtype, size);
    this.#live.push(s);
    if (size > 0) this.be.fill(s, dtype === "float32" ? NaN : -12345, size);
    return s;
  }
  /** A fresh allocation (zeros owed, not yet written). */
  alloc(dtype: DType, size: number): CudaStorage {
    const s = this.be.alloc(dtype, size);
    this.#live.push(s);
    return s;
  }
  /** Downloads `size` elements (default: all). */
  get(s: CudaStorage, size: number = s.size): Float32Array | Int32Array {
    return this.be.toHost(s.dtype, s, size) as Float32Array | Int32Array;
  }
  /** Frees every buffer of the test. */
  free(): void {
    for (const s of this.#live) this.be.free(s);
    this.#live = [];
  }
}

/** Runs `fn` with fresh buffers, freeing them afterwards (also on failure). */
export function withBuffers(fn: (b: Buffers) => void): void {
  const b = new Buffers();
  try {
    fn(b);
  } finally {
    b.free();
  }
}

/** n uniform float32 values in [lo, hi). */
export function uniform(g: Generator, n: number, lo = -1, hi = 1): Float32Array {
  const a = new Float32Array(n);
  for (let i = 0; i < n; i++) a[i] = g.uniform(lo, hi);
  return a;
}

/** n integers in [lo, hi]. */
export function ints(g: Generator, n: number, lo: number, hi: number): Int32Array {
  const a = new Int32Array(n);
  for (let i = 0; i < n; i++) a[i] = lo + Math.floor(g.uniform(0, hi - lo + 1));
  return a.map((v) => Math.min(v, hi));
}

/** |a| elementwise. */
export const abs = (a: Float32Array): Float32Array => a.map(Math.abs);

/** Runs a reference-backend kernel on host copies and returns its outputs. */
export function reference(
  inputs: (Host | null)[],
  outputs: [DType, number, Host?][],
  kernel: (...s: unknown[]) => void,
): (Float32Array | Int32Array)[] {
  const ins = inputs.map((a) => (a === null ? null : ref.fromHost(dtypeOfHost(a), a)));
  const outs = outputs.map(([dtype, size, init]) => (init ? ref.fromHost(dtype, init) : ref.alloc(dtype, size)));
  kernel(...outs, ...ins);
  const res = outs.map((s, i) => ref.toHost(outputs[i][0], s, outputs[i][1]) as Float32Array | Int32Array);
  for (const s of [...ins, ...outs]) if (s !== null) ref.free(s);
  return res;
}

export { near } from "./_std.ts";

/** Row-major strides of a shape. */
export const contiguous: (shape: readonly number[]) => number[] = contiguousStrides;

/** Numpy broadcasting of two shapes (as src/tensor/tensor.ts builds it). */
export function broadcast(a: number[], b: number[]): Broadcast {
  const rank = Math.max(a.length, b.length);
  const as = contiguous(a), bs = contiguous(b);
  const shape: number[] = [], aStrides: number[] = [], bStrides: number[] = [];
  for (let i = 0; i < rank; i++) {
    const ai = i - (rank - a.length), bi = i - (rank - b.length);
    const da = ai >= 0 ? a[ai] : 1, db = bi >= 0 ? b[bi] : 1;
    shape.push(Math.max(da, db));
    aStrides.push(da === 1 ? 0 : as[ai]);
    bStrides.push(db === 1 ? 0 : bs[bi]);
  }
  return { shape, aStrides, bStrides };
}

/** Elements of a shape. */
export const numel = (s: readonly number[]): number => s.reduce((p, d) => p * d, 1);

/** Sizes for elementwise tests: 1, a prime, a multiple of 4 and a prime past a block. */
export const SIZES: number[] = [1, 7, 1000, 4099];

/** Runs `code` (a module importing from the repository) in a fresh Deno process; returns stdout + stderr. */
export async function child(code: string, env: Record<string, string>, perms: string[]): Promise<string> {
  const file = await Deno.makeTempFile({ suffix: ".ts" });
  try {
    await Deno.writeTextFile(file, code.replaceAll("ROOT/", `${root}/`));
    const out = await new Deno.Command(Deno.execPath(), {
      args: ["run", "--no-prompt", ...perms, file],
      env: { NO_COLOR: "1", CONVNET_DEVICE: "auto", ...env },
      stdout: "piped",
      stderr: "piped",
    }).output();
    return new TextDecoder().decode(out.stdout) + new TextDecoder().decode(out.stderr);
  } finally {
    await Deno.remove(file);
  }
}

export { Generator };
