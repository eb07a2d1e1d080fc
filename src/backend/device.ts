/**
 * Devices: where a tensor's storage lives and which backend computes on it.
 *
 * @module
 */
import type { Device } from "./backend.ts";
import "./ts/mod.ts"; // its CONVNET_THREADS starts the worker threads
import { openCudaDevice } from "./cuda/mod.ts";
import { chooseCpuBackend } from "./wasm/select.ts";

export type { Device, DeviceMemoryInfo, DeviceType } from "./backend.ts";

/** What `device()` accepts: a kind, or "auto" to take CUDA when it works and the CPU otherwise. */
export type DeviceRequest = "cpu" | "cuda" | "auto";

const cpuChoice = chooseCpuBackend();
if (cpuChoice.notice !== null) console.error(cpuChoice.notice);

/**
 * The CPU device: the WebAssembly SIMD backend where the runtime has it, else the TypeScript backend;
 * the environment variable `CONVNET_CPU` (wasm, ts or auto) decides when set (see src/backend/wasm/select.ts).
 */
export const cpu: Device = {
  type: "cpu",
  backend: cpuChoice.backend,
  description: cpuChoice.description,
};

/**
 * A source of the CUDA device: returns it, or throws an Error saying what is missing.
 * The default one opens the native library (src/backend/cuda): `CONVNET_LIB`, then
 * native/build/libconvnet_cuda.so.
 */
export type CudaProvider = () => Device;

let cudaProvider: CudaProvider | null = openCudaDevice;
let cudaOpened: Device | null = null;

/**
 * Registers the function that opens the CUDA device (used by the CUDA backend module).
 *
 * @example
 * ```ts
 * import { cpu, registerCudaProvider } from "@convnet/convnet";
 * registerCudaProvider(() => { throw new Error("no driver"); });
 * ```
 */
export function registerCudaProvider(provider: CudaProvider): void {
  cudaProvider = provider;
  cudaOpened = null;
}

/** Opens CUDA or throws an Error saying what is missing (without the "device:" prefix). */
function openCuda(): Device {
  if (!cudaProvider) throw new Error("this version of convnet has no CUDA backend");
  return (cudaOpened = cudaProvider());
}

/** The CUDA device once `device()` has opened it, else null (`memory()` reads it). @internal */
export function openedCudaDevice(): Device | null {
  return cudaOpened;
}

/** Options of {@linkcode device}. */
export interface DeviceOptions {
  /** Called with the one-line notice when "auto" falls back to the CPU (default: console.error). */
  onNotice?: (line: string) => void;
}

/**
 * Picks a device. "cpu" is always there; "cuda" throws an Error naming what is missing;
 * "auto" takes CUDA when it works and otherwise the CPU, printing one line that says why.
 * With no argument, the environment variable `CONVNET_DEVICE` (cpu, cuda or auto) decides,
 * defaulting to "auto".
 *
 * @example
 * ```ts
 * import { device } from "@convnet/convnet";
 * const dev = device("auto"); // CUDA when available, else the TypeScript backend
 * ```
 */
export function device(request?: DeviceRequest, opts: DeviceOptions = {}): Device {
  const req = request ?? envDevice();
  switch (req) {
    case "cpu":
      return cpu;
    case "cuda":
      try {
        return openCuda();
      } catch (e) {
        throw new Error(
          `device: CUDA was requested but is not available: ${e instanceof Error ? e.message : e}; ` +
            'use device("cpu") or device("auto")',
          { cause: e },
        );
      }
    case "auto":
      try {
        return openCuda();
      } catch (e) {
        const why = e instanceof Error ? e.message : String(e);
        (opts.onNotice ?? console.error)(
          `convnet: CUDA unavailable (${why}); using the ${cpu.description.replace(/^cpu \((.*)\)$/, "$1")} on the CPU`,
        );
        return cpu;
      }
    default:
      throw new Error(`device: unknown device ${JSON.stringify(req)}; expected "cpu", "cuda" or "auto"`);
  }
}

function envDevice(): DeviceRequest {
  let v: string | undefined;
  try {
    // Asked without prompting: a program run without --allow-env must not stop at a prompt on a terminal.
    const allowed = Deno.permissions.querySync({ name: "env", variable: "CONVNET_DEVICE" }).state === "granted";
    v = allowed ? Deno.env.get("CONVNET_DEVICE") : undefined;
  } catch {
    v = undefined; // no --allow-env: fall back to the default
  }
  if (v === undefined || v === "") return "auto";
  if (v === "cpu" || v === "cuda" || v === "auto") return v;
  throw new Error(`device: CONVNET_DEVICE=${JSON.stringify(v)} is not valid; expected cpu, cuda or auto`);
}
