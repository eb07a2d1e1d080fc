/**
 * Builds for `deno task emu:run` and the sanitizer test suite, on a variant of the emulator
 * ({@linkcode EmuVariant} in emu_run_tools.ts), with make.ts's cached, locked make:
 *
 * - the emulator runtime as one relocatable object, `native/build/emu-<variant>/emulator.o`
 *   (native/emu/*.cpp, compiled once and reused by every program);
 * - a standalone program from one .cu file, `native/build/emu-run/<variant>/<name>-<hash>` (the hash
 *   covers the file's path and the -D defines, so each variant of a program is compiled once);
 * - the library, `native/build/libconvnet_emu_<variant>.so` (native/src/*.cu instrumented, plus
 *   the emulator), which the CUDA tests load with CONVNET_EMU_LIB.
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
  mtime,
  readText,
  root,
  type Unit,
  withLock,
} from "./make.ts";
import { findCxx } from "./toolchain.ts";
import { emuCompileFlags } from "./libraries.ts";
import type { EmuVariant } from "./emu_run_tools.ts";

export type { BuildOptions, BuildResult } from "./make.ts";

function cxxOrThrow(): string {
  const cxx = findCxx();
  if (!cxx) {
    throw new BuildError(
      "emu:run: g++ not found (looked at $CXX and PATH): the emulator needs a C++17 compiler (apt-get install g++)",
    );
  }
  return cxx;
}

/** The flags every unit of a variant compiles with (the key of make.ts's flags record). */
function baseFlags(variant: EmuVariant): string[] {
  return [
    ...emuCompileFlags(root, `convnet native; CPU emulation, ${variant.describe}`),
    "-I",
    join(root, "native", "src"), // a program's `#include "common.h"`
    ...variant.flags,
  ];
}

/** Compile arguments: .cu sources (under test) get the variant's instrumentation, the emulator does not. */
function compileArgs(flags: string[], variant: EmuVariant, extra: string[] = []) {
  return (u: Unit, tmp: string, dep: string): string[] => [
    ...flags,
    ...(u.src.endsWith(".cu") ? ["-x", "c++", ...variant.instrument, ...extra] : []),
    "-MMD",
    "-MF",
    dep,
    "-c",
    u.src,
    "-o",
    tmp,
  ];
}

function objDirOf(variant: EmuVariant): string {
  return join(buildDir, `emu-${variant.name}`);
}

function runtimeUnits(variant: EmuVariant): Unit[] {
  return listFiles(join(root, "native", "emu"), ".cpp").map((src) => ({
    src,
    obj: join(objDirOf(variant), "emu_" + src.split("/").pop()!.replace(/\.cpp$/, ".o")),
  }));
}

/**
 * Builds the emulator of `variant` as one relocatable object (`emu-<variant>/emulator.o`).
 *
 * @example
 * ```ts
 * import { SANITIZE } from "./emu_run_tools.ts";
 * const r = await buildEmuRuntime(SANITIZE, { log: () => {} });
 * console.log(r.path);
 * ```
 */
export async function buildEmuRuntime(variant: EmuVariant, opts: BuildOptions = {}): Promise<BuildResult> {
  const cxx = cxxOrThrow();
  const flags = baseFlags(variant);
  const spec: LibrarySpec = {
    label: "g++",
    compiler: cxx,
    out: join(objDirOf(variant), "emulator.o"), // not emu_*.o: those are the units
    objDir: objDirOf(variant),
    units: runtimeUnits(variant),
    compileFlags: [...flags, ...variant.instrument],
    compileArgs: compileArgs(flags, variant),
    linkArgs: (objs, tmp) => ["-r", "-nostdlib", "-o", tmp, ...objs],
  };
  return await withLock(`emu-${variant.name}`, () => buildLibrary(spec, opts));
}

/**
 * Builds the library on `variant`: `native/build/libconvnet_emu_<variant>.so`.
 *
 * @example
 * ```ts
 * import { SANITIZE } from "./emu_run_tools.ts";
 * const lib = (await buildEmuVariantLibrary(SANITIZE)).path; // CONVNET_EMU_LIB for the CUDA tests
 * ```
 */
