/**
 * `dropout` and `dropout2d`: in training, zero each element (or each whole channel) with
 * probability p and scale the rest by 1 / (1 − p), as PyTorch; the identity in eval mode or with
 * p = 0, zeros with p = 1. The mask is drawn on the input's device by a {@linkcode PhiloxGenerator}
 * (the global one unless given), so a seed gives the same mask on the CPU and on CUDA; it cannot
 * equal PyTorch's, whose CPU stream is MT19937. The gradient is the mask times 1 / (1 − p).
 *
 * @module
 */
import type { TensorBase } from "../autograd/tensor_base.ts";
import { record } from "../autograd/graph.ts";
import { fmtShape } from "../backend/shape.ts";
import { PhiloxGenerator, philoxGenerator } from "../tensor/philox.ts";
import { binaryRaw, scalarRaw } from "./_kernels.ts";
import { checkOptionKeys, checkTensor, floatOnly } from "./_util.ts";
import { mul } from "./mul.ts";

/** Options of {@linkcode dropout} and {@linkcode dropout2d}. */
export interface DropoutOptions {
  /** The probability of zeroing an element (a channel for `dropout2d`); default 0.5. */
  p?: number;
  /** Drop only when true (default); false is the identity, as a module in eval mode. */
  training?: boolean;
  /** The stream the mask is drawn from (default: the global one, `philoxGenerator()`, reseeded by `manualSeed`). */
  generator?: PhiloxGenerator;
}

/**
 * Zeroes each element with probability `p` and scales the others by 1 / (1 − p), as PyTorch's
 * `F.dropout`; returns `x` itself when not training or when p = 0.
 *
 * @example
 * ```ts
 * import { F, PhiloxGenerator, Tensor } from "@convnet/convnet";
 * const y = F.dropout(Tensor.ones([2, 4]), { p: 0.25, generator: new PhiloxGenerator(1) });
 * // each value is 0 or 1 / 0.75; about three in four are kept
 * F.dropout(Tensor.ones([3]), { training: false }).toArray(); // [1, 1, 1]
 * ```
 */
export function dropout<T extends TensorBase>(x: T, opts: DropoutOptions = {}): T {
  const { p, training, generator } = dropoutOptions("dropout", x, opts);
  return drop("dropout", x, x.shape, p, training, generator);
}

/**
 * Zeroes whole channels of `x` ([N, C, H, W], or one image [C, H, W]) with probability `p` and
 * scales the others by 1 / (1 − p), as PyTorch's `F.dropout2d`; returns `x` itself when not
 * training or when p = 0. (PyTorch 1.13 reads a 3-d input as [N, C, L] and warns; this follows its
 * documentation, one image [C, H, W].)
 *
 * @example
 * ```ts
 * import { F, PhiloxGenerator, Tensor } from "@convnet/convnet";
 * const y = F.dropout2d(Tensor.ones([2, 3, 4, 4]), { p: 0.5, generator: new PhiloxGenerator(1) });
 * // each of the 2 × 3 channels is all 0 or all 2
 * ```
 */
export function dropout2d<T extends TensorBase>(x: T, opts: DropoutOptions = {}): T {
  const op = "dropout2d";
  const { p, training, generator } = dropoutOptions(op, x, opts);
  if (x.rank !== 3 && x.rank !== 4) {
    throw new Error(`${op}: input must be 4-d [N, C, H, W] or 3-d [C, H, W], got shape ${fmtShape(x.shape)}`);
  }
  const channels = x.rank === 4 ? [x.shape[0], x.shape[1], 1, 1] : [x.shape[0], 1, 1];
  return drop(op, x, channels, p, training, generator);
}

function dropoutOptions(op: string, x: TensorBase, opts: DropoutOptions): Required<DropoutOptions> {
  checkTensor(op, "input", x);
  if (opts === null || typeof opts !== "object") {
    throw new Error(`${op}: expected options { p?, training?, generator? }, got ${String(opts)}`);
  }
  checkOptionKeys(op, opts, ["p", "training", "generator"]);
  const p = opts.p ?? 0.5;
  if (typeof p !== "number" || !(p >= 0 && p <= 1)) {
    throw new Error(`${op}: p must be a probability in [0, 1], got ${String(opts.p)}`);
  }
  const training = opts.training ?? true;
  if (typeof training !== "boolean") throw new Error(`${op}: training must be a boolean, got ${String(training)}`);
  const generator = opts.generator ?? philoxGenerator();
  if (!(generator instanceof PhiloxGenerator)) {
    throw new Error(
      `${op}: generator must be a PhiloxGenerator (the device-side stream), got ${
        (generator as object)?.constructor?.name ?? String(generator)
      }`,
    );
  }
  floatOnly(op, x);
  return { p, training, generator };
}

/** `x` times a mask of `maskShape` (broadcast over `x`) holding 0 or 1 / (1 − p). */
function drop<T extends TensorBase>(
  op: string,
  x: T,
  maskShape: readonly number[],
  p: number,
  training: boolean,
  generator: PhiloxGenerator,
): T {
  if (!training || p === 0 || x.size === 0) return x;
  if (p === 1) return mul(x, 0);
  const keep = generator.bernoulli(maskShape, 1 - p, { device: x.device, dtype: x.dtype });
  // PyTorch's CPU dropout: noise = bernoulli(1 − p) / (1 − p), y = x · noise.
  const noise = scalarRaw("div", keep, 1 - p);
  keep.dispose();
  const y = binaryRaw("mul", x, noise);
  return record(y, [x], (g) => [mul(g, noise)], op, () => noise.dispose());
}
