/**
 * `PhiloxGenerator`: random tensors made on the device by the backends' counter-based Philox
 * fill, so the same seed gives the same numbers on the CPU and on CUDA (a dropout mask is the
 * same on both), nothing is uploaded per call, and the whole state is two numbers (seed and
 * offset) that a checkpoint can save. `manualSeed(s)` also reseeds the global one.
 *
 * On CUDA a generator also keeps its seed and offset in device memory, where the fill kernels read
 * them and advance the offset as the host advances its own: written by the host only when the two
 * disagree (a new seed, a `setState`, draws on another device). Under a CUDA graph capture
 * (`train.compileStep`) the fill is captured with a pointer to that state, and replay hooks advance
 * the host's offset after each launch: a dropout in a replayed step draws a new mask at each
 * replay, the masks the eager steps would draw.
 *
 * @module
 */
import {
  type Backend,
  type Device,
  type DType,
  type RandomFill,
  RNG_STATE_SLOTS,
  type StepKernels,
} from "../backend/backend.ts";
import { addReplayHooks, replayHooksRecording } from "../backend/_replay.ts";
import { cpu } from "../backend/device.ts";
import { checkShape, numel } from "../backend/shape.ts";
import { onManualSeed } from "./random.ts";
import { Tensor } from "./tensor.ts";

/** Options of the {@linkcode PhiloxGenerator} fills. */
export interface PhiloxOptions {
  /** Where the tensor is made (default the CPU). */
  device?: Device;
  /** float32 (default) or float64. */
  dtype?: DType;
}

/**
 * A Philox4x32-10 stream: a 64-bit seed and a counter offset that each fill advances.
 *
 * @example
 * ```ts
 * import { device, PhiloxGenerator } from "@convnet/convnet";
 * const a = new PhiloxGenerator(7).bernoulli([4, 4], 0.5);
 * const b = new PhiloxGenerator(7).bernoulli([4, 4], 0.5, { device: device("cpu") });
 * // a and b hold the same mask; on CUDA too.
 * ```
 */
export class PhiloxGenerator {
  /** The 64-bit key. */
  seed: bigint;
  /** Blocks of four numbers already used; the next fill starts here. */
  offset = 0;

  /** A stream keyed by `seed` (an integer or bigint below 2^64), at offset 0. */
  constructor(seed: number | bigint = 0) {
    this.seed = checkSeed(seed);
  }

  /** Uniform numbers in [low, high) (default [0, 1)). */
  uniform(shape: readonly number[], opts: PhiloxOptions & { low?: number; high?: number } = {}): Tensor {
    return this.#fill("uniform", shape, opts, { low: opts.low ?? 0, high: opts.high ?? 1 });
  }

  /** Normal numbers (default mean 0, std 1; Box–Muller). */
  normal(shape: readonly number[], opts: PhiloxOptions & { mean?: number; std?: number } = {}): Tensor {
    return this.#fill("normal", shape, opts, { low: opts.mean ?? 0, std: opts.std ?? 1 });
  }

  /** 1 with probability `p`, else 0 (a dropout mask keeps with p = 1 − dropout). */
  bernoulli(shape: readonly number[], p: number, opts: PhiloxOptions = {}): Tensor {
    if (typeof p !== "number" || !(p >= 0 && p <= 1)) {
      throw new Error(`PhiloxGenerator.bernoulli: p must be a probability in [0, 1], got ${String(p)}`);
    }
    return this.#fill("bernoulli", shape, opts, { p });
  }

  /** The state (for checkpoints): seed and offset. */
  getState(): { seed: bigint; offset: number } {
    return { seed: this.seed, offset: this.offset };
  }

  /** Restores a state from {@linkcode PhiloxGenerator.getState}. */
  setState(state: { seed: bigint | number; offset: number }): void {
    if (!Number.isSafeInteger(state.offset) || state.offset < 0) {
      throw new Error(`PhiloxGenerator.setState: offset must be a non-negative integer, got ${state.offset}`);
    }
    this.seed = checkSeed(state.seed);
    this.offset = state.offset;
  }