export async function buildEmuVariantLibrary(variant: EmuVariant, opts: BuildOptions = {}): Promise<BuildResult> {
  const cxx = cxxOrThrow();
  const flags = baseFlags(variant);
  const objDir = objDirOf(variant);
  const cu = listFiles(join(root, "native", "src"), ".cu").map((src) => ({
    src,
    obj: join(objDir, src.split("/").pop()!.replace(/\.cu$/, ".o")),
  }));
  const exportsMap = join(buildDir, `exports-${variant.name}.map`);
  const exportsText = "/* written by scripts/native/emu_run_build.ts */\n{\n  global: cn_*;\n  local: *;\n};\n";
  if (readText(exportsMap) !== exportsText) {
    Deno.mkdirSync(buildDir, { recursive: true });
    Deno.writeTextFileSync(exportsMap, exportsText);
  }
  const spec: LibrarySpec = {
    label: "g++",
    compiler: cxx,
    out: join(buildDir, `libconvnet_emu_${variant.name}.so`),
    objDir,
    units: [...cu, ...runtimeUnits(variant)],
    compileFlags: [...flags, ...variant.instrument],
    compileArgs: compileArgs(flags, variant),
    linkArgs: (objs, tmp) => [
      "-shared",
      "-Wl,-z,defs",
      `-Wl,--version-script=${exportsMap}`,
      "-o",
      tmp,
      ...objs,
      ...variant.link,
    ],
  };
  return await withLock(`emu-${variant.name}`, () => buildLibrary(spec, opts));
}

/** A short stable hash (FNV-1a, hex) of `text`. */
function hash(text: string): string {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) h = Math.imul(h ^ text.charCodeAt(i), 0x01000193) >>> 0;
  return h.toString(16).padStart(8, "0");
}

/**
 * Builds a standalone program from `file` (a .cu source with main(), including common.h) on
 * `variant`, with `defines` (`["FIXED"]` → -DFIXED); returns its path in the result.
 *
 * @example
 * ```ts
 * import { SANITIZE } from "./emu_run_tools.ts";
 * const r = await buildEmuProgram("native/tests/sanitizer/oob_write.cu", SANITIZE, { defines: ["FIXED"] });
 * ```
 */
export async function buildEmuProgram(
  file: string,
  variant: EmuVariant,
  opts: BuildOptions & { defines?: string[] } = {},
): Promise<BuildResult> {
  if (!file.endsWith(".cu")) throw new BuildError(`emu:run: expected a .cu source, got ${file}`);
  const src = await Deno.realPath(file).catch((e) => {
    throw new BuildError(`emu:run: cannot read ${file}: ${e instanceof Error ? e.message : e}`, { cause: e });
  });
  const defines = opts.defines ?? [];
  for (const d of defines) {
    if (!/^[A-Za-z_]\w*(=.*)?$/.test(d)) {
      throw new BuildError(`emu:run: -D expects NAME or NAME=VALUE, got "${d}"`);
    }
  }
  const runtime = await buildEmuRuntime(variant, opts);
  const cxx = cxxOrThrow();
  const flags = baseFlags(variant);
  const extra = defines.map((d) => `-D${d}`);
  const stem = src.split("/").pop()!.replace(/\.[^.]*$/, "").replace(/[^\w.-]/g, "_");
  const dir = join(buildDir, "emu-run", variant.name);
  const name = `${stem}-${hash(`${src}\n${extra.join(" ")}`)}`;
  const spec: LibrarySpec = {
    label: "g++",
    compiler: cxx,
    out: join(dir, name),
    objDir: dir,
    units: [{ src, obj: join(dir, `${name}.o`) }],
    compileFlags: [...flags, ...variant.instrument, ...extra],
    compileArgs: compileArgs(flags, variant, extra),
    linkArgs: (objs, tmp) => ["-o", tmp, ...objs, runtime.path, ...variant.link],
  };
  // A rebuilt emulator relinks the program (make.ts compares the program with its own objects only).
  const relink = (mtime(spec.out) ?? 0) < (mtime(runtime.path) ?? Infinity);
  return await withLock(`emu-${variant.name}`, () => buildLibrary(spec, { ...opts, force: opts.force || relink }));
}
