/**
 * Normalisation layers with PyTorch's parameters, buffers and state dict names: `BatchNorm1d`,
 * `BatchNorm2d` (`weight`, `bias`, `running_mean`, `running_var`, `num_batches_tracked`),
 * `LayerNorm` and `GroupNorm` (`weight`, `bias`). Scales start at 1 and shifts at 0, as in PyTorch.
 *
 * @module
 */
import * as F from "../tensor/functional.ts";
import { fmtShape, Tensor } from "../tensor/mod.ts";
import { Module, parameter } from "./module.ts";

function checkInt(layer: string, name: string, v: unknown, min: number): number {
  if (!Number.isInteger(v) || (v as number) < min) {
    throw new Error(`${layer}: ${name} must be an integer ≥ ${min}, got ${JSON.stringify(v)}`);
  }
  return v as number;
}

function checkNumber(layer: string, name: string, v: unknown, min: number): number {
  if (typeof v !== "number" || !Number.isFinite(v) || v < min) {
    throw new Error(`${layer}: ${name} must be a finite number ≥ ${min}, got ${JSON.stringify(v)}`);
  }
  return v;
}

/** Options of {@linkcode BatchNorm1d} and {@linkcode BatchNorm2d}. */
export interface BatchNormLayerOptions {
  /** Added to the variance before the square root (default 1e-5). */
  eps?: number;
  /**
   * Weight of each batch in the running statistics (default 0.1); `null` for the cumulative
   * moving average, each of the `num_batches_tracked` batches weighing the same.
   */
  momentum?: number | null;
  /** Learn a scale `weight` and a shift `bias` per channel (default true). */
  affine?: boolean;
  /**
   * Keep running statistics for evaluation (default true); without them the layer normalises
   * with the batch's statistics in evaluation too.
   */
  trackRunningStats?: boolean;
}

/** What BatchNorm1d and BatchNorm2d share; they differ in the input ranks they accept. */
abstract class BatchNorm extends Module {
  /** The number of channels C (dim 1 of the input). */
  readonly numFeatures: number;
  /** Added to the variance before the square root. */
  readonly eps: number;
  /** Weight of each batch in the running statistics; null for the cumulative moving average. */
  readonly momentum: number | null;
  /** Whether `weight` and `bias` exist. */
  readonly affine: boolean;
  /** Whether the running statistics exist. */
  readonly trackRunningStats: boolean;
  /** Scale per channel [C] (starts at 1), or null without `affine`. */
  weight: Tensor | null;
  /** Shift per channel [C] (starts at 0), or null without `affine`. */
  bias: Tensor | null;
  /** The buffer `running_mean` [C] (starts at 0), or null without `trackRunningStats`. */
  readonly runningMean: Tensor | null;
  /** The buffer `running_var` [C] (starts at 1), or null without `trackRunningStats`. */
  readonly runningVar: Tensor | null;
  /** The buffer `num_batches_tracked` (int64, rank 0), or null without `trackRunningStats`. */
  readonly numBatchesTracked: Tensor | null;
  readonly #name: string;

  constructor(name: string, numFeatures: number, opts: BatchNormLayerOptions) {
    super();
    F.checkOptionKeys(name, opts, ["eps", "momentum", "affine", "trackRunningStats"]);
    this.#name = name;
    this.numFeatures = checkInt(name, "numFeatures", numFeatures, 1);
    this.eps = checkNumber(name, "eps", opts.eps ?? 1e-5, 0);
    const momentum = opts.momentum === undefined ? 0.1 : opts.momentum;
    this.momentum = momentum === null ? null : checkNumber(name, "momentum", momentum, -Infinity);
    this.affine = opts.affine ?? true;
    this.trackRunningStats = opts.trackRunningStats ?? true;
    this.weight = this.affine ? parameter(Tensor.ones([numFeatures])) : null;
    this.bias = this.affine ? parameter(Tensor.zeros([numFeatures])) : null;
    const track = this.trackRunningStats;
    this.runningMean = this.registerBuffer("running_mean", track ? Tensor.zeros([numFeatures]) : null);
    this.runningVar = this.registerBuffer("running_var", track ? Tensor.ones([numFeatures]) : null);
    this.numBatchesTracked = this.registerBuffer(
      "num_batches_tracked",
      track ? Tensor.zeros([], { dtype: "int64" }) : null,
    );
  }

  /** Throws unless `x` has a rank this layer accepts. */
  protected abstract checkRank(x: Tensor): void;

