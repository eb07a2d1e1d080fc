/**
 * A small make for the native libraries: one object per source, rebuilt when it is older than the
 * source, a header it includes (from the compiler's `-MMD` dependency file), or the build scripts
 * (`scripts/build_native.ts` and `scripts/native/*.ts`), or when the compile flags change; a link
 * when any object changed; at most `jobs` compilers at once; and a lock file per library so that
 * test processes building at the same time do not write the same files. It also holds the paths,
 * options, result and error types every build module shares.
 *
 * @module
 */
import { join } from "../../src/_path.ts";
import { run } from "./toolchain.ts";

/**
 * The repository root; empty when these scripts were imported over http(s) (JSR), where the build
 * entry point (build.ts) stages the sources in a folder of its own and passes `root` and `outDir`.
 */
export const root: string = import.meta.dirname ? join(import.meta.dirname, "..", "..") : "";
/** Where objects and libraries go (empty with `root`). */
export const buildDir: string = root && join(root, "native", "build");
/** Compiler processes at once when the caller does not say. */
export const DEFAULT_JOBS = 2;

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
  /** The folder holding `deno.json` and `native/` to build from (default: this checkout). */
  root?: string;
  /** Where objects and libraries go (default: `native/build` of this checkout). */
  outDir?: string;
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

/** `path` relative to the repository root, for messages. */
export function rel(path: string): string {
  return root && path.startsWith(root + "/") ? path.slice(root.length + 1) : path;
}

/** Modification time in ms, or null when `path` does not exist. */
export function mtime(path: string): number | null {
  try {
    return Deno.statSync(path).mtime?.getTime() ?? null;
  } catch {
    return null;
  }
}

/** The file's text, or null when it cannot be read. */
export function readText(path: string): string | null {
  try {
    return Deno.readTextFileSync(path);
  } catch {
    return null;
  }
}

/** Removes `path` if it is there. */
export function removeQuiet(path: string): void {
  try {
    Deno.removeSync(path);
  } catch {
    // not there
  }
}

/** The files of `dir` whose names end with `ext`, sorted; none when `dir` is missing. */
export function listFiles(dir: string, ext: string): string[] {
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

/**
 * The newest modification time of the build scripts (`scripts/build_native.ts`, `scripts/native/*.ts`):
 * outputs older than that are rebuilt, since an edit of the build may change what it produces.
 */
export function buildScriptsTime(): number {
  if (!root) return 0; // imported over http(s): the scripts are fixed by the package version
  const scripts = [join(root, "scripts", "build_native.ts"), ...listFiles(join(root, "scripts", "native"), ".ts")];
  return Math.max(0, ...scripts.map((s) => mtime(s) ?? 0));
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
 * Runs `fn` holding `<dir>/.<name>.lock` (`native/build` by default), so that test processes
 * building at the same time do not write the same files at once. A lock whose process is gone is
 * taken over.
 *
 * @example
 * ```ts
 * await withLock("emu", () => buildLibrary(spec, {}));
 * ```
 */
export async function withLock<T>(name: string, fn: () => Promise<T>, dir: string = buildDir): Promise<T> {
  Deno.mkdirSync(dir, { recursive: true });
  const path = join(dir, `.${name}.lock`);
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

/** One source and the object it compiles to. */
export interface Unit {
  /** The source file. */
  src: string;
  /** Its object; the dependency file sits beside it (`.d`). */
  obj: string;
}

/** How to build one library (or program): its compiler, units, flags and link. */
export interface LibrarySpec {
  /** The compiler's short name in progress lines ("g++", "nvcc"). */
  label: string;
  /** The compiler's path. */
  compiler: string;
  /** The library (or program) to link. */
  out: string;
  /** Where the objects, dependency files and the flags record go. */
  objDir: string;
  /** What to compile. */
  units: Unit[];
  /** Everything but the source and output names: a change rebuilds every object. */
  compileFlags: string[];
  /** The compile command line for one unit, writing `tmpObj` and the dependency file `depFile`. */
  compileArgs(unit: Unit, tmpObj: string, depFile: string): string[];
  /** Compiler output to show for a successful compile (nvcc's ptxas lines are kept in a file instead). */
  filterOutput?(unit: Unit, output: string): string;
  /** The link command line, writing `tmpOut`. */
  linkArgs(objs: string[], tmpOut: string): string[];
}

/** Whether `unit` needs compiling: no object, or one older than `newestFixed` or than a file it depends on. */
export function objectStale(unit: Unit, newestFixed: number): boolean {
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

/**
 * Compiles the stale units of `spec` and links them when anything changed; says what it did or
 * that the output is up to date. Callers hold the library's lock ({@linkcode withLock}).
 *
 * @example
 * ```ts
 * const r = await withLock("emu", () => buildLibrary(spec, { jobs: 4 }));
 * ```
 */
export async function buildLibrary(spec: LibrarySpec, opts: BuildOptions): Promise<BuildResult> {
  const log = opts.log ?? console.log;
  const t0 = performance.now();
  Deno.mkdirSync(spec.objDir, { recursive: true });
  const flagsFile = join(spec.objDir, `flags-${spec.out.split("/").pop()}.txt`);
  const flagsKey = spec.compileFlags.join("\n");
  const flagsChanged = readText(flagsFile) !== flagsKey;
  if (flagsChanged) removeQuiet(flagsFile); // written back only once every object has these flags
  const fixed = buildScriptsTime();
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
