/**
 * Checkpoints: everything a run needs to go on bit-identically, in one safetensors file.
 *
 * Layout (any safetensors reader opens it):
 * - tensors `model.<key>`: the model's `stateDict()` under PyTorch's names (`model.conv1.weight`);
 * - tensors `optimizer.state.<index>.<buffer>`: the optimizer's per-parameter buffers
 *   (`optimizer.state.0.square_avg`), in the layout of `Optimizer.stateDict()`;
 * - `__metadata__` strings, each one JSON: `format` (`"convnet.checkpoint"`), `version` (`1`),
 *   `epoch`, `optimizer` (`{ type, state, param_groups }`, its tensors written as
 *   `{ "$tensor": "<name>" }`), `scheduler` (`{ type, state }`), `rng` (the global MT19937 and
 *   Philox generators), `data` (the loader's shuffle `seed` and next `epoch`), `extra`.
 *
 * JSON has no ±Infinity, NaN, -0 or bigint: they are written as `{ "$float": "Infinity" }` (and
 * `"-Infinity"`, `"NaN"`, `"-0"`) and `{ "$bigint": "123" }`, and read back as such, so that
 * ReduceLROnPlateau's `best` (±Infinity before its first step) survives.
 *
 * In PyTorch: `safetensors.torch.load_file(path)`, keep the `model.` keys with the prefix removed.
 *
 * @module
 */
import { Tensor, tensor } from "../tensor/mod.ts";
import { Generator, type GeneratorState, globalGenerator } from "../tensor/random.ts";
import { PhiloxGenerator, philoxGenerator } from "../tensor/philox.ts";
import type { Module } from "../nn/module.ts";
import type { Optimizer, OptimizerStateDict } from "../optim/optimizer.ts";
import type { SchedulerStateDict } from "../optim/_lr_state.ts";
import { parseSafetensors, saveBytes } from "./safetensors.ts";
import { writeFileAtomic } from "./atomic.ts";

const FORMAT = "convnet.checkpoint";
const VERSION = 1;

/** A learning-rate scheduler as a checkpoint sees it (every scheduler in `optim` is one). */
export interface CheckpointScheduler {
  /** The scheduler's state under PyTorch's key names. */
  stateDict(): SchedulerStateDict;
  /** Restores a state from `stateDict()`. */
  loadStateDict(state: SchedulerStateDict): void;
}

/** What a checkpoint keeps of a data loader: the shuffle seed and the next epoch (a `data.DataLoader` is one). */
export interface CheckpointLoader {
  /** The shuffle seed: with the epoch, it fixes the epoch's order. */
  readonly seed: number;
  /** The epoch the next pass over the loader runs (0-based). */
  readonly epoch: number;
  /** Sets the epoch the next pass runs. */
  setEpoch(epoch: number): void;
}

/** What {@linkcode saveCheckpoint} writes; only the model is required. */
export interface SaveCheckpointOptions {
  /** The model: its `stateDict()` goes under `model.`. */
  model: Module;
  /** The optimizer: its state and hyper-parameters (learning rates included). */
  optimizer?: Optimizer;
  /** The learning-rate scheduler. */
  scheduler?: CheckpointScheduler;
  /** The epochs completed (an integer ≥ 0), given back by {@linkcode loadCheckpoint}. */
  epoch?: number;
  /** The training loader: its shuffle seed and next epoch, so the data order goes on where it was. */
  loader?: CheckpointLoader;
  /** Anything else worth keeping, as JSON (numbers, strings, arrays, plain objects; no tensors). */
  extra?: unknown;
}

/** What {@linkcode loadCheckpoint} restores; only the model is required. */
export interface LoadCheckpointOptions {
  /** The model to load the weights into (same architecture as the one saved). */
  model: Module;
  /** The optimizer to restore (same class and parameter groups as the one saved). */
  optimizer?: Optimizer;
  /** The scheduler to restore (same class as the one saved). */
  scheduler?: CheckpointScheduler;
  /** The training loader: its epoch is set to the saved one (its seed must be the saved one). */
  loader?: CheckpointLoader;
}

/** What {@linkcode loadCheckpoint} gives back besides the restored objects. */
export interface CheckpointInfo {
  /** The saved `epoch`, or undefined when none was saved. */
  epoch: number | undefined;
  /** The saved `extra`, or undefined. */
  extra: unknown;
}

