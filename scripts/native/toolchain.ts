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

/**
 * Finds an executable: $envVar (a path, or a name looked up on PATH), then the candidates, then `name` on PATH.
 *
 * @example
 * ```ts
 * const filt = findTool("c++filt", "CXXFILT");
 * ```
 */
export function findTool(name: string, envVar: string, extra: (string | undefined)[] = []): string | null {
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
