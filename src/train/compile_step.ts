/**
 * `compileStep`: a training step captured once as a CUDA graph and replayed, so that neither the
 * JavaScript autograd nor the ~20 kernel launches it issues run again per step; one graph launch does
 * the whole forward, backward and optimizer update.
 *
 * Per input signature (shapes and dtypes, so the last, smaller batch of an epoch gets its own):
 * 1. the first call copies its inputs into fixed input tensors and runs `fn` on them eagerly (a real
 *    step, during which the allocator counts the blocks a step asks for: it may not call the driver
 *    during a capture, so it fills its cache with them before capturing);
 * 2. the second copies its inputs into those tensors, captures `fn` on them (nothing runs while
 *    capturing), then launches the graph;
 * 3. every later call copies its inputs (device to device) and launches the graph.
 * A capture that runs out of cached blocks is retried once at the next call, after an eager step.
 *
 * What changes between steps lives in device memory, or is redone around each replay: the
 * optimizers keep their hyper-parameters (the learning rate a scheduler sets, Adam's betas) in device
 * buffers their kernels read when they run, write them before a launch only when one changed (no
 * host-to-device copy per step), and let Adam's kernel advance its own step count; their host
 * bookkeeping (per-parameter `step` counts) runs after each launch. They register this through
 * replay hooks (../backend/_replay.ts) while `fn` is captured. An optimizer without such kernels
 * (Adagrad, RMSprop: elementwise ops taking the values as arguments) marks the graph stale when a
 * value changes, and it is captured again; three recaptures in a row (a value that changes at every
 * step) turn capture off, with one line saying which value.
 *
 * Random ops in `fn` (dropout) are captured too: on CUDA a generator keeps its seed and offset in
 * device memory, the fill kernels read and advance them there, and replay hooks advance the host's
 * offset, so each replay draws the next numbers, those the eager steps would draw.
 *
 * Other host values that `fn` reads at capture time are frozen into the graph: pass `key` a function
 * of them, and the graphs are captured again when its value changes. Reading a value back
 * (`item()`), making a tensor from host data or waiting inside `fn` fails the capture; the step then
 * runs eagerly, with one line saying why. `fn` always runs inside `tidy`: the tensors it makes and
 * does not return are freed when it returns (`keep` what must outlive it).
 *
 * @module
 */
import { keep, type Tensor, tidy } from "../tensor/mod.ts";
import type { CudaBackend, CudaStorage } from "../backend/cuda/mod.ts";
import { recordReplayHooks, type ReplayHooks } from "../backend/_replay.ts";

/** Options of {@linkcode compileStep}. */
export interface CompileStepOptions {
  /** Capture on CUDA (default `true`); `false` runs every call eagerly (the `--no-graph` switch). */
  graph?: boolean;
  /**
   * Host values of your own that `fn` passes to kernels as arguments, as one string or number: when
   * it changes, the graphs are captured again. Default: none (the optimizers need none: see above).
   */
  key?: () => string | number;
  /**
   * Host bookkeeping of your own in `fn` that a replay does not repeat (it runs the kernels only),
   * called after each replay of an already captured graph. The optimizers' step counts need none.
   */
  onReplay?: () => void;
  /** Where the one line explaining an eager fallback goes; default `console.warn`. */
  log?: (line: string) => void;
}

/** What a compiled step did so far. */
export interface CompiledStepInfo {
  /** Graphs captured (one per input signature and `key` value). */
  captures: number;
  /** Calls that replayed a graph. */
  replays: number;
  /** Calls that ran `fn` eagerly (warm-up calls, the CPU, a failed capture). */
  eager: number;
  /** Why capture is off for good, when it is (a failed capture, no CUDA graphs in the library). */
  fallback?: string;
}

/** The step `compileStep` returns: call it as `fn`; `dispose()` frees its graphs and buffers. */
export interface CompiledStep<A extends Tensor[], R extends Tensor | Tensor[] | void> {
  /** Runs one step: a graph replay on CUDA once captured, else `fn` itself. */
  (...inputs: A): R;
  /** Counts of what the calls did. */
  readonly info: CompiledStepInfo;
  /** Destroys the graphs and frees their input and output tensors (do not use those after). */
  dispose(): void;
}

