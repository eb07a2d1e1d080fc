/**
 * Builds convnet's CUDA library from the package's own sources into the user cache, where
 * `device("auto")` finds it. From a project that imports convnet from JSR:
 *
 * ```sh
 * deno run -A jsr:@convnet/convnet/build            # all architectures (sm_80 to sm_90 + PTX)
 * deno run -A jsr:@convnet/convnet/build --arch sm_90   # one architecture, faster to build
 * ```
 *
 * It needs the CUDA toolkit's `nvcc` (11.8 to 13.x, matching the driver; found as `$NVCC`,
 * `$CUDA_HOME/bin/nvcc`, on PATH, then `/usr/local/cuda/bin/nvcc`) and a C++ compiler for nvcc's
 * host code. The sources (`native/`) come with this module: they are imported as text, so they are
 * downloaded, checked against the lock file and cached like the code. They are written to
 * `<cache>/src/` and compiled into `<cache>/libconvnet_cuda.so`, where `<cache>` is
 * `$XDG_CACHE_HOME/convnet/<version>` or `~/.cache/convnet/<version>`. Run again, it rebuilds only
 * what changed; `--force` rebuilds everything. `CONVNET_LIB=<path>` picks a library anywhere else.
 *
 * `--emu` builds the CPU emulation library (`libconvnet_emu.so`, g++ only) instead: the CUDA code
 * path without a GPU, for tests (`CONVNET_LIB=<cache>/libconvnet_emu.so`).
 *
 * @module
 */
import { parseArgs } from "node:util";
import { join } from "./src/_path.ts";
import { LIBRARY_NAME, nativeCacheDir, PACKAGE_VERSION } from "./src/backend/cuda/_library_search.ts";
import { buildCudaLibrary, buildEmuLibrary, BuildError, findCxx, findNvcc } from "./scripts/build_native.ts";

import opsDef from "./native/ops.def" with { type: "text" };
import convnetH from "./native/include/convnet.h" with { type: "text" };
import allocatorCu from "./native/src/allocator.cu" with { type: "text" };
import captureH from "./native/src/capture.h" with { type: "text" };
import commonH from "./native/src/common.h" with { type: "text" };
import conv2dCu from "./native/src/conv2d.cu" with { type: "text" };
import countersCu from "./native/src/counters.cu" with { type: "text" };
import copyStridedCu from "./native/src/copy_strided.cu" with { type: "text" };
import elementwiseCu from "./native/src/elementwise.cu" with { type: "text" };
import gatherCu from "./native/src/gather.cu" with { type: "text" };
import gatherRowsCu from "./native/src/gather_rows.cu" with { type: "text" };
import gemmCu from "./native/src/gemm.cu" with { type: "text" };
import graphCu from "./native/src/graph.cu" with { type: "text" };
import gemmTileCuh from "./native/src/gemm_tile.cuh" with { type: "text" };
import opsCuh from "./native/src/ops.cuh" with { type: "text" };
import optimCu from "./native/src/optim.cu" with { type: "text" };
import philoxCu from "./native/src/philox.cu" with { type: "text" };
import pool2dCu from "./native/src/pool2d.cu" with { type: "text" };
import reduceCu from "./native/src/reduce.cu" with { type: "text" };
import reluBackwardCu from "./native/src/relu_backward.cu" with { type: "text" };
import runtimeCu from "./native/src/runtime.cu" with { type: "text" };
import softmaxXentCu from "./native/src/softmax_xent.cu" with { type: "text" };
import stridedCuh from "./native/src/strided.cuh" with { type: "text" };
import whereCu from "./native/src/where.cu" with { type: "text" };
import cudaEmuH from "./native/emu/cuda_emu.h" with { type: "text" };
import emuInternalH from "./native/emu/emu_internal.h" with { type: "text" };
import fibersCpp from "./native/emu/fibers.cpp" with { type: "text" };
import graphCpp from "./native/emu/graph.cpp" with { type: "text" };
import graphH from "./native/emu/graph.h" with { type: "text" };
import orderCpp from "./native/emu/order.cpp" with { type: "text" };
import racecheckCpp from "./native/emu/racecheck.cpp" with { type: "text" };
import reportCpp from "./native/emu/report.cpp" with { type: "text" };
import emuRuntimeCpp from "./native/emu/runtime.cpp" with { type: "text" };
import sanitizeCpp from "./native/emu/sanitize.cpp" with { type: "text" };
import sanitizeH from "./native/emu/sanitize.h" with { type: "text" };
import sharedCpp from "./native/emu/shared.cpp" with { type: "text" };
import synccheckCpp from "./native/emu/synccheck.cpp" with { type: "text" };

/**
 * Every file the native build reads, by its path in the package: the ops table, the C ABI header,
 * `native/src` (the CUDA library) and `native/emu` (the emulator, for `--emu`). A source added to
 * `native/` needs its line here too (tests/ffi_search_test.ts says which).
 *
 * @example
 * ```ts
 * import { NATIVE_SOURCES } from "jsr:@convnet/convnet/build";
 * console.log(Object.keys(NATIVE_SOURCES).filter((p) => p.endsWith(".cu")));
 * ```
 */