/**
 * Writes a checkpoint to `path` (layout in the module docs): the model's state, the optimizer's and
 * the scheduler's when given, the global random generators (MT19937 and Philox), the loader's data
 * order, `epoch` and `extra`. The write is atomic and durable (see `writeFileAtomic`): a crash leaves
 * the previous checkpoint or the new one, and a killed save's temporary file is removed by the next.
 *
 * @example
 * ```ts
 * import { io, nn, optim } from "@convnet/convnet";
 * const model = new nn.Linear(4, 2);
 * const optimizer = new optim.Adadelta(model.parameters(), { lr: 1.0 });
 * const scheduler = new optim.StepLR(optimizer, { stepSize: 1, gamma: 0.7 });
 * await io.saveCheckpoint("ckpt.safetensors", { model, optimizer, scheduler, epoch: 1 });
 * ```
 */
export async function saveCheckpoint(path: string, opts: SaveCheckpointOptions): Promise<void> {
  await writeFileAtomic(path, checkpointBytes(opts));
}

/**
 * Restores a checkpoint written by {@linkcode saveCheckpoint} into `model` and, when given, the
 * optimizer, the scheduler and the loader's epoch; it also restores the global random generators.
 * Everything is checked first: a missing or corrupt file, a file that is not a checkpoint, a model,
 * optimizer or scheduler that does not fit, or a part asked for but not saved, is an Error naming
 * the file and the part, and then nothing has changed. Returns the saved `epoch` and `extra`.
 *
 * @example
 * ```ts
 * import { io, nn, optim } from "@convnet/convnet";
 * const model = new nn.Linear(4, 2);
 * const optimizer = new optim.Adadelta(model.parameters(), { lr: 1.0 });
 * const scheduler = new optim.StepLR(optimizer, { stepSize: 1, gamma: 0.7 });
 * const { epoch } = await io.loadCheckpoint("ckpt.safetensors", { model, optimizer, scheduler });
 * // train on from epoch + 1
 * ```
 */
export async function loadCheckpoint(path: string, opts: LoadCheckpointOptions): Promise<CheckpointInfo> {
  checkKeys("loadCheckpoint", opts, ["model", "optimizer", "scheduler", "loader"]);
  let bytes: Uint8Array;
  try {
    bytes = await Deno.readFile(path);
  } catch (e) {
    throw new Error(`loadCheckpoint: cannot read ${path}: ${(e as Error).message}`, { cause: e });
  }
  const fail = (what: string, cause?: unknown): never => {
    throw new Error(`loadCheckpoint: ${path}: ${what}`, cause === undefined ? undefined : { cause });
  };
  let file;
  try {
    file = parseSafetensors(bytes, path);
  } catch (e) {
    return fail(`not a readable safetensors file (${(e as Error).message})`, e);
  }
  const { tensors, metadata } = file;
  try {
    return restore(metadata, tensors, opts, fail);
  } finally {
    for (const t of Object.values(tensors)) t.dispose();
  }
}

