/**
 * The emulator's self-test: builds `native/tests/emu_selftest.cu` with the emulator into the program
 * `native/build/emu_selftest` and runs it (one PASS/FAIL line per check); with nvcc at hand it also
 * checks that the same file compiles as real CUDA.
 *
 * @module
 */
import { join } from "../../src/_path.ts";
import {
  buildDir,
  buildLibrary,
  type BuildOptions,
  buildScriptsTime,
  objectStale,
  rel,
  root,
  withLock,
} from "./make.ts";
import { emuSpec } from "./libraries.ts";
import { findNvcc, run } from "./toolchain.ts";

/**
 * Builds `native/build/emu_selftest` (native/tests/emu_selftest.cu on the emulator) and runs it.
 * `bench` adds the emulator's timing lines. `nvcc` (when found) also checks that the file
 * compiles as real CUDA.
 *
 * @example
 * ```ts
 * const { ok, output } = await runSelftest({ log: () => {} });
 * if (!ok) console.error(output);
 * ```
 */
export async function runSelftest(
  opts: BuildOptions & { bench?: boolean; nvcc?: boolean } = {},
): Promise<{ ok: boolean; output: string }> {
  const log = opts.log ?? console.log;
  const src = join(root, "native", "tests", "emu_selftest.cu");
  const objDir = join(buildDir, "emu");
  const { spec } = await emuSpec(
    join(buildDir, "emu_selftest"),
    [{ src, obj: join(objDir, "emu_selftest.o") }],
    "program",
  );
  await withLock("emu", () => buildLibrary(spec, opts));
  if (opts.nvcc) {
    const nvcc = findNvcc();
    if (!nvcc) log("nvcc not found: skipping the CUDA compile check of the selftest");
    else {
      const obj = join(buildDir, "cuda", "emu_selftest.o");
      Deno.mkdirSync(join(buildDir, "cuda"), { recursive: true });
      if (!opts.force && !objectStale({ src, obj }, buildScriptsTime())) {
        log(`${rel(obj)} is up to date (the selftest compiles with nvcc)`);
      } else {
        const t0 = performance.now();
        const args = ["-std=c++17", "-arch=sm_90", "-I", join(root, "native", "include"), "-MD", "-MF"];
        const r = await run(nvcc, [...args, obj.replace(/\.o$/, ".d"), "-c", src, "-o", obj]);
        if (!r.ok) return { ok: false, output: `nvcc failed on ${rel(src)}:\n${r.output}` };
        log(`nvcc compiles ${rel(src)} (sm_90, ${((performance.now() - t0) / 1000).toFixed(1)} s)`);
      }
    }
  }
  const r = await run(spec.out, opts.bench ? ["--bench"] : []);
  return { ok: r.ok, output: r.output };
}
