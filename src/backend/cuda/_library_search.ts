/**
 * Where the native library is looked for (see ffi.ts's module doc for the order), and the user
 * cache folder that `deno run -A jsr:@convnet/convnet/build` builds into.
 *
 * @module
 */
import { join } from "../../_path.ts";

/**
 * The package's version (deno.json's `version`; tests/ffi_search_test.ts checks they agree). The
 * user cache holds one library per version, so an upgrade never loads a library of another ABI.
 */
export const PACKAGE_VERSION = "0.1.0";

/** The library's file name in a build folder and in the user cache. */
export const LIBRARY_NAME = "libconvnet_cuda.so";

/** The command that builds the library into the user cache, for messages. */
export const CACHE_BUILD_COMMAND = "deno run -A jsr:@convnet/convnet/build";

/** Whether a permission is granted, without prompting (auto-detection must never stop to ask). */
export function granted(desc: Deno.PermissionDescriptor): boolean {
  try {
    return Deno.permissions.querySync(desc).state === "granted";
  } catch {
    return false;
  }
}

/** An environment variable, or undefined when it is empty, unset or not readable (no --allow-env). */
export function readEnv(name: string): string | undefined {
  if (!granted({ name: "env", variable: name })) return undefined;
  return Deno.env.get(name) || undefined;
}

/**
 * The user cache folder of this version: `$XDG_CACHE_HOME/convnet/<version>`, else
 * `$HOME/.cache/convnet/<version>` (`%LOCALAPPDATA%\convnet\<version>` on Windows); undefined when
 * none of these variables can be read (unset, or no `--allow-env` for them).
 *
 * @example
 * ```ts
 * import { nativeCacheDir } from "./_library_search.ts";
 * console.log(nativeCacheDir()); // "/home/me/.cache/convnet/0.1.0"
 * ```
 */
export function nativeCacheDir(): string | undefined {
  const xdg = readEnv("XDG_CACHE_HOME");
  if (xdg !== undefined) return join(xdg, "convnet", PACKAGE_VERSION);
  if (Deno.build.os === "windows") {
    const local = readEnv("LOCALAPPDATA");
    return local === undefined ? undefined : join(local, "convnet", PACKAGE_VERSION);
  }
  const home = readEnv("HOME");
  return home === undefined ? undefined : join(home, ".cache", "convnet", PACKAGE_VERSION);
}

/** One place the library may be: its path, where it comes from, and how to put a library there. */
export interface LibraryCandidate {
  /** The file. */
  path: string;
  /** An explicit choice (a path given, `CONVNET_LIB`): the only one tried, and a miss is an error. */
  explicit: boolean;
  /** Where it comes from, for messages: "CONVNET_LIB", "this checkout's build", "the user cache". */
  source: string;
  /** How to make the file exist, for messages. */
  hint: string;
  /** How to rebuild it when it is stale (a symbol missing), for messages. */
  rebuild: string;
}

const CHECKOUT_BUILD_COMMAND = "deno task build:native";

/**
 * The places to look, in order, and what was skipped (for the error when nothing is found). A path
 * given or `CONVNET_LIB` is the one candidate; otherwise the checkout's `native/build` (when this
 * module was loaded from local files) and the user cache. `moduleDir` is this module's folder
 * (null when loaded over http(s), e.g. from JSR).
 */
export function libraryCandidates(
  path: string | undefined,
  moduleDir: string | null = import.meta.dirname ?? null,
): { candidates: LibraryCandidate[]; skipped: string[] } {
  const only = (c: Omit<LibraryCandidate, "explicit" | "rebuild">) => ({
    candidates: [{ ...c, explicit: true, rebuild: CHECKOUT_BUILD_COMMAND }],
    skipped: [],
  });
  if (path !== undefined) return only({ path, source: "the path given", hint: "" });
  const env = readEnv("CONVNET_LIB");
  if (env !== undefined) return only({ path: env, source: "CONVNET_LIB", hint: "unset CONVNET_LIB to search" });
  const candidates: LibraryCandidate[] = [];
  const skipped = [
    granted({ name: "env", variable: "CONVNET_LIB" })
      ? "CONVNET_LIB is not set"
      : "CONVNET_LIB not readable (no --allow-env)",
  ];
  if (moduleDir !== null) {
    candidates.push({
      path: join(moduleDir, "..", "..", "..", "native", "build", LIBRARY_NAME),
      explicit: false,
      source: "this checkout's build",
      hint: CHECKOUT_BUILD_COMMAND,
      rebuild: CHECKOUT_BUILD_COMMAND,
    });
  } else {
    skipped.push("no checkout build (convnet was imported over http(s))");
  }
  const cache = nativeCacheDir();
  if (cache !== undefined) {
    candidates.push({
      path: join(cache, LIBRARY_NAME),
      explicit: false,
      source: "the user cache",
      hint: CACHE_BUILD_COMMAND,
      rebuild: `${CACHE_BUILD_COMMAND} --force`,
    });
  } else {
    skipped.push("no user cache (XDG_CACHE_HOME and HOME not readable: --allow-env)");
  }
  return { candidates, skipped };
}