/** The checkpoint's bytes. */
function checkpointBytes(opts: SaveCheckpointOptions): Uint8Array {
  const fail = (what: string): never => {
    throw new Error(`saveCheckpoint: ${what}`);
  };
  if (opts === null || typeof opts !== "object") fail(`expected options { model, ... }, got ${String(opts)}`);
  checkKeys("saveCheckpoint", opts, ["model", "optimizer", "scheduler", "epoch", "loader", "extra"]);
  const { model, optimizer, scheduler, epoch, loader, extra } = opts;
  if (typeof model?.stateDict !== "function") fail(`model must be an nn.Module, got ${describe(model)}`);
  if (epoch !== undefined && !(Number.isSafeInteger(epoch) && epoch >= 0)) {
    fail(`epoch must be an integer ≥ 0, got ${String(epoch)}`);
  }
  const tensors: Record<string, Tensor> = {};
  for (const [key, t] of Object.entries(model.stateDict())) tensors[`model.${key}`] = t;
  const metadata: Record<string, string> = { format: FORMAT, version: String(VERSION) };
  if (epoch !== undefined) metadata.epoch = String(epoch);
  if (optimizer !== undefined) {
    if (typeof optimizer?.stateDict !== "function") fail(`optimizer must be an optimizer, got ${describe(optimizer)}`);
    const sd = optimizer.stateDict();
    const state: Record<string, Record<string, unknown>> = {};
    for (const [index, entry] of Object.entries(sd.state)) {
      state[index] = {};
      for (const [name, v] of Object.entries(entry)) {
        if (v instanceof Tensor) {
          const key = `optimizer.state.${index}.${name}`;
          tensors[key] = v;
          state[index][name] = { $tensor: key };
        } else state[index][name] = v;
      }
    }
    metadata.optimizer = encode("optimizer", { type: typeName(optimizer), state, param_groups: sd.param_groups });
  }
  if (scheduler !== undefined) {
    if (typeof scheduler?.stateDict !== "function") fail(`scheduler must be a scheduler, got ${describe(scheduler)}`);
    metadata.scheduler = encode("scheduler", { type: typeName(scheduler), state: scheduler.stateDict() });
  }
  const mt = globalGenerator().getState();
  const philox = philoxGenerator().getState();
  metadata.rng = encode("rng", {
    mt19937: { state: Array.from(mt.state), index: mt.index, spare_normal: mt.spareNormal },
    philox: { seed: philox.seed, offset: philox.offset },
  });
  if (loader !== undefined) {
    if (!Number.isInteger(loader?.seed) || !Number.isInteger(loader?.epoch)) {
      fail(`loader must be a data.DataLoader (an integer seed and epoch), got ${describe(loader)}`);
    }
    metadata.data = encode("data", { seed: loader.seed, epoch: loader.epoch });
  }
  if (extra !== undefined) metadata.extra = encode("extra", extra);
  return saveBytes(tensors, { metadata });
}

/** Checks every part against `opts`, then restores them (model, optimizer, scheduler, generators, loader). */
function restore(
  metadata: Record<string, string>,
  tensors: Record<string, Tensor>,
  opts: LoadCheckpointOptions,
  fail: (what: string, cause?: unknown) => never,
): CheckpointInfo {
  if (metadata.format !== FORMAT) {
    fail(
      `not a checkpoint (its metadata "format" is ${JSON.stringify(metadata.format ?? null)}, expected ` +
        `"${FORMAT}"); a plain state dict loads with io.load and Module.loadStateDict`,
    );
  }
  if (metadata.version !== String(VERSION)) {
    fail(`checkpoint version ${JSON.stringify(metadata.version)} is not supported; expected ${VERSION}`);
  }
  const json = (key: string): unknown => {
    if (!(key in metadata)) return undefined;
    try {
      return decode(metadata[key]);
    } catch (e) {
      return fail(`metadata "${key}" is not valid JSON (${(e as Error).message})`, e);
    }
  };
  const { model, optimizer, scheduler, loader } = opts;
  if (typeof model?.loadStateDict !== "function") fail(`model must be an nn.Module, got ${describe(model)}`);

  const epoch = json("epoch");
  const extra = json("extra");
  const data = json("data") as { seed?: unknown; epoch?: unknown } | undefined;
  if (epoch !== undefined && !(Number.isSafeInteger(epoch) && (epoch as number) >= 0)) {
    fail(`metadata "epoch" must be an integer ≥ 0, got ${metadata.epoch}`);
  }
  const modelDict: Record<string, Tensor> = {};
  const used = new Set<string>();
  for (const [key, t] of Object.entries(tensors)) {
    if (key.startsWith("model.")) {
      modelDict[key.slice("model.".length)] = t;
      used.add(key);
    }
  }

  const optimizerDict = optimizer === undefined
    ? undefined
    : readOptimizer(json("optimizer"), typeName(optimizer), tensors, used, fail);
  const unknown = Object.keys(tensors).filter((k) => !used.has(k) && !k.startsWith("optimizer.state."));
  if (unknown.length) fail(`unexpected tensors ${unknown.join(", ")}; expected model.* and optimizer.state.*`);

  let schedulerState: SchedulerStateDict | undefined;
  if (scheduler !== undefined) {
    const saved = json("scheduler") as { type?: unknown; state?: unknown } | undefined;
    if (saved === undefined) fail("the checkpoint holds no scheduler state (saved without a scheduler)");
    if (saved!.type !== typeName(scheduler)) {
      fail(`the checkpoint holds ${String(saved!.type)} state, but the scheduler given is a ${typeName(scheduler)}`);
    }
    schedulerState = saved!.state as SchedulerStateDict;
  }

  const rng = readRng(json("rng"), fail);

  if (loader !== undefined) {
    if (data === undefined) fail("the checkpoint holds no data order (saved without a loader)");
    if (!Number.isInteger(data!.epoch) || (data!.epoch as number) < 0) {
      fail(`metadata "data": epoch must be an integer ≥ 0, got ${String(data!.epoch)}`);
    }
    if (data!.seed !== loader.seed) {
      fail(
        `the data order was saved with shuffle seed ${String(data!.seed)}, but the loader given has seed ` +
          `${loader.seed}; resume with the same seed`,
      );
    }
  }

  // Apply, each part all-or-nothing; a later part's failure puts the earlier ones back.
  const undo: ((putBack: boolean) => void)[] = [];
  try {
    if (optimizer !== undefined || scheduler !== undefined) undo.push(snapshotModel(model));
    apply("model", fail, () => model.loadStateDict(modelDict));
    if (optimizer !== undefined) {
      if (scheduler !== undefined) undo.push(snapshotOptimizer(optimizer));
      apply("optimizer", fail, () => optimizer.loadStateDict(optimizerDict!));
    }
    if (scheduler !== undefined) apply("scheduler", fail, () => scheduler.loadStateDict(schedulerState!));
  } catch (e) {
    for (const back of undo.reverse()) {
      try {
        back(true);
      } catch {
        // The first error is the one to report.
      }
    }
    throw e;
  }
  for (const back of undo) back(false);
  if (rng) {
    globalGenerator().setState(rng.mt);
    philoxGenerator().setState(rng.philox);
  }
  if (loader !== undefined) loader.setEpoch(data!.epoch as number);
  return { epoch: epoch as number | undefined, extra };
}

