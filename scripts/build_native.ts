/**
 * Builds convnet's native libraries from `native/src/*.cu` into `native/build/`:
 *
 * - `libconvnet_emu.so`, the CPU emulation build: g++ compiles the same CUDA sources against
 *   `native/emu/cuda_emu.h` (-DCN_EMULATION). It needs only g++ and is always built; the CUDA
 *   backend's tests run on it on machines without a GPU.
 * - `libconvnet_cuda.so`, the real build: nvcc -O3, static cudart, SASS for sm_80, sm_86, sm_89 and
 *   sm_90 plus compute_90 PTX. A machine without nvcc skips it, says so, and still succeeds.
 *
 * Each source compiles to its own object (two at a time), so an edit rebuilds one file; a library
 * whose output is newer than all its inputs (sources, the headers they include, this script) is
 * "up to date". Both libraries carry a build description (`cn_build_info()`), passed as
 * -DCN_BUILD_INFO="...".
 *
 *   deno task build:native [--emu | --cuda] [--arch sm_90] [--ptxas-report] [--force] [--verbose]
 *   deno task build:native --selftest [--bench]     (builds and runs native/tests/emu_selftest.cu)
 *
 * @module
 */
import { parseArgs } from "node:util";
import { join } from "../src/_path.ts";

const root = join(import.meta.dirname!, "..");
const buildDir = join(root, "native", "build");
const scriptPath = join(root, "scripts", "build_native.ts");
const ARCHS = ["80", "86", "89", "90"];
const PTX_ARCH = "90";
const DEFAULT_JOBS = 2;

/** What one library build did. */
export interface BuildResult {
  /** Absolute path of the library (or program). */
  path: string;
  /** False when it was up to date. */
  built: boolean;
  /** Sources compiled this time. */
  compiled: number;
  /** Sources in the library. */
  total: number;
  /** Wall time of the whole build step. */
  seconds: number;
}

/** Options of the build functions. */
export interface BuildOptions {
  /** Rebuild even when up to date. */
  force?: boolean;
  /** Compiler processes at once (default 2). */
  jobs?: number;
  /** Prints full command lines. */
  verbose?: boolean;
  /** Where progress lines go (default console.log; pass `() => {}` for silence). */
  log?: (line: string) => void;
}

/**
 * An error from a build step, with the compiler's output in the message.
 *
 * @example
 * ```ts
 * try {
 *   await buildEmuLibrary();
 * } catch (e) {
 *   if (e instanceof BuildError) console.error(e.message);
 * }
 * ```
 */
export class BuildError extends Error {
  /** An error named "BuildError". */
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = "BuildError";
  }
}

// ------------------------------------------------------------------------------------------ helpers

function rel(path: string): string {
  return path.startsWith(root + "/") ? path.slice(root.length + 1) : path;
}

function mtime(path: string): number | null {
  try {
    return Deno.statSync(path).mtime?.getTime() ?? null;
  } catch {
    return null;
  }
}

function readText(path: string): string | null {
  try {
    return Deno.readTextFileSync(path);
  } catch {
    return null;
  }
}

function removeQuiet(path: string): void {
  try {
    Deno.removeSync(path);
  } catch {
    // not there
  }
}

function listFiles(dir: string, ext: string): string[] {
  try {
    return [...Deno.readDirSync(dir)]
      .filter((e) => e.isFile && e.name.endsWith(ext))
      .map((e) => join(dir, e.name))
      .sort();
  } catch {
    return [];
  }
}

function fmtSize(bytes: number): string {
  return bytes >= 1 << 20 ? `${(bytes / (1 << 20)).toFixed(1)} MiB` : `${(bytes / 1024).toFixed(0)} KiB`;
}

/** The files a make-style dependency file (`-MMD -MF`) lists, or null when it is missing or empty. */
function readDeps(depFile: string): string[] | null {
  const text = readText(depFile);
  if (!text) return null;
  const body = text.replace(/\\\r?\n/g, " ");
  const colon = body.search(/:\s/);
  if (colon < 0) return null;
  return body.slice(colon + 1).split(/\s+/).filter((s) => s && s !== "\\");
}

