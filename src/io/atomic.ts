/**
 * Durable, atomic file writes and the up-front check that an output path can be written.
 *
 * A write goes to a temporary file in the target's folder (`.NAME.UUID.tmp`), which is fsynced,
 * renamed over the target, and then the folder is fsynced, so that after a crash the target holds
 * either its old bytes or all of the new ones. A temporary file left by a killed write is removed
 * by the next write to the same path.
 *
 * @module
 */
import { dirname, join } from "../_path.ts";

/** Temporary files being written by this process: never removed as stale. */
const inFlight = new Set<string>();

/** The folder of `path` and its file name. */
function split(path: string): { dir: string; base: string } {
  const dir = dirname(path);
  return { dir, base: path.slice(dir.length).replace(/^[\\/]+/, "") };
}

/** Matches the temporary files of writes to `base` (`.BASE.UUID.tmp`). */
function tempPattern(base: string): RegExp {
  const escaped = base.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
  return new RegExp(`^\\.${escaped}\\.[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\\.tmp$`);
}

/** A fresh temporary path next to `path`. */
function tempPath(path: string): string {
  const { dir, base } = split(path);
  return join(dir, `.${base}.${crypto.randomUUID()}.tmp`);
}

/** Removes temporary files of earlier, killed writes to `path` (not those this process is writing). */
async function removeStale(path: string): Promise<void> {
  const { dir, base } = split(path);
  const pattern = tempPattern(base);
  try {
    for await (const entry of Deno.readDir(dir)) {
      const stale = join(dir, entry.name);
      if (entry.isFile && pattern.test(entry.name) && !inFlight.has(stale)) {
        await Deno.remove(stale).catch(() => {});
      }
    }
  } catch {
    // An unreadable folder: the write itself reports what is wrong.
  }
}

/** fsyncs the folder, so that the rename survives a crash (not possible on Windows: skipped). */
async function syncDir(dir: string): Promise<void> {
  if (Deno.build.os === "windows") return;
  const handle = await Deno.open(dir, { read: true });
  try {
    await handle.sync();
  } finally {
    handle.close();
  }
}

/**
 * Writes `bytes` to `path` atomically and durably: a temporary file in the same folder is written
 * and fsynced, renamed over `path`, and the folder is fsynced. Readers see the old file or the new
 * one, never a part. Stale temporary files of killed writes to `path` are removed first. One
 * process should write a given path at a time.
 *
 * @example
 * ```ts
 * import { io } from "@convnet/convnet";
 * await io.writeFileAtomic("notes.txt", new TextEncoder().encode("done\n"));
 * ```
 */
export async function writeFileAtomic(path: string, bytes: Uint8Array): Promise<void> {
  if (typeof path !== "string" || path === "") {
    throw new Error(`writeFileAtomic: path must be a non-empty string, got ${JSON.stringify(path)}`);
  }
  await removeStale(path);
  const tmp = tempPath(path);
  inFlight.add(tmp);
  try {
    const file = await Deno.open(tmp, { write: true, createNew: true });
    try {
      let written = 0;
      while (written < bytes.length) written += await file.write(bytes.subarray(written));
      await file.sync();
    } finally {
      file.close();
    }
    await Deno.rename(tmp, path);
    await syncDir(dirname(path));
  } catch (e) {
    await Deno.remove(tmp).catch(() => {});
    throw new Error(`writeFileAtomic: cannot write ${path}: ${(e as Error).message}`, { cause: e });
  } finally {
    inFlight.delete(tmp);
  }
}

/** Options of {@linkcode checkWritable}. */
export interface CheckWritableOptions {
  /** What the message starts with, e.g. `"trainMnist: saveModel"`; default `"checkWritable"`. */
  label?: string;
}

/**
 * Checks, before a long run, that `path` can be written later: its folder exists and is a folder,
 * a file can be created there, and `path` itself is not a folder. Creates nothing that stays.
 * Throws an Error naming the path and what is wrong
 * (`checkWritable: cannot write runs/model.safetensors: the folder runs does not exist`).
 *
 * @example
 * ```ts
 * import { io } from "@convnet/convnet";
 * await io.checkWritable("model.safetensors"); // throws if, e.g., the folder is missing
 * ```
 */
export async function checkWritable(path: string, opts: CheckWritableOptions = {}): Promise<void> {
  const label = opts.label ?? "checkWritable";
  const fail = (what: string, cause?: unknown): never => {
    throw new Error(`${label}: cannot write ${path}: ${what}`, cause === undefined ? undefined : { cause });
  };
  if (typeof path !== "string" || path === "") fail("the path must be a non-empty string");
  const { dir } = split(path);
  let info: Deno.FileInfo;
  try {
    info = await Deno.stat(dir);
  } catch (e) {
    return fail(
      e instanceof Deno.errors.NotFound ? `the folder ${dir} does not exist` : `cannot reach the folder ${dir}`,
      e,
    );
  }
  if (!info.isDirectory) fail(`${dir} is not a folder`);
  try {
    if ((await Deno.stat(path)).isDirectory) fail("it is a folder");
  } catch (e) {
    if (!(e instanceof Deno.errors.NotFound)) throw e;
  }
  const probe = tempPath(path);
  try {
    (await Deno.open(probe, { write: true, createNew: true })).close();
  } catch (e) {
    fail(`cannot create a file in ${dir} (${(e as Error).message})`, e);
  }
  await Deno.remove(probe).catch(() => {});
}