export const NATIVE_SOURCES: Readonly<Record<string, string>> = Object.freeze({
  "native/ops.def": opsDef,
  "native/include/convnet.h": convnetH,
  "native/src/allocator.cu": allocatorCu,
  "native/src/capture.h": captureH,
  "native/src/common.h": commonH,
  "native/src/conv2d.cu": conv2dCu,
  "native/src/counters.cu": countersCu,
  "native/src/copy_strided.cu": copyStridedCu,
  "native/src/elementwise.cu": elementwiseCu,
  "native/src/gather.cu": gatherCu,
  "native/src/gather_rows.cu": gatherRowsCu,
  "native/src/gemm.cu": gemmCu,
  "native/src/graph.cu": graphCu,
  "native/src/gemm_tile.cuh": gemmTileCuh,
  "native/src/ops.cuh": opsCuh,
  "native/src/optim.cu": optimCu,
  "native/src/philox.cu": philoxCu,
  "native/src/pool2d.cu": pool2dCu,
  "native/src/reduce.cu": reduceCu,
  "native/src/relu_backward.cu": reluBackwardCu,
  "native/src/runtime.cu": runtimeCu,
  "native/src/softmax_xent.cu": softmaxXentCu,
  "native/src/strided.cuh": stridedCuh,
  "native/src/where.cu": whereCu,
  "native/emu/cuda_emu.h": cudaEmuH,
  "native/emu/emu_internal.h": emuInternalH,
  "native/emu/fibers.cpp": fibersCpp,
  "native/emu/graph.cpp": graphCpp,
  "native/emu/graph.h": graphH,
  "native/emu/order.cpp": orderCpp,
  "native/emu/racecheck.cpp": racecheckCpp,
  "native/emu/report.cpp": reportCpp,
  "native/emu/runtime.cpp": emuRuntimeCpp,
  "native/emu/sanitize.cpp": sanitizeCpp,
  "native/emu/sanitize.h": sanitizeH,
  "native/emu/shared.cpp": sharedCpp,
  "native/emu/synccheck.cpp": synccheckCpp,
});

/** Options of {@linkcode buildNativeLibrary}. */
export interface BuildNativeOptions {
  /** Build for this architecture only, e.g. `"sm_90"` (default: sm_80, sm_86, sm_89, sm_90 + PTX). */
  arch?: string;
  /** The CPU emulation library (g++ only) instead of the CUDA one. */
  emu?: boolean;
  /** Rebuild everything, even what is up to date. */
  force?: boolean;
  /** Print the compiler command lines. */
  verbose?: boolean;
  /** Compiler processes at once (default 2). */
  jobs?: number;
  /** Keep a library whose kernels spill registers (ptxas), with a warning, instead of failing the build. */
  allowSpills?: boolean;
  /** Where to build (default: the user cache, {@linkcode nativeCacheDir}). */
  dir?: string;
  /** Where progress lines go (default `console.log`). */
  log?: (line: string) => void;
}

/** What {@linkcode buildNativeLibrary} made. */
export interface BuildNativeResult {
  /** The library's absolute path. */
  path: string;
  /** False when it was up to date. */
  built: boolean;
  /** Sources compiled this time. */
  compiled: number;
}

/** The folder the sources are written to and the libraries built in: the user cache by default. */
function buildFolder(dir: string | undefined): string {
  if (dir !== undefined) return dir;
  const cache = nativeCacheDir();
  if (cache === undefined) {
    throw new BuildError(
      "convnet build: no user cache folder: XDG_CACHE_HOME and HOME are unset or not readable " +
        "(run with -A or --allow-env), or pass --dir DIR",
    );
  }
  return cache;
}

const PERMISSIONS = "-A, or --allow-env --allow-read --allow-write --allow-run";

/** Throws a BuildError naming the flags to add when one of `descs` is not granted (asked before anything is written, never prompted). */
function requirePermissions(descs: Deno.PermissionDescriptor[]): void {
  const missing = descs.filter((d) => Deno.permissions.querySync(d).state !== "granted");
  if (missing.length === 0) return;
  const what = missing.map((d) => {
    const target = "path" in d ? ` ${d.path}` : "command" in d ? ` ${d.command}` : "";
    return `--allow-${d.name} (${d.name}${target})`;
  });
  throw new BuildError(
    `convnet build: missing ${what.join(", ")}: the build reads the environment and its sources, writes the ` +
      `cache and runs the compiler; run it with ${PERMISSIONS}`,
  );
}

/** Writes the sources under `<dir>/src`, leaving files that already hold the same text untouched (their mtimes keep builds incremental). */
function stageSources(dir: string): string {
  const root = join(dir, "src");
  const files: Record<string, string> = {
    ...NATIVE_SOURCES,
    "deno.json": JSON.stringify({ version: PACKAGE_VERSION }),
  };
  for (const [path, text] of Object.entries(files)) {
    const file = join(root, path);
    let old: string | null = null;
    try {
      old = Deno.readTextFileSync(file);
    } catch {
      // not there yet
    }
    if (old === text) continue;
    Deno.mkdirSync(join(file, ".."), { recursive: true });
    Deno.writeTextFileSync(file, text);
  }
  return root;
}