  #fill(
    distribution: RandomFill["distribution"],
    shape: readonly number[],
    opts: PhiloxOptions,
    params: Partial<RandomFill>,
  ): Tensor {
    checkShape(`PhiloxGenerator.${distribution}`, shape);
    const dev = opts.device ?? cpu;
    const dtype = opts.dtype ?? "float32";
    if (dtype !== "float32" && dtype !== "float64") {
      throw new Error(`PhiloxGenerator.${distribution}: dtype must be float32 or float64, got ${dtype}`);
    }
    const size = numel(shape);
    const be = dev.backend as Backend & StepKernels;
    const out = be.alloc(dtype, size);
    const blocks = Math.ceil(size / 4);
    if (be.randomFillState && dtype === "float32" && size > 0) {
      const state = this.#deviceState(be);
      if (replayHooksRecording()) {
        // Captured: the state is written (if stale) before each launch, the offsets advance after it.
        addReplayHooks(() => (state.write(this.seed, this.offset), true), () => {
          this.offset += blocks;
          state.advanced(blocks);
        });
        be.randomFillState(out, size, state.storage, { distribution, ...params });
      } else {
        state.write(this.seed, this.offset);
        be.randomFillState(out, size, state.storage, { distribution, ...params });
        this.offset += blocks;
        state.advanced(blocks);
      }
      return new Tensor(out, shape, dtype, dev);
    }
    be.randomFill(out, size, { distribution, seed: this.seed, offset: this.offset, ...params });
    this.offset += blocks;
    return new Tensor(out, shape, dtype, dev);
  }

  /** The device state on `be` (one per backend this generator fills on). */
  #deviceState(be: Backend & StepKernels): DeviceRngState {
    let st = this.#states.get(be);
    if (!st) {
      st = new DeviceRngState(be);
      this.#states.set(be, st);
      stateRegistry.register(this, st);
    }
    return st;
  }

  #states = new Map<Backend, DeviceRngState>();
}

/** A generator's seed and offset in device memory, and the host's copy of what the device holds. */
class DeviceRngState {
  readonly storage: unknown;
  readonly #be: Backend & StepKernels;
  #seed: bigint | undefined;
  #offset = -1;

  constructor(be: Backend & StepKernels) {
    this.#be = be;
    this.storage = be.alloc("int64", RNG_STATE_SLOTS);
  }

  /** Writes seed and offset unless the device already holds them. */
  write(seed: bigint, offset: number): void {
    if (seed === this.#seed && offset === this.#offset) return;
    this.#be.upload!(this.storage, BigInt64Array.of(BigInt.asIntN(64, seed), BigInt(offset), 0n, 0n));
    this.#seed = seed;
    this.#offset = offset;
  }

  /** A fill kernel advanced the device's offset by `blocks`. */
  advanced(blocks: number): void {
    this.#offset += blocks;
  }

  free(): void {
    this.#be.free(this.storage);
  }
}

/** Frees a collected generator's device states. */
const stateRegistry = new FinalizationRegistry<DeviceRngState>((st) => {
  try {
    st.free();
  } catch {
    // The device was closed: nothing to free.
  }
});

function checkSeed(seed: number | bigint): bigint {
  const s = typeof seed === "bigint" ? seed : Number.isSafeInteger(seed) ? BigInt(seed) : -1n;
  if (s < 0n || s >= 1n << 64n) {
    throw new Error(`PhiloxGenerator: seed must be an integer in [0, 2^64), got ${String(seed)}`);
  }
  return s;
}

const global = new PhiloxGenerator(0);

/**
 * The global Philox stream (reseeded by `manualSeed`), used where no generator is passed.
 *
 * @example
 * ```ts
 * import { manualSeed, philoxGenerator } from "@convnet/convnet";
 * manualSeed(1);
 * const mask = philoxGenerator().bernoulli([8], 0.9);
 * ```
 */
export function philoxGenerator(): PhiloxGenerator {
  return global;
}

onManualSeed((seed) => {
  // Reseeded in place, as PyTorch's default generator: a step captured as a graph keeps drawing from it.
  global.setState({ seed: BigInt.asUintN(64, BigInt(seed)), offset: 0 });
});