  /**
   * Normalises `x` [N, C, ...] per channel: in training with the batch's statistics (and moves
   * the running ones), in evaluation with the running ones (the batch's without them).
   */
  forward(x: Tensor): Tensor {
    this.checkRank(x);
    if (x.shape[1] !== this.numFeatures) {
      throw new Error(
        `${this.#name}: input has ${x.shape[1]} channels (shape ${fmtShape(x.shape)}) ` +
          `but the layer expects numFeatures = ${this.numFeatures}`,
      );
    }
    let momentum = this.momentum ?? 0;
    if (this.training && this.numBatchesTracked !== null) {
      incrementInt64(this.numBatchesTracked);
      // The cumulative average reads the count back (a device sync); a fixed momentum does not.
      if (this.momentum === null) momentum = 1 / Number(this.numBatchesTracked.toHost()[0]);
    }
    const useRunning = !this.training || this.trackRunningStats;
    return F.batchNorm(x, useRunning ? this.runningMean : null, useRunning ? this.runningVar : null, {
      weight: this.weight,
      bias: this.bias,
      training: this.training || this.runningMean === null,
      momentum,
      eps: this.eps,
    });
  }
}

/**
 * Adds 1 to a rank-0 int64 tensor in place, on its device (int64 is storage only: the count goes
 * through int32, exact up to 2³¹ − 1 batches).
 */
function incrementInt64(counter: Tensor): void {
  const be = counter._backend;
  const data = counter._data("num_batches_tracked");
  const narrow = be.alloc("int32", 1);
  const next = be.alloc("int32", 1);
  be.cast(narrow, "int32", data, "int64", 1);
  be.scalar("add", next, narrow, 1, 1);
  be.cast(data, "int64", next, "int32", 1);
  be.free(narrow);
  be.free(next);
}

/**
 * Batch normalisation of [N, C] or [N, C, L] inputs, as PyTorch's `nn.BatchNorm1d`.
 *
 * @example
 * ```ts
 * import { nn, Tensor } from "@convnet/convnet";
 * const bn = new nn.BatchNorm1d(16);
 * const y = bn.forward(Tensor.randn([8, 16])); // each column: mean 0, variance 1
 * Object.keys(bn.stateDict()); // weight, bias, running_mean, running_var, num_batches_tracked
 * ```
 */
export class BatchNorm1d extends BatchNorm {
  /** Creates the layer with PyTorch's defaults (eps 1e-5, momentum 0.1, affine, running statistics). */
  constructor(numFeatures: number, opts: BatchNormLayerOptions = {}) {
    super("BatchNorm1d", numFeatures, opts);
  }

  /** [N, C] or [N, C, L]. */
  protected checkRank(x: Tensor): void {
    if (x.rank !== 2 && x.rank !== 3) {
      throw new Error(`BatchNorm1d: expected a 2-d [N, C] or 3-d [N, C, L] input, got shape ${fmtShape(x.shape)}`);
    }
  }
}

/**
 * Batch normalisation of [N, C, H, W] inputs, as PyTorch's `nn.BatchNorm2d`.
 *
 * @example
 * ```ts
 * import { nn, Tensor } from "@convnet/convnet";
 * const bn = new nn.BatchNorm2d(16);
 * bn.forward(Tensor.randn([8, 16, 5, 5])); // training: batch statistics, running ones updated
 * bn.eval();
 * bn.forward(Tensor.randn([1, 16, 5, 5])); // evaluation: the running statistics
 * ```
 */
export class BatchNorm2d extends BatchNorm {
  /** Creates the layer with PyTorch's defaults (eps 1e-5, momentum 0.1, affine, running statistics). */
  constructor(numFeatures: number, opts: BatchNormLayerOptions = {}) {
    super("BatchNorm2d", numFeatures, opts);
  }

  /** [N, C, H, W]. */
  protected checkRank(x: Tensor): void {
    if (x.rank !== 4) {
      throw new Error(`BatchNorm2d: expected a 4-d [N, C, H, W] input, got shape ${fmtShape(x.shape)}`);
    }
  }
}

/** Options of {@linkcode LayerNorm}. */
export interface LayerNormLayerOptions {
  /** Added to the variance before the square root (default 1e-5). */
  eps?: number;
  /** Learn a scale `weight` and a shift `bias` shaped as `normalizedShape` (default true). */
  elementwiseAffine?: boolean;
}

/**
 * Layer normalisation over the trailing `normalizedShape` dims, as PyTorch's `nn.LayerNorm`.
 *
 * @example
 * ```ts
 * import { nn, Tensor } from "@convnet/convnet";
 * const norm = new nn.LayerNorm([5, 5]);
 * norm.forward(Tensor.randn([2, 3, 5, 5])).shape; // [2, 3, 5, 5]
 * ```
 */