/**
 * Builds the CUDA library (or with `emu`, the CPU emulation library) from the package's sources
 * into the user cache (or `dir`), where `device("auto")` looks after `CONVNET_LIB` and the
 * checkout's `native/build`. Throws a `BuildError` that says what to install when nvcc (or g++
 * for `emu`) is missing, and one holding the compiler's output when a compile fails.
 *
 * @example
 * ```ts
 * import { buildNativeLibrary } from "jsr:@convnet/convnet/build";
 * const r = await buildNativeLibrary({ arch: "sm_90" });
 * console.log(r.path); // ~/.cache/convnet/0.1.0/libconvnet_cuda.so
 * ```
 */
export async function buildNativeLibrary(opts: BuildNativeOptions = {}): Promise<BuildNativeResult> {
  const log = opts.log ?? console.log;
  requirePermissions([{ name: "env" }]);
  const compiler = opts.emu ? findCxx() : findNvcc();
  if (compiler === null) {
    throw new BuildError(
      opts.emu
        ? "convnet build: g++ not found (looked at $CXX and PATH): the emulation library needs a C++17 compiler"
        : "convnet build: nvcc not found (looked at $NVCC, $CUDA_HOME/bin/nvcc, /usr/local/cuda/bin/nvcc and PATH). " +
          "Install the CUDA toolkit (11.8 to 13.x, matching your driver: nvidia-smi shows the highest CUDA it " +
          "supports) or set NVCC to its path, then run this again. Without the library convnet runs on the CPU.",
    );
  }
  const dir = buildFolder(opts.dir);
  requirePermissions([{ name: "read", path: dir }, { name: "write", path: dir }, { name: "run", command: compiler }]);
  const root = stageSources(dir);
  const common = { force: opts.force, verbose: opts.verbose, jobs: opts.jobs, log, root, outDir: dir };
  const r = opts.emu
    ? await buildEmuLibrary(common)
    : await buildCudaLibrary({ ...common, arch: opts.arch, allowSpills: opts.allowSpills });
  if (r === null) throw new BuildError(`convnet build: nothing was built in ${dir}`); // nvcc vanished meanwhile
  return { path: r.path, built: r.built, compiled: r.compiled };
}

const USAGE = `usage: deno run -A jsr:@convnet/convnet/build [options]
Builds convnet's CUDA library (nvcc) into the user cache, where device("auto") finds it.
  --arch sm_XX   build for this architecture only (e.g. sm_90 on an H100/H200)
  --emu          the CPU emulation library instead (g++ only; for tests, with CONVNET_LIB)
  --force        rebuild even when up to date
  --allow-spills keep a library whose kernels spill registers (ptxas; by default a build error)
  --jobs N       compiler processes at once (default 2)
  --dir DIR      build in DIR instead of the user cache
  --verbose      print the compiler command lines`;

/**
 * The command line (see the module doc); returns the exit status: 0 built or up to date, 1 a
 * missing compiler or a failed build, 2 a bad argument.
 *
 * @example
 * ```ts
 * import { main } from "jsr:@convnet/convnet/build";
 * Deno.exit(await main(["--arch", "sm_90"]));
 * ```
 */
export async function main(args: string[]): Promise<number> {
  let values;
  try {
    values = parseArgs({
      args,
      options: {
        arch: { type: "string" },
        emu: { type: "boolean" },
        force: { type: "boolean" },
        jobs: { type: "string" },
        "allow-spills": { type: "boolean" },
        dir: { type: "string" },
        verbose: { type: "boolean" },
        help: { type: "boolean", short: "h" },
      },
    }).values;
  } catch (e) {
    console.error(`convnet build: ${(e as Error).message}\n${USAGE}`);
    return 2;
  }
  if (values.help) {
    console.log(USAGE);
    return 0;
  }
  const jobs = values.jobs === undefined ? undefined : Number(values.jobs);
  if (jobs !== undefined && (!Number.isInteger(jobs) || jobs < 1)) {
    console.error(`convnet build: --jobs must be a positive integer, got ${values.jobs}`);
    return 2;
  }
  try {
    const r = await buildNativeLibrary({ ...values, jobs, allowSpills: values["allow-spills"] });
    const name = values.emu ? "the emulation library" : LIBRARY_NAME;
    console.log(
      values.emu || values.dir !== undefined
        ? `${name}: ${r.path}; use it with CONVNET_LIB=${r.path}`
        : `${name}: ${r.path}; device("auto") finds it there (with --allow-ffi and --allow-env)`,
    );
    return 0;
  } catch (e) {
    if (e instanceof BuildError) {
      console.error(e.message);
      return 1;
    }
    if (e instanceof Deno.errors.PermissionDenied || (e instanceof Error && e.name === "NotCapable")) {
      console.error(`convnet build: ${e.message}; run it with ${PERMISSIONS}`);
      return 1;
    }
    throw e;
  }
}

if (import.meta.main) Deno.exit(await main(Deno.args));
