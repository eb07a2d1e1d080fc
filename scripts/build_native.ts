/**
 * Builds convnet's native libraries from `native/src/*.cu` into `native/build/`:
 *
 * - `libconvnet_emu.so`, the CPU emulation build: g++ compiles the same CUDA sources against
 *   `native/emu/cuda_emu.h` (-DCN_EMULATION). It needs only g++ and is always built; the CUDA
 *   backend's tests run on it on machines without a GPU.
 * - `libconvnet_cuda.so`, the real build: nvcc (CUDA 11.8 to 13.x) -O3 -lineinfo, static cudart, SASS
 *   for sm_80, sm_86, sm_89 and sm_90 plus compute_90 PTX (each checked against what that nvcc
 *   targets). A kernel that spills registers fails the build. A machine without nvcc (or with one
 *   older than 11.8) skips it, says so, and still succeeds.
 *
 * Each source compiles to its own object (two at a time), so an edit rebuilds one file; a library
 * whose output is newer than all its inputs (sources, the headers they include, the build scripts)
 * is "up to date". Both libraries carry a build description (`cn_build_info()`), passed as
 * -DCN_BUILD_INFO="...".
 *
 *   deno task build:native [--emu | --cuda] [--arch sm_90] [--ptxas-report] [--force] [--verbose]
 *   deno task build:native --selftest [--bench]     (builds and runs native/tests/emu_selftest.cu)
 *
 * This file is the command line and the API the tests import; the work is in `scripts/native/`:
 * make.ts (stale checks, locks, the job pool), toolchain.ts (finding and running compilers),
 * libraries.ts (the two libraries), ptxas.ts (the register and spill report), selftest.ts.
 *
 * @module
 */
import { parseArgs } from "node:util";
import { BuildError, type BuildOptions, DEFAULT_JOBS } from "./native/make.ts";
import { buildCudaLibrary, buildEmuLibrary } from "./native/libraries.ts";
import { ptxasReport } from "./native/ptxas.ts";
import { runSelftest } from "./native/selftest.ts";
import { findNvcc } from "./native/toolchain.ts";

export { BuildError, type BuildOptions, type BuildResult } from "./native/make.ts";
export {
  archsForVersion,
  type CudaToolkit,
  driverFloor,
  findCxx,
  findNvcc,
  MIN_CUDA,
  probeNvcc,
} from "./native/toolchain.ts";
export { buildCudaLibrary, buildEmuLibrary, ensureEmuLibrary } from "./native/libraries.ts";
export { type KernelResources, parsePtxas, ptxasReport, spillGate } from "./native/ptxas.ts";
export { runSelftest } from "./native/selftest.ts";

// ------------------------------------------------------------------------------------------ CLI

const USAGE = `usage: deno task build:native [options]
  (no option)      build both libraries: libconvnet_emu.so (g++) and libconvnet_cuda.so (nvcc, when found)
  --emu            only the CPU emulation library
  --cuda           only the CUDA library
  --arch sm_XX     the CUDA library for this architecture only (e.g. sm_90 on an H100)
  --ptxas-report   print registers and spills per kernel from the CUDA build
  --selftest       build and run native/tests/emu_selftest.cu on the emulator (--bench: with timings)
  --force          rebuild even when up to date
  --allow-spills   keep a CUDA library whose kernels spill registers (a warning instead of a build error)
  --jobs N         compiler processes at once (default ${DEFAULT_JOBS})
  --verbose        print the compiler command lines`;

/**
 * The command line (see the module doc); returns the exit status.
 *
 * @example
 * ```ts
 * Deno.exit(await main(["--emu", "--force"]));
 * ```
 */
export async function main(args: string[]): Promise<number> {
  const { values } = parseArgs({
    args,
    options: {
      emu: { type: "boolean" },
      cuda: { type: "boolean" },
      arch: { type: "string" },
      "ptxas-report": { type: "boolean" },
      selftest: { type: "boolean" },
      bench: { type: "boolean" },
      force: { type: "boolean" },
      "allow-spills": { type: "boolean" },
      jobs: { type: "string" },
      verbose: { type: "boolean" },
      help: { type: "boolean", short: "h" },
    },
  });
  if (values.help) {
    console.log(USAGE);
    return 0;
  }
  const jobs = values.jobs === undefined ? DEFAULT_JOBS : Number(values.jobs);
  if (!Number.isInteger(jobs) || jobs < 1) {
    console.error(`build:native: --jobs must be a positive integer, got ${values.jobs}`);
    return 2;
  }
  const opts: BuildOptions = { force: values.force, jobs, verbose: values.verbose };
  try {
    if (values.selftest) {
      const r = await runSelftest({ ...opts, bench: values.bench, nvcc: !values.emu });
      console.log(r.output.trimEnd());
      return r.ok ? 0 : 1;
    }
    const onlyEmu = values.emu && !values.cuda;
    const onlyCuda = (values.cuda || values.arch !== undefined) && !values.emu;
    if (!onlyCuda) await buildEmuLibrary(opts);
    if (!onlyEmu) {
      try {
        await buildCudaLibrary({ ...opts, arch: values.arch, allowSpills: values["allow-spills"] });
      } finally {
        // The objects' resources are worth seeing even when the link fails.
        if (values["ptxas-report"] && findNvcc()) await ptxasReport({ arch: values.arch });
      }
    }
    return 0;
  } catch (e) {
    if (e instanceof BuildError) {
      console.error(e.message);
      return 1;
    }
    throw e;
  }
}

if (import.meta.main) Deno.exit(await main(Deno.args));
