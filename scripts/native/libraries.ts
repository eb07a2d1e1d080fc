/**
 * The two native libraries and how each is built: `libconvnet_emu.so`, the CPU emulation build (g++
 * compiles `native/src/*.cu` as C++ against `native/emu/cuda_emu.h`, plus the emulator's own
 * `native/emu/*.cpp`), and `libconvnet_cuda.so`, the real one (nvcc, static cudart, SASS for each
 * architecture in `ARCHS` plus PTX, `-lineinfo`; any nvcc from CUDA 11.8 to 13.x, its architectures
 * checked, and a kernel that spills registers fails the build unless `allowSpills`). Both export only
 * the C ABI (`cn_*`) and carry a build description (`cn_build_info()`: for CUDA, the toolkit and the
 * driver it needs). The make that runs these specs is in make.ts.
 *
 * @module
 */
import { join } from "../../src/_path.ts";
import {
  buildDir,
  BuildError,
  buildLibrary,
  type BuildOptions,
  type BuildResult,
  type LibrarySpec,
  listFiles,
  readText,
  root,
  type Unit,
  withLock,
} from "./make.ts";
import { type CudaToolkit, findCxx, findNvcc, MIN_CUDA, probeNvcc, toolVersion } from "./toolchain.ts";
import { spillGate } from "./ptxas.ts";

const ARCHS = ["80", "86", "89", "90"];
const PTX_ARCH = "90";

function packageVersion(from: string): string {
  try {
    return JSON.parse(Deno.readTextFileSync(join(from, "deno.json"))).version ?? "0.0.0";
  } catch {
    return "0.0.0";
  }
}

/**
 * A linker version script exporting the C ABI (`cn_*`) and nothing else: kernels, helpers and the
 * static cudart stay private, so two libraries (or PyTorch's cudart) in one process never clash.
 */
function exportsMap(outDir: string): string {
  const path = join(outDir, "exports.map");
  const text = "/* written by scripts/build_native.ts */\n{\n  global: cn_*;\n  local: *;\n};\n";
  if (readText(path) !== text) {
    Deno.mkdirSync(outDir, { recursive: true });
    Deno.writeTextFileSync(path, text);
  }
  return path;
}

/** The CUDA sources of the library: `native/src/*.cu` (of this checkout, or of `from`). */
export function cudaSources(from: string = root): string[] {
  return listFiles(join(from, "native", "src"), ".cu");
}

/** Every .cu source, compiled as C++, and the emulator itself: `native/emu/*.cpp` (objects named emu_*.o). */
function emuUnits(objDir: string, from: string): Unit[] {
  const units = cudaSources(from).map((src) => ({
    src,
    obj: join(objDir, src.split("/").pop()!.replace(/\.cu$/, ".o")),
  }));
  for (const src of listFiles(join(from, "native", "emu"), ".cpp")) {
    units.push({ src, obj: join(objDir, "emu_" + src.split("/").pop()!.replace(/\.cpp$/, ".o")) });
  }
  return units;
}

/**
 * The g++ build of `out` on the emulator: the shared library (every .cu source and the emulator), or
 * with `link: "program"` an executable of the emulator and `extraUnits` (the selftest).
 */
export async function emuSpec(
  out: string,
  extraUnits: Unit[] = [],
  link: "shared" | "program" = "shared",
  dirs: { root: string; outDir: string } = { root, outDir: buildDir },
): Promise<{ spec: LibrarySpec; info: string }> {
  const cxx = findCxx();
  if (!cxx) {
    throw new BuildError(
      "build:native: g++ not found (looked at $CXX and PATH): the CPU emulation library needs a C++17 compiler " +
        "(apt-get install g++, or set CXX)",
    );
  }
  const version = await toolVersion(cxx, ["-dumpfullversion"], /^(\d+(?:\.\d+)?)/);
  const info = `convnet native ${packageVersion(dirs.root)}; CPU emulation (g++ ${version})`;
  const objDir = join(dirs.outDir, "emu");
  const compileFlags = emuCompileFlags(dirs.root, info);
  const spec: LibrarySpec = {
    label: "g++",
    compiler: cxx,
    out,
    objDir,
    units: link === "shared"
      ? emuUnits(objDir, dirs.root)
      : [...emuUnits(objDir, dirs.root).filter((u) => u.src.endsWith(".cpp")), ...extraUnits],
    compileFlags,
    compileArgs: (u, tmp, dep) => [
      ...compileFlags,
      "-MMD",
      "-MF",
      dep,
      "-c",
      ...(u.src.endsWith(".cu") ? ["-x", "c++"] : []),
      u.src,
      "-o",
      tmp,
    ],
    linkArgs: (objs, tmp) =>
      link === "shared"
        ? ["-shared", "-Wl,-z,defs", `-Wl,--version-script=${exportsMap(dirs.outDir)}`, "-o", tmp, ...objs]
        : ["-o", tmp, ...objs],
  };
  return { spec, info };
}

