/**
 * Which backend the CPU device runs: the WebAssembly SIMD kernels where the runtime has WebAssembly
 * SIMD and threads, else the TypeScript loops. The environment variable `CONVNET_CPU` decides when set:
 * `ts` selects the TypeScript loops, `wasm` requires the WebAssembly kernels (an Error when they cannot
 * run), `auto` (or unset) takes wasm when it works.
 *
 * @module
 */
import type { Backend } from "../backend.ts";
import { tsBackend } from "../ts/fast.ts";
import { wasmBackend, wasmUnavailable } from "./mod.ts";

/** What `CONVNET_CPU` asks for. */
export type CpuBackendRequest = "wasm" | "ts" | "auto";

/** The CPU's backend, its description, and the one line to print when wasm was wanted but is missing. */
export interface CpuBackendChoice {
  /** The backend the CPU device runs. */
  backend: Backend;
  /** "cpu (WebAssembly SIMD backend)" or "cpu (TypeScript backend)". */
  description: string;
  /** Set when "auto" fell back to the TypeScript loops: says why, once, on stderr. */
  notice: string | null;
}

/**
 * Picks the CPU backend for `request` (default: `CONVNET_CPU`, else "auto"). Throws an Error naming
 * what is missing when "wasm" is requested and cannot run, or when `CONVNET_CPU` is not valid.
 *
 * @example
 * ```ts
 * import { chooseCpuBackend } from "./select.ts";
 * console.log(chooseCpuBackend("ts").description); // "cpu (TypeScript backend)"
 * ```
 */
export function chooseCpuBackend(request?: CpuBackendRequest): CpuBackendChoice {
  const req = request ?? envCpu();
  const ts = { backend: tsBackend as Backend, description: "cpu (TypeScript backend)", notice: null };
  if (req === "ts") return ts;
  const why = wasmUnavailable();
  if (why === null) {
    return { backend: wasmBackend as Backend, description: "cpu (WebAssembly SIMD backend)", notice: null };
  }
  if (req === "wasm") {
    throw new Error(`CONVNET_CPU=wasm: the WebAssembly SIMD backend cannot run here: ${why}; use CONVNET_CPU=ts`);
  }
  return { ...ts, notice: `convnet: WebAssembly SIMD unavailable (${why}); the CPU runs the TypeScript backend` };
}

function envCpu(): CpuBackendRequest {
  let v: string | undefined;
  try {
    // Asked without prompting: a program run without --allow-env must not stop at a prompt on a terminal.
    const allowed = Deno.permissions.querySync({ name: "env", variable: "CONVNET_CPU" }).state === "granted";
    v = allowed ? Deno.env.get("CONVNET_CPU") : undefined;
  } catch {
    v = undefined; // no --allow-env: the default
  }
  if (v === undefined || v === "") return "auto";
  if (v === "wasm" || v === "ts" || v === "auto") return v;
  throw new Error(`cpu: CONVNET_CPU=${JSON.stringify(v)} is not valid; expected wasm, ts or auto`);
}
