/**
 * The compilers and tools the native build runs: where it finds them (`findNvcc`, `findCxx`, any
 * tool through an environment variable, a list of candidates, then PATH), how it runs one and
 * collects its output (`run`), and how it reads a tool's version for the build description.
 *
 * @module
 */
import { join } from "../../src/_path.ts";

/** Whether `path` is a regular file. */
export function isFile(path: string): boolean {
  try {
    return Deno.statSync(path).isFile;
  } catch {
    return false;
  }
}

/** Reads an environment variable: `Deno.env.get`, or a table of a test's own (never the process's). */
export type EnvReader = (name: string) => string | undefined;

const processEnv: EnvReader = (name) => Deno.env.get(name);

/**
 * Finds an executable: $envVar (a path, or a name looked up on PATH), then the candidates, then `name` on PATH.
 * `env` reads the variables (default: the process's).
 *
 * @example
 * ```ts
 * const filt = findTool("c++filt", "CXXFILT");
 * ```
 */
export function findTool(
  name: string,
  envVar: string,
  extra: (string | undefined)[] = [],
  env: EnvReader = processEnv,
): string | null {
  const onPath = (n: string) =>
    (env("PATH") ?? "").split(":").filter(Boolean).map((d) => join(d, n)).find(isFile) ?? null;
  const fromEnv = env(envVar);
  if (fromEnv) {
    const found = fromEnv.includes("/") ? (isFile(fromEnv) ? fromEnv : null) : onPath(fromEnv);
    if (found) return found;
  }
  for (const c of extra) if (c && isFile(c)) return c;
  return onPath(name);
}

/**
 * Finds nvcc: $NVCC (a path or a name on PATH), $CUDA_HOME/bin/nvcc, nvcc on PATH, then
 * /usr/local/cuda/bin/nvcc. The explicit choices come first, and a toolkit on PATH (one installed
 * to match the driver) before the system's default install. `env` reads the variables (default:
 * the process's).
 *
 * @example
 * ```ts
 * console.log(findNvcc() ?? "no CUDA toolkit here");
 * ```
 */
export function findNvcc(env: EnvReader = processEnv): string | null {
  const home = env("CUDA_HOME");
  const explicit = findTool("nvcc", "NVCC", [home && join(home, "bin", "nvcc")], env);
  return explicit ?? (isFile("/usr/local/cuda/bin/nvcc") ? "/usr/local/cuda/bin/nvcc" : null);
}

/** The oldest CUDA the library builds with: 11.8, the first toolkit with sm_90 (Hopper). */
export const MIN_CUDA: readonly [number, number] = [11, 8];

/** What the build needs to know about a CUDA toolkit. */
export interface CudaToolkit {
  /** nvcc's path. */
  nvcc: string;
  /** "13.0" */
  version: string;
  /** 13 */
  major: number;
  /** 0 */
  minor: number;
  /** The real architectures it compiles SASS for ("sm_75", ...). */
  archs: string[];
  /** Where `archs` came from: nvcc's own list, or this file's table when nvcc cannot list them. */
  archsFrom: "nvcc --list-gpu-code" | "table";
  /** The oldest driver that runs its runtime (minor version compatibility within the major release). */
  driverFloor: string;
}

/**
 * The architectures a CUDA version compiles for (`nvcc --list-gpu-code`), for toolkits whose nvcc
 * cannot say: 11.8 lists sm_35 to sm_90 (it added sm_89 and sm_90); 12.0 dropped sm_35 and sm_37
 * and added sm_90a; 12.8 sm_100, sm_101, sm_120; 12.9 sm_103 and sm_121; 13.0 dropped sm_50 to
 * sm_72 (and renamed sm_101 to sm_110).
 *
 * @example
 * ```ts
 * archsForVersion(11, 8).includes("sm_90"); // true
 * archsForVersion(13, 0).includes("sm_70"); // false
 * ```
 */
export function archsForVersion(major: number, minor: number): string[] {
  const v = major * 10 + minor;
  const archs = [50, 52, 53, 60, 61, 62, 70, 72, 75, 80, 86, 87, 89, 90].map((a) => `sm_${a}`);
  if (v < 120) archs.unshift("sm_35", "sm_37");
  if (v >= 120) archs.push("sm_90a");
  if (v >= 128) archs.push("sm_100", "sm_101", "sm_120");
  if (v >= 129) archs.push("sm_103", "sm_121");
  if (v < 130) return archs;
  const kept = archs.filter((a) => parseInt(a.slice(3)) >= 75 && a !== "sm_101");
  return [...kept, "sm_88", "sm_110"];
}

/**
 * The oldest NVIDIA driver that runs a runtime of CUDA `major`.x: within a major release, CUDA's
 * minor version compatibility lets any driver of the family run it (NVIDIA's CUDA Compatibility
 * guide, "Minor Version Compatibility", table 1: 13.x >= 580, 12.x >= 525, 11.x >= 450). The
 * library carries SASS for its architectures, so it needs no PTX JIT, which minor version
 * compatibility does not cover.
 *
 * @example
 * ```ts
 * driverFloor(12); // "525.60.13"
 * ```
 */
export function driverFloor(major: number): string {
  if (major >= 13) return "580";
  if (major === 12) return "525.60.13";
  return "450.80.02";
}

/**
 * Reads nvcc's version and the architectures it compiles for. A version it does not print is an
 * Error naming nvcc and its output.
 *
 * @example
 * ```ts
 * const tk = await probeNvcc("/usr/local/cuda/bin/nvcc");
 * console.log(tk.version, tk.archs.join(" "), `driver >= ${tk.driverFloor}`);
 * ```
 */
export async function probeNvcc(nvcc: string): Promise<CudaToolkit> {
  const r = await run(nvcc, ["--version"]);
  const m = /release (\d+)\.(\d+)/.exec(r.output);
  if (!r.ok || !m) {
    throw new Error(`${nvcc} --version did not print "release X.Y" (exit code ${r.code}): ${r.output.trim()}`);
  }
  const major = Number(m[1]), minor = Number(m[2]);
  const listed = await run(nvcc, ["--list-gpu-code"]).catch(() => null);
  const codes = listed?.ok ? listed.output.split(/\s+/).filter((c) => /^sm_\d+[a-z]?$/.test(c)) : [];
  return {
    nvcc,
    version: `${major}.${minor}`,
    major,
    minor,
    archs: codes.length ? codes : archsForVersion(major, minor),
    archsFrom: codes.length ? "nvcc --list-gpu-code" : "table",
    driverFloor: driverFloor(major),
  };
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

/**
 * Runs `cmd` to completion; `output` is its stdout followed by its stderr.
 *
 * @example
 * ```ts
 * const r = await run("g++", ["--version"]);
 * if (!r.ok) console.error(r.output);
 * ```
 */
export async function run(cmd: string, args: string[]): Promise<{ ok: boolean; code: number; output: string }> {
  const out = await new Deno.Command(cmd, { args, stdout: "piped", stderr: "piped" }).output();
  const dec = new TextDecoder();
  return { ok: out.success, code: out.code, output: dec.decode(out.stdout) + dec.decode(out.stderr) };
}

/**
 * The first group of `re` in the output of `cmd args`, or "unknown" when the tool fails or says something else.
 *
 * @example
 * ```ts
 * const cuda = await toolVersion("nvcc", ["--version"], /release (\d+\.\d+)/); // "13.0"
 * ```
 */
export async function toolVersion(cmd: string, args: string[], re: RegExp): Promise<string> {
  try {
    const r = await run(cmd, args);
    return re.exec(r.output)?.[1] ?? "unknown";
  } catch {
    return "unknown";
  }
}