let emuPromise: Promise<string> | null = null;

/**
 * Builds `native/build/libconvnet_emu.so` (the CPU emulation build) with g++.
 *
 * @example
 * ```ts
 * const r = await buildEmuLibrary({ log: () => {} });
 * console.log(r.path, r.built ? "built" : "up to date");
 * ```
 */
export async function buildEmuLibrary(opts: BuildOptions = {}): Promise<BuildResult> {
  const dirs = { root: opts.root ?? root, outDir: opts.outDir ?? buildDir };
  if (cudaSources(dirs.root).length === 0) {
    throw new BuildError("build:native: native/src holds no .cu sources: nothing to build the emulation library from");
  }
  const { spec, info } = await emuSpec(join(dirs.outDir, "libconvnet_emu.so"), [], "shared", dirs);
  (opts.log ?? console.log)(`emulation library: ${info}`);
  return await withLock("emu", () => buildLibrary(spec, opts), dirs.outDir);
}

/**
 * Builds the CPU emulation library when it is stale and returns its absolute path. Quiet unless it
 * compiles something; a failed build throws a {@linkcode BuildError} holding the compiler's output.
 * Calls within one process share one build.
 *
 * @example
 * ```ts
 * const lib = Deno.dlopen(await ensureEmuLibrary(), { cn_build_info: { parameters: [], result: "pointer" } });
 * ```
 */
export function ensureEmuLibrary(opts: { force?: boolean; log?: (line: string) => void } = {}): Promise<string> {
  if (!emuPromise || opts.force) {
    const lines: string[] = [];
    emuPromise = buildEmuLibrary({ force: opts.force, log: (l) => lines.push(l) }).then((r) => {
      if (r.built) { for (const l of lines) (opts.log ?? console.log)(l); }
      return r.path;
    });
    emuPromise.catch(() => (emuPromise = null));
  }
  return emuPromise;
}

/** The architectures to build for: `arch` alone, or `ARCHS`; each one the toolkit must support. */
function chooseArchs(arch: string | undefined, tk: CudaToolkit): string[] {
  if (arch !== undefined && !/^sm_\d+a?$/.test(arch)) {
    throw new BuildError(`build:native: --arch must look like sm_90, got ${arch}`);
  }
  const wanted = arch ? [arch.slice(3)] : ARCHS;
  const missing = wanted.filter((a) => !tk.archs.includes(`sm_${a}`));
  if (missing.length) {
    throw new BuildError(
      `build:native: nvcc ${tk.version} (${tk.nvcc}) cannot compile for ${missing.map((a) => `sm_${a}`).join(", ")}; ` +
        `it targets ${tk.archs.join(" ")} (from ${tk.archsFrom})` +
        (arch ? "" : `: use --arch with one of those, or a CUDA ${MIN_CUDA.join(".")} to 13.x toolkit`),
    );
  }
  return wanted;
}

/** Objects of the full build in native/build/cuda, of a one-arch build in native/build/cuda-sm_XX (no rebuilds when switching). */
export function cudaObjDir(arch: string | undefined, outDir: string = buildDir): string {
  return join(outDir, arch ? `cuda-${arch}` : "cuda");
}

/** Where nvcc writes each object's `-Xptxas -v` lines. */
export function ptxasLog(obj: string): string {
  return obj.replace(/\.o$/, ".ptxas.txt");
}

/**
 * Builds `native/build/libconvnet_cuda.so` with nvcc; null (after saying so) when nvcc is missing.
 * `arch` ("sm_90") builds for that architecture only; `nvcc` is the compiler to run (default:
 * `findNvcc()`).
 *
 * @example
 * ```ts
 * const r = await buildCudaLibrary({ arch: "sm_90" });
 * if (!r) console.log("no nvcc here");
 * ```
 */