export class LayerNorm extends Module {
  /** The trailing dims normalised together. */
  readonly normalizedShape: readonly number[];
  /** Added to the variance before the square root. */
  readonly eps: number;
  /** Scale shaped as `normalizedShape` (starts at 1), or null without `elementwiseAffine`. */
  weight: Tensor | null;
  /** Shift shaped as `normalizedShape` (starts at 0), or null without `elementwiseAffine`. */
  bias: Tensor | null;

  /** Creates the layer with PyTorch's defaults (eps 1e-5, elementwise affine). */
  constructor(normalizedShape: number | readonly number[], opts: LayerNormLayerOptions = {}) {
    super();
    F.checkOptionKeys("LayerNorm", opts, ["eps", "elementwiseAffine"]);
    const shape = typeof normalizedShape === "number" ? [normalizedShape] : [...(normalizedShape ?? [])];
    if (shape.length === 0) throw new Error("LayerNorm: normalizedShape must be a size or a non-empty list of sizes");
    shape.forEach((d, i) => checkInt("LayerNorm", `normalizedShape[${i}]`, d, 1));
    this.normalizedShape = Object.freeze(shape);
    this.eps = checkNumber("LayerNorm", "eps", opts.eps ?? 1e-5, 0);
    const affine = opts.elementwiseAffine ?? true;
    this.weight = affine ? parameter(Tensor.ones(shape)) : null;
    this.bias = affine ? parameter(Tensor.zeros(shape)) : null;
  }

  /** Normalises `x` [..., *normalizedShape]. */
  forward(x: Tensor): Tensor {
    return F.layerNorm(x, this.normalizedShape, { weight: this.weight, bias: this.bias, eps: this.eps });
  }
}

/** Options of {@linkcode GroupNorm}. */
export interface GroupNormLayerOptions {
  /** Added to the variance before the square root (default 1e-5). */
  eps?: number;
  /** Learn a scale `weight` and a shift `bias` per channel (default true). */
  affine?: boolean;
}

/**
 * Group normalisation: the channels split into `numGroups` groups, each normalised per sample,
 * as PyTorch's `nn.GroupNorm`.
 *
 * @example
 * ```ts
 * import { nn, Tensor } from "@convnet/convnet";
 * const norm = new nn.GroupNorm(4, 16);
 * norm.forward(Tensor.randn([2, 16, 5, 5])).shape; // [2, 16, 5, 5]
 * ```
 */
export class GroupNorm extends Module {
  /** The number of groups the channels are split into. */
  readonly numGroups: number;
  /** The number of channels C (dim 1 of the input). */
  readonly numChannels: number;
  /** Added to the variance before the square root. */
  readonly eps: number;
  /** Scale per channel [C] (starts at 1), or null without `affine`. */
  weight: Tensor | null;
  /** Shift per channel [C] (starts at 0), or null without `affine`. */
  bias: Tensor | null;

  /** Creates the layer with PyTorch's defaults (eps 1e-5, affine). */
  constructor(numGroups: number, numChannels: number, opts: GroupNormLayerOptions = {}) {
    super();
    F.checkOptionKeys("GroupNorm", opts, ["eps", "affine"]);
    this.numGroups = checkInt("GroupNorm", "numGroups", numGroups, 1);
    this.numChannels = checkInt("GroupNorm", "numChannels", numChannels, 1);
    if (numChannels % numGroups !== 0) {
      throw new Error(`GroupNorm: numChannels ${numChannels} must be divisible by numGroups ${numGroups}`);
    }
    this.eps = checkNumber("GroupNorm", "eps", opts.eps ?? 1e-5, 0);
    const affine = opts.affine ?? true;
    this.weight = affine ? parameter(Tensor.ones([numChannels])) : null;
    this.bias = affine ? parameter(Tensor.zeros([numChannels])) : null;
  }

  /** Normalises `x` [N, C, ...]. */
  forward(x: Tensor): Tensor {
    if (x.rank < 2 || x.shape[1] !== this.numChannels) {
      throw new Error(
        `GroupNorm: expected input [N, ${this.numChannels}, ...] (numChannels = ${this.numChannels}), ` +
          `got shape ${fmtShape(x.shape)}`,
      );
    }
    return F.groupNorm(x, this.numGroups, { weight: this.weight, bias: this.bias, eps: this.eps });
  }
}