function isFile(path: string): boolean {
  try {
    return Deno.statSync(path).isFile;
  } catch {
    return false;
  }
}

/** Finds an executable: $envVar (a path, or a name looked up on PATH), then the candidates, then `name` on PATH. */
function findTool(name: string, envVar: string, extra: (string | undefined)[] = []): string | null {
  const onPath = (n: string) =>
    (Deno.env.get("PATH") ?? "").split(":").filter(Boolean).map((d) => join(d, n)).find(isFile) ?? null;
  const fromEnv = Deno.env.get(envVar);
  if (fromEnv) {
    const found = fromEnv.includes("/") ? (isFile(fromEnv) ? fromEnv : null) : onPath(fromEnv);
    if (found) return found;
  }
  for (const c of extra) if (c && isFile(c)) return c;
  return onPath(name);
}

/**
 * Finds nvcc: $NVCC, $CUDA_HOME/bin/nvcc, /usr/local/cuda/bin/nvcc, then PATH.
 *
 * @example
 * ```ts
 * console.log(findNvcc() ?? "no CUDA toolkit here");
 * ```
 */
export function findNvcc(): string | null {
  const home = Deno.env.get("CUDA_HOME");
  return findTool("nvcc", "NVCC", [home && join(home, "bin", "nvcc"), "/usr/local/cuda/bin/nvcc"]);
}

/**
 * Finds the C++ compiler for the emulation build: $CXX (a path or a name on PATH), then g++ on PATH.
 *
 * @example
 * ```ts
 * if (!findCxx()) console.log("no g++: the emulation library cannot be built");
 * ```
 */
export function findCxx(): string | null {
  return findTool("g++", "CXX");
}

async function run(cmd: string, args: string[]): Promise<{ ok: boolean; code: number; output: string }> {
  const out = await new Deno.Command(cmd, { args, stdout: "piped", stderr: "piped" }).output();
  const dec = new TextDecoder();
  return { ok: out.success, code: out.code, output: dec.decode(out.stdout) + dec.decode(out.stderr) };
}

async function toolVersion(cmd: string, args: string[], re: RegExp): Promise<string> {
  try {
    const r = await run(cmd, args);
    return re.exec(r.output)?.[1] ?? "unknown";
  } catch {
    return "unknown";
  }
}

function packageVersion(): string {
  try {
    return JSON.parse(Deno.readTextFileSync(join(root, "deno.json"))).version ?? "0.0.0";
  } catch {
    return "0.0.0";
  }
}

async function pool<T>(items: T[], jobs: number, fn: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  const errors: unknown[] = [];
  const worker = async () => {
    while (next < items.length && errors.length === 0) {
      const item = items[next++];
      try {
        await fn(item);
      } catch (e) {
        errors.push(e);
      }
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.min(jobs, items.length)) }, worker));
  if (errors.length) throw errors[0];
}

/**
 * Runs `fn` holding `native/build/.<name>.lock`, so that test processes building at the same time
 * do not write the same files at once. A lock whose process is gone is taken over.
 */