interface Entry<R> {
  /** The fixed input tensors the graph reads. */
  inputs: Tensor[];
  /** The graph, once captured, and the tensors it writes its results to. */
  graph?: Deno.PointerValue;
  outputs?: R;
  /** The host work to repeat around each launch (from the optimizers, recorded at capture). */
  hooks?: ReplayHooks;
  /** Captures that failed for want of a cached block. */
  misses: number;
  /** Recaptures in a row because the graph went stale (a hook said a frozen value changed). */
  stale: number;
}

function signature(inputs: Tensor[]): string {
  return inputs.map((t) => `${t.dtype}[${t.shape.join(",")}]`).join(" ");
}

function outputTensors(r: unknown): Tensor[] {
  if (r === undefined) return [];
  return Array.isArray(r) ? r as Tensor[] : [r as Tensor];
}

/**
 * Compiles a training step: on CUDA, captured as a CUDA graph once per input signature and replayed
 * (see the module's notes); on the CPU, or when capture fails, `fn` runs as written. The tensors a
 * replay returns are the graph's outputs: the same tensors every call, overwritten by the next
 * replay (read them, e.g. `loss.item()`, or `clone()` them, before the next call; never dispose them).
 *
 * @example
 * ```ts
 * import { F, nn, optim, type Tensor, tensor, train } from "@convnet/convnet";
 * const model = new nn.Linear(4, 3);
 * const opt = new optim.Adadelta(model.parameters(), { lr: 1.0 });
 * const step = train.compileStep((x: Tensor, y: Tensor) => {
 *   opt.zeroGrad();
 *   const loss = F.crossEntropy(model.forward(x), y);
 *   loss.backward();
 *   opt.step();
 *   return loss;
 * });
 * const x = tensor([[1, 2, 3, 4], [4, 3, 2, 1]]), y = tensor([0, 2], undefined, { dtype: "int32" });
 * for (let i = 0; i < 3; i++) step(x, y);
 * step.dispose();
 * ```
 */