/** The optimizer's state dict from its metadata, its `{ "$tensor": name }` entries resolved (and marked used). */
function readOptimizer(
  saved: unknown,
  type: string,
  tensors: Record<string, Tensor>,
  used: Set<string>,
  fail: (what: string) => never,
): OptimizerStateDict {
  const entry = saved as { type?: unknown; state?: unknown; param_groups?: unknown } | undefined;
  if (entry === undefined) fail("the checkpoint holds no optimizer state (saved without an optimizer)");
  if (entry!.type !== type) {
    fail(`the checkpoint holds ${String(entry!.type)} state, but the optimizer given is a ${type}`);
  }
  const state: OptimizerStateDict["state"] = {};
  for (const [index, buffers] of Object.entries((entry!.state ?? {}) as Record<string, Record<string, unknown>>)) {
    const out: Record<string, Tensor | number | null> = {};
    for (const [name, v] of Object.entries(buffers ?? {})) {
      const ref = (v as { $tensor?: unknown } | null)?.$tensor;
      if (typeof ref === "string") {
        if (!(ref in tensors)) fail(`optimizer state ${index}.${name} refers to tensor "${ref}", which is missing`);
        out[name] = tensors[ref];
        used.add(ref);
      } else out[name] = v as number | null;
    }
    state[Number(index)] = out;
  }
  return { state, param_groups: entry!.param_groups as OptimizerStateDict["param_groups"] };
}

/** The generators' states from the `rng` metadata, checked (undefined when the file has none). */
function readRng(
  saved: unknown,
  fail: (what: string, cause?: unknown) => never,
): { mt: GeneratorState; philox: { seed: bigint; offset: number } } | undefined {
  if (saved === undefined) return undefined;
  const rng = saved as {
    mt19937?: { state?: number[]; index?: number; spare_normal?: number | null };
    philox?: unknown;
  };
  try {
    const m = rng.mt19937;
    const mt = {
      state: m?.state as number[],
      index: m?.index as number,
      spareNormal: m?.spare_normal as number | null,
    };
    new Generator(0).setState(mt); // checks it
    const philox = rng.philox as { seed: bigint; offset: number };
    new PhiloxGenerator(0).setState(philox);
    return { mt, philox };
  } catch (e) {
    return fail(`the random generators' state is invalid (${(e as Error).message})`, e);
  }
}

