/**
 * An optimizer's hyper-parameters in device memory, and its host bookkeeping under a CUDA graph.
 *
 * The CUDA kernels read the learning rate (and every other hyper-parameter, and Adam's step count)
 * from a small device buffer per batch of parameters, not from their arguments. So a step captured
 * as a graph follows a scheduler: before each replay the buffer is brought up to date, with one
 * 64-byte host-to-device copy only when a value changed (once per epoch under StepLR), and Adam's
 * count is advanced by its kernel itself. The host keeps a mirror of what the device holds, so an
 * unchanged value costs no copy in eager steps either.
 *
 * Outside a capture the buffer is written at once. During one (nothing runs then, and a host copy
 * would fail it), the write and the step counting are registered as replay hooks
 * (../backend/_replay.ts) that run around every launch of the graph.
 *
 * @module
 */
import { type Backend, OPT_HYPER_SLOTS, type StepKernels } from "../backend/backend.ts";
import { addReplayHooks, replayHooksRecording } from "../backend/_replay.ts";
import type { Tensor } from "../tensor/mod.ts";

/** One batch's device buffer and the host's copy of what it holds. */
class HyperBuffer {
  /** The device storage (int64 elements holding the doubles' bits). */
  readonly storage: unknown;
  /** The backend that holds it. */
  readonly be: Backend & StepKernels;
  /** What the device holds, as far as the host knows (NaN: never written). */
  readonly #mirror = new Float64Array(OPT_HYPER_SLOTS).fill(NaN);

  constructor(be: Backend & StepKernels) {
    this.be = be;
    this.storage = be.alloc("int64", OPT_HYPER_SLOTS);
  }

  /** Writes `values` (the leading slots) unless the device already holds them. */
  write(values: readonly number[]): void {
    const m = this.#mirror;
    if (values.every((v, i) => Object.is(m[i], v))) return;
    m.fill(0);
    m.set(values);
    this.be.upload!(this.storage, new BigInt64Array(m.buffer));
  }

  /** Slot `i` was advanced by one on the device (Adam's step count, by its kernel). */
  advanced(i: number): void {
    this.#mirror[i] += 1;
  }

  free(): void {
    this.be.free(this.storage);
  }
}

/**
 * The device hyper-parameter buffers of one optimizer, one per batch (keyed by the batch's first
 * parameter), and its step counting, graph-aware.
 */
export class DeviceHyper {
  readonly #buffers = new Map<Tensor, HyperBuffer>();

  /**
   * The storage to pass as the kernel's `hyper`, holding `values()` when the kernel runs; undefined
   * where the backend reads host values (no `upload`: the CPU backends). `counter`: the slot the
   * kernel advances by one each launch (Adam's steps taken).
   */
  storageFor(params: Tensor[], values: () => number[], counter?: number): unknown {
    const be = params[0]._backend as Backend & StepKernels;
    if (!be.upload) return undefined;
    let b = this.#buffers.get(params[0]);
    if (b?.be !== be) {
      b?.free(); // the parameters moved to another device
      b = new HyperBuffer(be);
      this.#buffers.set(params[0], b);
    }
    if (replayHooksRecording()) {
      // Nothing runs during a capture: write before each launch of the graph, count after it.
      addReplayHooks(() => (b.write(values()), true), counter === undefined ? undefined : () => b.advanced(counter));
      return b.storage;
    }
    b.write(values());
    if (counter !== undefined) b.advanced(counter); // the launch the caller makes next advances it
    return b.storage;
  }
}

/**
 * Advances the step counts of `states` by one: now, or, during a capture, after each launch of the
 * graph (the captured code runs once; the graph's launches are the steps).
 */
export function countSteps(states: { step?: number }[]): void {
  const count = () => {
    for (const s of states) s.step = (s.step ?? 0) + 1;
  };
  if (replayHooksRecording()) addReplayHooks(undefined, count);
  else count();
}

/**
 * During a capture, the host values `values()` that kernels take as arguments (a composite
 * optimizer's learning rate, on the CUDA backend) or that decide which kernels run: when they
 * change, the graph must be captured again, which the hook tells the graph's launcher, naming
 * `what`. Outside a capture, nothing.
 */
export function frozenInGraph(what: string, values: () => unknown[]): void {
  if (!replayHooksRecording()) return;
  const captured = JSON.stringify(values());
  addReplayHooks(() => {
    const now = JSON.stringify(values());
    return now === captured || `${what} changed from ${captured} to ${now}`;
  });
}