export async function buildCudaLibrary(
  opts: BuildOptions & { arch?: string; allowSpills?: boolean; nvcc?: string } = {},
): Promise<BuildResult | null> {
  const log = opts.log ?? console.log;
  const dirs = { root: opts.root ?? root, outDir: opts.outDir ?? buildDir };
  const nvcc = opts.nvcc ?? findNvcc();
  if (!nvcc) {
    log("nvcc not found: skipping the CUDA library; the TypeScript backend will be used");
    return null;
  }
  const cu = cudaSources(dirs.root);
  if (cu.length === 0) {
    log(`native/src holds no CUDA sources: nothing to build (nvcc: ${nvcc}); the TypeScript backend will be used`);
    return null;
  }
  let tk: CudaToolkit;
  try {
    tk = await probeNvcc(nvcc);
  } catch (e) {
    throw new BuildError(`build:native: ${(e as Error).message}`, { cause: e });
  }
  if (tk.major * 10 + tk.minor < MIN_CUDA[0] * 10 + MIN_CUDA[1]) {
    log(
      `nvcc ${tk.version} (${nvcc}) is older than CUDA ${
        MIN_CUDA.join(".")
      }, the first with sm_90: skipping the CUDA ` +
        "library (set NVCC or CUDA_HOME to a CUDA 11.8 to 13.x toolkit); the TypeScript backend will be used",
    );
    return null;
  }
  const archs = chooseArchs(opts.arch, tk);
  const gencode = archs.flatMap((a) => ["-gencode", `arch=compute_${a},code=sm_${a}`]);
  if (!opts.arch) gencode.push("-gencode", `arch=compute_${PTX_ARCH},code=compute_${PTX_ARCH}`);
  const targets = archs.map((a) => `sm_${a}`).join(" ") + (opts.arch ? "" : ` + compute_${PTX_ARCH} PTX`);
  // No commas: nvcc splits -D values at them.
  const info = `convnet native ${packageVersion(dirs.root)}; CUDA ${tk.version} (needs driver >= ${tk.driverFloor}); ` +
    `${targets}; -lineinfo`;
  log(`CUDA library: ${info}`);
  const objDir = cudaObjDir(opts.arch, dirs.outDir);
  const compileFlags = [
    "-O3",
    "-std=c++17",
    "-lineinfo", // source lines in compute-sanitizer's and ncu's reports; no effect on the code
    "-Xcompiler",
    "-fPIC",
    `-DCN_BUILD_INFO="${info}"`,
    "-Xptxas",
    "-v",
    "-I",
    join(dirs.root, "native", "include"),
    ...gencode,
  ];
  const spec: LibrarySpec = {
    label: "nvcc",
    compiler: nvcc,
    out: join(dirs.outDir, "libconvnet_cuda.so"),
    objDir,
    units: cu.map((src) => ({ src, obj: join(objDir, src.split("/").pop()!.replace(/\.cu$/, ".o")) })),
    compileFlags,
    compileArgs: (u, tmp, dep) => [...compileFlags, "-MD", "-MF", dep, "-c", u.src, "-o", tmp],
    filterOutput: (u, output) => {
      Deno.writeTextFileSync(ptxasLog(u.obj), output);
      return output.split("\n").filter((l) => !/^ptxas info|^\s+\d+ bytes stack frame/.test(l)).join("\n");
    },
    linkArgs: (
      objs,
      tmp,
    ) => [
      "-shared",
      "--cudart",
      "static",
      "-Xlinker",
      "-z,defs",
      "-Xlinker",
      `--version-script=${exportsMap(dirs.outDir)}`,
      "-o",
      tmp,
      ...objs,
    ],
  };
  return await withLock("cuda", async () => {
    const result = await buildLibrary(spec, opts);
    // Register spills to local memory are a build error: the kernels are sized to fit in registers.
    const gate = await spillGate(spec.units.map((u) => ({ source: u.src, log: ptxasLog(u.obj) })));
    if (gate && opts.allowSpills) log(`warning: ${gate}\nkept because of --allow-spills: correct, but slower`);
    else if (gate) {
      Deno.removeSync(result.path);
      throw new BuildError(
        `build:native: ${gate}\n${result.path.split("/").pop()} was removed; --allow-spills keeps such a build ` +
          "(correct results, slower kernels)",
      );
    }
    return result;
  }, dirs.outDir);
}

/**
 * The g++ flags every unit of an emulation build compiles with (the library, its sanitizer
 * variants, `emu:run` programs), with `info` as the library's `cn_build_info`.
 *
 * @example
 * ```ts
 * const flags = emuCompileFlags(".", "convnet native; CPU emulation");
 * ```
 */
export function emuCompileFlags(root: string, info: string): string[] {
  return [
    "-std=c++17",
    "-O2",
    "-fPIC",
    "-fno-strict-aliasing", // kernels read float arrays as float4, as CUDA code does
    "-fno-gnu-unique", // __shared__ statics of template kernels would make the library impossible to unload
    "-DCN_EMULATION",
    `-DCN_BUILD_INFO="${info}"`,
    "-Wall",
    "-Wno-unknown-pragmas",
    "-I",
    join(root, "native", "include"),
  ];
}