/** Runs one part's load, naming the part in its error. */
function apply(part: string, fail: (what: string, cause?: unknown) => never, load: () => void): void {
  try {
    load();
  } catch (e) {
    fail(`the ${part} does not fit the checkpoint: ${(e as Error).message}`, e);
  }
}

/** A host copy of `t`, unaffected by later changes to it. */
function hostCopy(t: Tensor): Tensor {
  return tensor(t.toHost(), t.shape, { dtype: t.dtype });
}

/** Captures the model's values; the returned function puts them back (or only frees the copy). */
function snapshotModel(model: Module): (putBack: boolean) => void {
  const saved = Object.fromEntries(Object.entries(model.stateDict()).map(([k, t]) => [k, hostCopy(t)]));
  return (putBack) => {
    if (putBack) model.loadStateDict(saved);
    for (const t of Object.values(saved)) t.dispose();
  };
}

/** Captures the optimizer's state; the returned function puts it back (or only frees the copy). */
function snapshotOptimizer(optimizer: Optimizer): (putBack: boolean) => void {
  const sd = optimizer.stateDict();
  const copies: Tensor[] = [];
  const state: OptimizerStateDict["state"] = {};
  for (const [index, entry] of Object.entries(sd.state)) {
    state[Number(index)] = Object.fromEntries(
      Object.entries(entry).map(([k, v]) => [k, v instanceof Tensor ? (copies.push(hostCopy(v)), copies.at(-1)!) : v]),
    );
  }
  const saved: OptimizerStateDict = { state, param_groups: structuredClone(sd.param_groups) };
  return (putBack) => {
    if (putBack) optimizer.loadStateDict(saved);
    for (const t of copies) t.dispose();
  };
}

/** Throws unless `opts` holds only `allowed` keys. */
function checkKeys(fn: string, opts: object, allowed: readonly string[]): void {
  if (opts === null || typeof opts !== "object") {
    throw new Error(`${fn}: expected options { ${allowed.join(", ")} }, got ${String(opts)}`);
  }
  for (const key of Object.keys(opts)) {
    if (!allowed.includes(key)) {
      throw new Error(`${fn}: unknown option "${key}"; expected one of ${allowed.join(", ")}`);
    }
  }
}

/** The class name of an optimizer or scheduler, as saved and compared. */
function typeName(v: object): string {
  return v.constructor?.name ?? "Object";
}

/** A short description of a value for messages. */
function describe(v: unknown): string {
  if (v === null || v === undefined) return String(v);
  if (typeof v === "object") return `a ${v.constructor?.name ?? "object"}`;
  return typeof v;
}

/** JSON with ±Infinity, NaN, -0 and bigints kept (as `{ "$float": ... }`, `{ "$bigint": ... }`). */
function encode(part: string, value: unknown): string {
  return JSON.stringify(value, function (key, v) {
    if (typeof v === "number" && (!Number.isFinite(v) || Object.is(v, -0))) {
      return { $float: Object.is(v, -0) ? "-0" : String(v) };
    }
    if (typeof v === "bigint") return { $bigint: v.toString() };
    if (v instanceof Tensor) {
      throw new Error(`saveCheckpoint: ${part} holds a Tensor at "${key}"; only JSON values are kept there`);
    }
    if (typeof v === "function" || typeof v === "symbol") {
      throw new Error(`saveCheckpoint: ${part} holds a ${typeof v} at "${key}"; only JSON values are kept there`);
    }
    if (ArrayBuffer.isView(v) && !(v instanceof DataView)) return Array.from(v as unknown as ArrayLike<unknown>);
    return v;
  });
}

/** Reads what {@linkcode encode} wrote. */
function decode(text: string): unknown {
  return JSON.parse(text, (_key, v) => {
    if (v !== null && typeof v === "object" && !Array.isArray(v)) {
      const keys = Object.keys(v);
      if (keys.length === 1 && typeof v.$float === "string") return Number(v.$float);
      if (keys.length === 1 && typeof v.$bigint === "string") return BigInt(v.$bigint);
    }
    return v;
  });
}