export function compileStep<A extends Tensor[], R extends Tensor | Tensor[] | void>(
  fn: (...inputs: A) => R,
  opts: CompileStepOptions = {},
): CompiledStep<A, R> {
  const allowed = ["graph", "key", "onReplay", "log"];
  for (const k of Object.keys(opts)) {
    if (!allowed.includes(k)) {
      throw new Error(`compileStep: unknown option ${JSON.stringify(k)}; expected one of ${allowed.join(", ")}`);
    }
  }
  const log = opts.log ?? ((line: string) => console.warn(line));
  const info: CompiledStepInfo = { captures: 0, replays: 0, eager: 0 };
  const entries = new Map<string, Entry<R>>();
  let keyValue: string | number | undefined;
  let backend: CudaBackend | undefined;

  const eager = (inputs: A, trace = false): R => {
    info.eager++;
    if (trace) backend!.library.check(backend!.library.symbols.cn_capture_trace_begin(), "cn_capture_trace_begin");
    return tidy(() => fn(...inputs));
  };
  /** Destroys the graph of `e` (it will be captured again); `all`: its inputs too. */
  const release = (e: Entry<R>, all: boolean): void => {
    if (e.graph) backend!.library.check(backend!.library.symbols.cn_graph_destroy(e.graph), "cn_graph_destroy");
    for (const t of outputTensors(e.outputs)) t.dispose();
    e.graph = undefined;
    e.outputs = undefined;
    e.hooks = undefined;
    if (all) { for (const t of e.inputs) t.dispose(); }
  };
  const copyInto = (e: Entry<R>, inputs: A): void => {
    for (let i = 0; i < inputs.length; i++) {
      const into = e.inputs[i]._data("compileStep") as CudaStorage;
      backend!.copy(into, inputs[i]._data("compileStep") as CudaStorage, inputs[i].size);
    }
  };

  /** Captures `fn` on the entry's inputs; false (and why, logged) when the capture failed. */
  const capture = (e: Entry<R>): boolean => {
    const lib = backend!.library;
    const statics = e.inputs;
    lib.check(lib.symbols.cn_capture_begin(), "cn_capture_begin");
    let outputs: R | undefined;
    let hooks: ReplayHooks | undefined;
    let failure: unknown;
    try {
      [outputs, hooks] = recordReplayHooks(() => tidy(() => fn(...statics as A)));
    } catch (e) {
      failure = e;
    }
    const handle = new BigUint64Array(1);
    const status = lib.symbols.cn_capture_end(handle);
    const endError = status !== 0 ? lib.error(status, "cn_capture_end") : undefined;
    if (failure !== undefined || endError) {
      // Nothing ran: the tensors made while capturing hold no values.
      for (const t of outputTensors(outputs)) if (!t.isDisposed) t.dispose();
      const why = endError?.message ?? (failure instanceof Error ? failure.message : String(failure));
      if (why.includes("neither the cache nor the blocks the capture freed") && e.misses++ === 0) return false;
      info.fallback = `capture of the step failed: ${why}`;
      log(`compileStep: running the step eagerly (${info.fallback})`);
      return false;
    }
    for (const t of outputTensors(outputs)) keep(t);
    info.captures++;
    e.graph = Deno.UnsafePointer.create(handle[0]);
    e.outputs = outputs as R;
    e.hooks = hooks;
    return true;
  };
  /** Runs the entry's before-launch hooks: undefined when all wrote their values, else why the graph is stale. */
  const stale = (e: Entry<R>): string | undefined => {
    for (const hook of e.hooks!.before) {
      const ok = hook();
      if (ok !== true) return ok;
    }
    return undefined;
  };

  const step = ((...inputs: A): R => {
    if (opts.graph === false || info.fallback !== undefined || inputs.length === 0) return eager(inputs);
    const be = inputs[0]._backend as Partial<CudaBackend>;
    if (inputs.some((t) => t.device.type !== "cuda") || !be.library) return eager(inputs);
    if (!("cn_capture_begin" in be.library.symbols)) {
      info.fallback = "the native library has no CUDA graph calls (rebuild it: deno task build:native)";
      log(`compileStep: running the step eagerly (${info.fallback})`);
      return eager(inputs);
    }
    backend = be as CudaBackend;
    if (opts.key) {
      const k = opts.key();
      if (k !== keyValue) {
        for (const e of entries.values()) release(e, false);
        keyValue = k;
      }
    }
    const sig = signature(inputs);
    let e = entries.get(sig);
    if (!e) {
      // The first call: fixed inputs, and an eager step on them that warms the allocator's cache.
      e = { inputs: inputs.map((t) => keep(t.detach().clone())), misses: 0, stale: 0 };
      entries.set(sig, e);
      return eager(e.inputs as A, true);
    }
    copyInto(e, inputs);
    let capturedNow = !e.graph; // fn's host code ran during the capture: no bookkeeping to redo
    if (!e.graph && !capture(e)) return eager(e.inputs as A, info.fallback === undefined);
    const why = stale(e);
    if (why !== undefined) {
      release(e, false);
      if (++e.stale >= 3) {
        info.fallback = `the captured step went stale at 3 calls in a row: ${why}`;
        log(`compileStep: running the step eagerly (${info.fallback})`);
        return eager(e.inputs as A);
      }
      if (!capture(e)) return eager(e.inputs as A, info.fallback === undefined);
      capturedNow = true;
      const again = stale(e);
      if (again !== undefined) throw new Error(`compileStep: a graph captured just now is stale: ${again}`);
    } else if (!capturedNow) {
      e.stale = 0;
    }
    backend.library.check(backend.library.symbols.cn_graph_launch(e.graph!), "cn_graph_launch");
    for (const hook of e.hooks!.after) hook();
    info.replays++;
    if (!capturedNow) opts.onReplay?.();
    return e.outputs!;
  }) as CompiledStep<A, R>;
  Object.defineProperty(step, "info", { get: () => ({ ...info }) });
  step.dispose = () => {
    for (const e of entries.values()) release(e, true);
    entries.clear();
  };
  return step;
}