async function withLock<T>(name: string, fn: () => Promise<T>): Promise<T> {
  Deno.mkdirSync(buildDir, { recursive: true });
  const path = join(buildDir, `.${name}.lock`);
  const started = Date.now();
  for (;;) {
    try {
      const f = Deno.openSync(path, { write: true, createNew: true });
      f.writeSync(new TextEncoder().encode(String(Deno.pid)));
      f.close();
      break;
    } catch (e) {
      if (!(e instanceof Deno.errors.AlreadyExists)) throw e;
    }
    const pid = Number(readText(path) ?? "0");
    const age = Date.now() - (mtime(path) ?? Date.now());
    const dead = pid > 0 && Deno.build.os === "linux" && mtime(`/proc/${pid}`) === null;
    if (dead || age > 20 * 60_000) {
      removeQuiet(path);
      continue;
    }
    if (Date.now() - started > 20 * 60_000) {
      throw new BuildError(`build:native: waited 20 minutes for ${rel(path)} (held by process ${pid})`);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  try {
    return await fn();
  } finally {
    removeQuiet(path);
  }
}

// ------------------------------------------------------------------------------------------ generic build

interface Unit {
  src: string;
  obj: string;
}

interface LibrarySpec {
  label: string;
  compiler: string;
  out: string;
  objDir: string;
  units: Unit[];
  /** Everything but the source and output names: a change rebuilds every object. */
  compileFlags: string[];
  compileArgs(unit: Unit, tmpObj: string, depFile: string): string[];
  /** Compiler output to show for a successful compile (nvcc's ptxas lines are kept in a file instead). */
  filterOutput?(unit: Unit, output: string): string;
  linkArgs(objs: string[], tmpOut: string): string[];
}

function objectStale(unit: Unit, newestFixed: number): boolean {
  const objTime = mtime(unit.obj);
  if (objTime === null || objTime < newestFixed) return true;
  const deps = readDeps(unit.obj.replace(/\.o$/, ".d"));
  if (!deps) return true;
  for (const d of deps) {
    const t = mtime(d.startsWith("/") ? d : join(root, d));
    if (t === null || t > objTime) return true;
  }
  return false;
}

async function buildLibrary(spec: LibrarySpec, opts: BuildOptions): Promise<BuildResult> {
  const log = opts.log ?? console.log;
  const t0 = performance.now();
  Deno.mkdirSync(spec.objDir, { recursive: true });
  const flagsFile = join(spec.objDir, `flags-${spec.out.split("/").pop()}.txt`);
  const flagsKey = spec.compileFlags.join("\n");
  const flagsChanged = readText(flagsFile) !== flagsKey;
  if (flagsChanged) removeQuiet(flagsFile); // written back only once every object has these flags
  const fixed = mtime(scriptPath) ?? 0;
  const stale = spec.units.filter((u) => opts.force || flagsChanged || objectStale(u, fixed));

  await pool(stale, opts.jobs ?? DEFAULT_JOBS, async (u) => {
    const tmp = `${u.obj}.tmp${Deno.pid}`;
    const dep = u.obj.replace(/\.o$/, ".d");
    const args = spec.compileArgs(u, tmp, dep);
    const s0 = performance.now();
    if (opts.verbose) log(`${spec.compiler} ${args.join(" ")}`);
    const r = await run(spec.compiler, args);
    if (!r.ok) {
      removeQuiet(tmp);
      removeQuiet(dep);
      throw new BuildError(
        `build:native: ${rel(spec.compiler)} failed on ${rel(u.src)} (exit code ${r.code}):\n${r.output.trimEnd()}`,
      );
    }
    Deno.renameSync(tmp, u.obj);
    const shown = (spec.filterOutput ? spec.filterOutput(u, r.output) : r.output).trimEnd();
    log(`  ${spec.label}: compiled ${rel(u.src)} (${((performance.now() - s0) / 1000).toFixed(1)} s)`);
    if (shown) log(shown);
  });
  if (flagsChanged || stale.length) Deno.writeTextFileSync(flagsFile, flagsKey);

  const objs = spec.units.map((u) => u.obj);
  const linkFile = `${spec.out}.cmd`;
  const linkKey = spec.linkArgs(objs, spec.out).join("\n");
  const outTime = mtime(spec.out);
  const newestObj = Math.max(fixed, ...objs.map((o) => mtime(o) ?? Infinity));
  const relink = opts.force || stale.length > 0 || outTime === null || outTime < newestObj ||
    readText(linkFile) !== linkKey;
  if (relink) {
    const tmp = `${spec.out}.tmp${Deno.pid}`;
    const args = spec.linkArgs(objs, tmp);
    if (opts.verbose) log(`${spec.compiler} ${args.join(" ")}`);
    const r = await run(spec.compiler, args);
    if (!r.ok) {
      removeQuiet(tmp);
      const missing = [...new Set([...r.output.matchAll(/undefined reference to `([^']+)'/g)].map((m) => m[1]))];
      const detail = missing.length ? `no source defines ${missing.join(", ")}` : r.output.trimEnd();
      throw new BuildError(`build:native: linking ${rel(spec.out)} failed (exit code ${r.code}): ${detail}`);
    }
    Deno.renameSync(tmp, spec.out);
    Deno.writeTextFileSync(linkFile, linkKey);
  }
  const seconds = (performance.now() - t0) / 1000;
  const size = Deno.statSync(spec.out).size;
  if (relink) {
    log(
      `built ${rel(spec.out)} (${fmtSize(size)}) in ${seconds.toFixed(1)} s: ` +
        `${stale.length} of ${spec.units.length} sources compiled`,
    );
  } else {
    log(`${rel(spec.out)} is up to date (${spec.units.length} sources, ${fmtSize(size)})`);
  }
  return { path: spec.out, built: relink, compiled: stale.length, total: spec.units.length, seconds };
}

// ------------------------------------------------------------------------------------------ the two libraries

/**
 * A linker version script exporting the C ABI (`cn_*`) and nothing else: kernels, helpers and the
 * static cudart stay private, so two libraries (or PyTorch's cudart) in one process never clash.
 */
function exportsMap(): string {
  const path = join(buildDir, "exports.map");
  const text = "/* written by scripts/build_native.ts */\n{\n  global: cn_*;\n  local: *;\n};\n";
  if (readText(path) !== text) {
    Deno.mkdirSync(buildDir, { recursive: true });
    Deno.writeTextFileSync(path, text);
  }
  return path;
}

function cudaSources(): string[] {
  return listFiles(join(root, "native", "src"), ".cu");
}

function emuUnits(objDir: string): Unit[] {
  const units = cudaSources().map((src) => ({ src, obj: join(objDir, src.split("/").pop()!.replace(/\.cu$/, ".o")) }));
  for (const src of listFiles(join(root, "native", "emu"), ".cpp")) {
    units.push({ src, obj: join(objDir, "emu_" + src.split("/").pop()!.replace(/\.cpp$/, ".o")) });
  }
  return units;
}

async function emuSpec(out: string, extraUnits: Unit[] = [], link: "shared" | "program" = "shared") {
  const cxx = findCxx();
  if (!cxx) {
    throw new BuildError(
      "build:native: g++ not found (looked at $CXX and PATH): the CPU emulation library needs a C++17 compiler " +
        "(apt-get install g++, or set CXX)",
    );
  }
  const version = await toolVersion(cxx, ["-dumpfullversion"], /^(\d+(?:\.\d+)?)/);
  const info = `convnet native ${packageVersion()}; CPU emulation (g++ ${version})`;
  const objDir = join(buildDir, "emu");
  const compileFlags = [
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
  const spec: LibrarySpec = {
    label: "g++",
    compiler: cxx,
    out,
    objDir,
    units: link === "shared"
      ? emuUnits(objDir)
      : [...emuUnits(objDir).filter((u) => u.src.endsWith(".cpp")), ...extraUnits],
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
        ? ["-shared", "-Wl,-z,defs", `-Wl,--version-script=${exportsMap()}`, "-o", tmp, ...objs]
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
  if (cudaSources().length === 0) {
    throw new BuildError("build:native: native/src holds no .cu sources: nothing to build the emulation library from");
  }
  const { spec, info } = await emuSpec(join(buildDir, "libconvnet_emu.so"));
  (opts.log ?? console.log)(`emulation library: ${info}`);
  return await withLock("emu", () => buildLibrary(spec, opts));
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

function parseArchs(arch: string | undefined): string[] {
  if (!arch) return ARCHS;
  const m = /^sm_(\d+)$/.exec(arch);
  if (!m) throw new BuildError(`build:native: --arch must look like sm_90, got ${arch}`);
  return [m[1]];
}

/** Objects of the full build in native/build/cuda, of a one-arch build in native/build/cuda-sm_XX (no rebuilds when switching). */
function cudaObjDir(arch: string | undefined): string {
  return join(buildDir, arch ? `cuda-${arch}` : "cuda");
}

/** Where nvcc writes each object's `-Xptxas -v` lines. */
function ptxasLog(obj: string): string {
  return obj.replace(/\.o$/, ".ptxas.txt");
}

/**
 * Builds `native/build/libconvnet_cuda.so` with nvcc; null (after saying so) when nvcc is missing.
 * `arch` ("sm_90") builds for that architecture only.
 *
 * @example
 * ```ts
 * const r = await buildCudaLibrary({ arch: "sm_90" });
 * if (!r) console.log("no nvcc here");
 * ```
 */
export async function buildCudaLibrary(opts: BuildOptions & { arch?: string } = {}): Promise<BuildResult | null> {
  const log = opts.log ?? console.log;
  const nvcc = findNvcc();
  if (!nvcc) {
    log("nvcc not found: skipping the CUDA library; the TypeScript backend will be used");
    return null;
  }
  const cu = cudaSources();
  if (cu.length === 0) {
    log(`native/src holds no CUDA sources: nothing to build (nvcc: ${nvcc}); the TypeScript backend will be used`);
    return null;
  }
  const archs = parseArchs(opts.arch);
  const gencode = archs.flatMap((a) => ["-gencode", `arch=compute_${a},code=sm_${a}`]);
  if (!opts.arch) gencode.push("-gencode", `arch=compute_${PTX_ARCH},code=compute_${PTX_ARCH}`);
  const cudaVersion = await toolVersion(nvcc, ["--version"], /release (\d+\.\d+)/);
  const targets = archs.map((a) => `sm_${a}`).join(" ") + (opts.arch ? "" : ` + compute_${PTX_ARCH} PTX`);
  const info = `convnet native ${packageVersion()}; CUDA ${cudaVersion}; ${targets}`;
  log(`CUDA library: ${info}`);
  const objDir = cudaObjDir(opts.arch);
  const compileFlags = [
    "-O3",
    "-std=c++17",
    "-Xcompiler",
    "-fPIC",
    `-DCN_BUILD_INFO="${info}"`,
    "-Xptxas",
    "-v",
    "-I",
    join(root, "native", "include"),
    ...gencode,
  ];
  const spec: LibrarySpec = {
    label: "nvcc",
    compiler: nvcc,
    out: join(buildDir, "libconvnet_cuda.so"),
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
      `--version-script=${exportsMap()}`,
      "-o",
      tmp,
      ...objs,
    ],
  };
  const result = await withLock("cuda", () => buildLibrary(spec, opts));
  return result;
}

// ------------------------------------------------------------------------------------------ ptxas report

/** One kernel's resources from ptxas. */
export interface KernelResources {
  /** The mangled name. */
  kernel: string;
  /** "sm_90" */
  arch: string;
  /** Registers per thread. */
  registers: number;
  /** Bytes of local-memory stack frame per thread. */
  stackBytes: number;
  /** Bytes of register spills written to local memory. */
  spillStores: number;
  /** Bytes of register spills read back. */
  spillLoads: number;
  /** The .cu file it came from. */
  source: string;
}

/**
 * Parses nvcc `-Xptxas -v` output into one row per kernel and architecture.
 *
 * @example
 * ```ts
 * const rows = parsePtxas(Deno.readTextFileSync("native/build/cuda/gemm.ptxas.txt"));
 * console.log(rows.filter((r) => r.spillStores > 0));
 * ```
 */
export function parsePtxas(text: string, source = ""): KernelResources[] {
  const rows: KernelResources[] = [];
  let cur: KernelResources | null = null;
  for (const line of text.split("\n")) {
    let m = /Compiling entry function '([^']+)' for '(sm_\d+a?)'/.exec(line);
    if (m) {
      cur = { kernel: m[1], arch: m[2], registers: 0, stackBytes: 0, spillStores: 0, spillLoads: 0, source };
      rows.push(cur);
      continue;
    }
    if (!cur) continue;
    m = /(\d+) bytes stack frame, (\d+) bytes spill stores, (\d+) bytes spill loads/.exec(line);
    if (m) {
      cur.stackBytes = Number(m[1]);
      cur.spillStores = Number(m[2]);
      cur.spillLoads = Number(m[3]);
      continue;
    }
    m = /Used (\d+) registers/.exec(line);
    if (m) cur.registers = Number(m[1]);
  }
  return rows;
}

async function demangle(names: string[]): Promise<Map<string, string>> {
  const map = new Map<string, string>();
  const filt = findTool("c++filt", "CXXFILT");
  if (!filt || names.length === 0) return map;
  try {
    const child = new Deno.Command(filt, { stdin: "piped", stdout: "piped", stderr: "null" }).spawn();
    const w = child.stdin.getWriter();
    await w.write(new TextEncoder().encode(names.join("\n") + "\n"));
    await w.close();
    const out = new TextDecoder().decode((await child.output()).stdout).split("\n");
    names.forEach((n, i) => map.set(n, out[i] || n));
  } catch {
    // keep the mangled names
  }
  return map;
}

/**
 * Prints registers and spills per kernel from the last CUDA build (for `arch` when given); returns
 * the number of kernel builds that spill.
 *
 * @example
 * ```ts
 * if (await ptxasReport({ arch: "sm_90" }) > 0) console.log("some kernels spill");
 * ```
 */
export async function ptxasReport(
  opts: { arch?: string; log?: (line: string) => void } = {},
): Promise<number> {
  const log = opts.log ?? console.log;
  const objDir = cudaObjDir(opts.arch);
  const rows = cudaSources().flatMap((src) => {
    const text = readText(ptxasLog(join(objDir, src.split("/").pop()!.replace(/\.cu$/, ".o"))));
    return text ? parsePtxas(text, rel(src)) : [];
  });
  if (rows.length === 0) {
    log("ptxas report: no ptxas output found under native/build/cuda (build the CUDA library first)");
    return 0;
  }
  const names = await demangle([...new Set(rows.map((r) => r.kernel))]);
  /* The demangled name without "void" and the parameter list (template arguments tell instances apart). */
  const short = (n: string) => {
    let d = (names.get(n) ?? n).replace(/^void /, "");
    if (d.endsWith(")")) {
      let depth = 0;
      for (let i = d.length - 1; i >= 0; i--) {
        if (d[i] === ")") depth++;
        else if (d[i] === "(" && --depth === 0) {
          d = d.slice(0, i);
          break;
        }
      }
    }
    return d.length > 120 ? d.slice(0, 117) + "..." : d;
  };
  let spilling = 0;
  for (const source of [...new Set(rows.map((r) => r.source))]) {
    const mine = rows.filter((r) => r.source === source);
    const width = Math.max(6, ...mine.map((r) => short(r.kernel).length));
    log(`${source}:`);
    log(`  ${"kernel".padEnd(width)}  arch    regs  stack  spill st  spill ld`);
    for (const r of mine) {
      const spills = r.spillStores > 0 || r.spillLoads > 0;
      if (spills) spilling++;
      const nums = [r.registers, r.stackBytes, r.spillStores, r.spillLoads].map((v, i) =>
        String(v).padStart([4, 5, 8, 8][i])
      );
      log(`  ${short(r.kernel).padEnd(width)}  ${r.arch.padEnd(6)}  ${nums.join("  ")}${spills ? "  <- SPILLS" : ""}`);
    }
  }
  log(
    spilling
      ? `ptxas report: ${spilling} of ${rows.length} kernel builds spill registers to local memory`
      : `ptxas report: ${rows.length} kernel builds, no spills`,
  );
  return spilling;
}

// ------------------------------------------------------------------------------------------ selftest

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
      if (!opts.force && !objectStale({ src, obj }, mtime(scriptPath) ?? 0)) {
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

// ------------------------------------------------------------------------------------------ CLI

const USAGE = `usage: deno task build:native [options]
  (no option)      build both libraries: libconvnet_emu.so (g++) and libconvnet_cuda.so (nvcc, when found)
  --emu            only the CPU emulation library
  --cuda           only the CUDA library
  --arch sm_XX     the CUDA library for this architecture only (e.g. sm_90 on an H100)
  --ptxas-report   print registers and spills per kernel from the CUDA build
  --selftest       build and run native/tests/emu_selftest.cu on the emulator (--bench: with timings)
  --force          rebuild even when up to date
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
        await buildCudaLibrary({ ...opts, arch: values.arch });
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
