/**
 * Functional ops of a CNN, with PyTorch's semantics and names (`F.conv2d`, `F.maxPool2d`, ...).
 * Each checks its arguments, runs a backend kernel, and records its backward kernels.
 *
 * @module
 */
import { conv2dGeometry, type Pool2dGeometry, type PoolKind } from "../backend/backend.ts";
import { fmtShape, gemmOp, makeResult, sameDevice, Tensor } from "./tensor.ts";

/** A size given once for both dimensions, or as `[height, width]`. */
export type Size2 = number | readonly [number, number];

/** Options of {@linkcode conv2d}. */
export interface Conv2dOptions {
  /** Step between windows (default 1). */
  stride?: Size2;
  /** Zeros added on each side (default 0). */
  padding?: Size2;
  /** Spacing between kernel taps (default 1). */
  dilation?: Size2;
  /** Channel groups: input and output channels split into this many independent convolutions (default 1). */
  groups?: number;
}

/** Options of the poolings. */
export interface Pool2dOptions {
  /** Window size. */
  kernelSize: Size2;
  /** Step between windows (default: the kernel size). */
  stride?: Size2;
  /** Implicit padding on each side (−∞ for max, 0 for average and sum); at most half the kernel (default 0). */
  padding?: Size2;
}

/** Throws on option keys the op does not know (a typo must not be silently ignored). */
export function checkOptionKeys(op: string, opts: object, allowed: readonly string[]): void {
  for (const key of Object.keys(opts)) {
    if (!allowed.includes(key)) {
      throw new Error(`${op}: unknown option "${key}"; expected one of ${allowed.join(", ")}`);
    }
  }
}

/** Reads a `Size2` option as `[h, w]`, checking it is an integer ≥ `min`. */
export function pair(op: string, name: string, v: Size2 | undefined, fallback: Size2, min: number): [number, number] {
  const val = v ?? fallback;
  const p: readonly unknown[] | null = typeof val === "number" ? [val, val] : Array.isArray(val) ? val : null;
  if (!p || p.length !== 2 || !p.every((x) => Number.isInteger(x) && (x as number) >= min)) {
    throw new Error(
      `${op}: ${name} must be an integer ≥ ${min} or a pair [h, w] of them, got ${JSON.stringify(val)}`,
    );
  }
  return [p[0] as number, p[1] as number];
}

function checkRank(op: string, arg: string, t: Tensor, rank: number, layout: string): void {
  if (!(t instanceof Tensor)) throw new Error(`${op}: ${arg} must be a Tensor, got ${String(t)}`);
  if (t.rank !== rank) {
    throw new Error(`${op}: ${arg} must be ${rank}-d ${layout}, got shape ${fmtShape(t.shape)}`);
  }
}

function checkFloat(op: string, arg: string, t: Tensor, dtype?: string): void {
  if (t.dtype === "int32") throw new Error(`${op}: ${arg} must be a float tensor, got int32 ${fmtShape(t.shape)}`);
  if (dtype && t.dtype !== dtype) {
    throw new Error(`${op}: ${arg} is ${t.dtype} but the input is ${dtype}; expected the same dtype`);
  }
}

/**
 * 2-d convolution (cross-correlation, as in PyTorch) of `x` [N, C, H, W] with `weight`
 * [K, C / groups, kH, kW], plus an optional `bias` [K]. Output [N, K, oH, oW] with
 * oH = ⌊(H + 2·padH − dilH·(kH − 1) − 1) / strideH⌋ + 1.
 *
 * @example
 * ```ts
 * import { F, Tensor } from "../../mod.ts";
 * const x = Tensor.randn([1, 1, 28, 28]);
 * const w = Tensor.randn([16, 1, 3, 3]);
 * const y = F.conv2d(x, w, null, { stride: 1, padding: 1 }); // [1, 16, 28, 28]
 * ```
 */
export function conv2d(x: Tensor, weight: Tensor, bias: Tensor | null = null, opts: Conv2dOptions = {}): Tensor {
  const op = "conv2d";
  checkOptionKeys(op, opts, ["stride", "padding", "dilation", "groups"]);
  checkRank(op, "input", x, 4, "[N, C, H, W]");
  checkRank(op, "weight", weight, 4, "[outChannels, inChannels / groups, kH, kW]");
  checkFloat(op, "input", x);
  checkFloat(op, "weight", weight, x.dtype);
  const [strideH, strideW] = pair(op, "stride", opts.stride, 1, 1);
  const [padH, padW] = pair(op, "padding", opts.padding, 0, 0);
  const [dilationH, dilationW] = pair(op, "dilation", opts.dilation, 1, 1);
  const groups = opts.groups ?? 1;
  if (!Number.isInteger(groups) || groups < 1) {
    throw new Error(`${op}: groups must be a positive integer, got ${JSON.stringify(opts.groups)}`);
  }
  const [n, c, h, w] = x.shape;
  const [k, cg, kh, kw] = weight.shape;
  if (k % groups !== 0) {
    throw new Error(`${op}: weight has ${k} output channels, not divisible by groups ${groups}`);
  }
  if (cg * groups !== c) {
    const expects = groups === 1 ? `${cg}` : `${cg} × groups ${groups} = ${cg * groups}`;
    throw new Error(
      `${op}: input has ${c} channels but weight expects ${expects} (weight shape ${fmtShape(weight.shape)})`,
    );
  }
  if (bias !== null && bias !== undefined) {
    if (!(bias instanceof Tensor) || bias.rank !== 1 || bias.shape[0] !== k) {
      throw new Error(
        `${op}: bias must have shape [${k}], got ${bias instanceof Tensor ? fmtShape(bias.shape) : bias}`,
      );
    }
    checkFloat(op, "bias", bias, x.dtype);
    sameDevice(op, x, weight, bias);
  } else sameDevice(op, x, weight);
  const effH = dilationH * (kh - 1) + 1, effW = dilationW * (kw - 1) + 1;
  if (effH > h + 2 * padH || effW > w + 2 * padW) {
    throw new Error(
      `${op}: kernel ${kh}×${kw} (dilation ${dilationH}×${dilationW}, spanning ${effH}×${effW}) is larger than ` +
        `the padded input ${h + 2 * padH}×${w + 2 * padW} (input ${h}×${w}, padding ${padH}×${padW})`,
    );
  }
  const g = conv2dGeometry(n, c, h, w, k, kh, kw, {
    stride: [strideH, strideW],
    padding: [padH, padW],
    dilation: [dilationH, dilationW],
    groups,
  });
  const { oh, ow } = g;
  const be = x._backend;
  const y = be.alloc(x.dtype, n * k * oh * ow);
  be.conv2dForward(y, x._data(op), weight._data(op), bias ? bias._data(op) : null, g);
  const inputs = bias ? [x, weight, bias] : [x, weight];
  return makeResult(y, [n, k, oh, ow], x.dtype, x.device, inputs, (dy) => {
    const grads: (Tensor | null)[] = [null, null, null];
    if (x.requiresGrad) {
      const dx = be.alloc(x.dtype, x.size);
      be.conv2dBackwardInput(dx, dy._data(op), weight._data(op), g);
      grads[0] = new Tensor(dx, x.shape, x.dtype, x.device);
    }
    if (weight.requiresGrad) {
      const dw = be.alloc(x.dtype, weight.size);
      be.conv2dBackwardWeight(dw, dy._data(op), x._data(op), g);
      grads[1] = new Tensor(dw, weight.shape, x.dtype, x.device);
    }
    if (bias?.requiresGrad) {
      const db = be.alloc(x.dtype, k);
      be.conv2dBackwardBias(db, dy._data(op), g);
      grads[2] = new Tensor(db, bias.shape, x.dtype, x.device);
    }
    return grads.slice(0, inputs.length);
  }, op);
}

/**
 * max(x, 0), elementwise.
 *
 * @example
 * ```ts
 * import { F, tensor } from "../../mod.ts";
 * F.relu(tensor([-1, 0.5])).toArray(); // [0, 0.5]
 * ```
 */
export function relu(x: Tensor): Tensor {
  return x.relu();
}

function pool2d(kind: PoolKind, op: string, x: Tensor, opts: Pool2dOptions): Tensor {
  if (opts === undefined || opts === null || typeof opts !== "object") {
    throw new Error(`${op}: options { kernelSize, stride?, padding? } are required`);
  }
  checkOptionKeys(op, opts, ["kernelSize", "stride", "padding"]);
  checkRank(op, "input", x, 4, "[N, C, H, W]");
  checkFloat(op, "input", x);
  if (opts.kernelSize === undefined) throw new Error(`${op}: kernelSize is required`);
  const [kh, kw] = pair(op, "kernelSize", opts.kernelSize, 1, 1);
  const [strideH, strideW] = pair(op, "stride", opts.stride, [kh, kw], 1);
  const [padH, padW] = pair(op, "padding", opts.padding, 0, 0);
  if (padH * 2 > kh || padW * 2 > kw) {
    throw new Error(
      `${op}: padding ${padH}×${padW} is more than half the kernel ${kh}×${kw}; expected padding ≤ kernel / 2`,
    );
  }
  const [n, c, h, w] = x.shape;
  if (kh > h + 2 * padH || kw > w + 2 * padW) {
    throw new Error(
      `${op}: kernel ${kh}×${kw} is larger than the padded input ${h + 2 * padH}×${w + 2 * padW} ` +
        `(input ${h}×${w}, padding ${padH}×${padW})`,
    );
  }
  const oh = Math.floor((h + 2 * padH - kh) / strideH) + 1;
  const ow = Math.floor((w + 2 * padW - kw) / strideW) + 1;
  const g: Pool2dGeometry = { n, c, h, w, kh, kw, oh, ow, strideH, strideW, padH, padW };
  const be = x._backend;
  const size = n * c * oh * ow;
  const y = be.alloc(x.dtype, size);
  const indices = kind === "max" ? be.alloc("int32", size) : null;
  be.pool2dForward(kind, y, indices, x._data(op), g);
  return makeResult(
    y,
    [n, c, oh, ow],
    x.dtype,
    x.device,
    [x],
    (dy) => {
      const dx = be.alloc(x.dtype, x.size);
      be.pool2dBackward(kind, dx, dy._data(op), indices, g);
      return [new Tensor(dx, x.shape, x.dtype, x.device)];
    },
    op,
    indices === null ? undefined : () => be.free(indices),
  );
}

/**
 * Max pooling over windows of `kernelSize` (stride defaults to the kernel; padding counts as −∞).
 *
 * @example
 * ```ts
 * import { F, Tensor } from "../../mod.ts";
 * const y = F.maxPool2d(Tensor.randn([1, 16, 28, 28]), { kernelSize: 2, stride: 2 }); // [1, 16, 14, 14]
 * ```
 */
export function maxPool2d(x: Tensor, opts: Pool2dOptions): Tensor {
  return pool2d("max", "maxPool2d", x, opts);
}

/**
 * Average pooling; windows overlapping the padding divide by the full window size
 * (PyTorch's default `count_include_pad=True`).
 *
 * @example
 * ```ts
 * import { F, Tensor } from "../../mod.ts";
 * const y = F.avgPool2d(Tensor.ones([1, 1, 4, 4]), { kernelSize: 2 }); // all ones, [1, 1, 2, 2]
 * ```
 */
export function avgPool2d(x: Tensor, opts: Pool2dOptions): Tensor {
  return pool2d("avg", "avgPool2d", x, opts);
}

/**
 * Sum pooling: the sum over each window (padding counts as 0).
 *
 * @example
 * ```ts
 * import { F, Tensor } from "../../mod.ts";
 * const y = F.sumPool2d(Tensor.ones([1, 1, 4, 4]), { kernelSize: 2 }); // all fours, [1, 1, 2, 2]
 * ```
 */
export function sumPool2d(x: Tensor, opts: Pool2dOptions): Tensor {
  return pool2d("sum", "sumPool2d", x, opts);
}

/**
 * `y = x · weightᵀ + bias` for `x` [..., in], `weight` [out, in], `bias` [out].
 *
 * @example
 * ```ts
 * import { F, Tensor } from "../../mod.ts";
 * const y = F.linear(Tensor.randn([10, 3136]), Tensor.randn([10, 3136]), Tensor.zeros([10])); // [10, 10]
 * ```
 */
export function linear(x: Tensor, weight: Tensor, bias: Tensor | null = null): Tensor {
  const op = "linear";
  checkRank(op, "weight", weight, 2, "[outFeatures, inFeatures]");
  if (!(x instanceof Tensor) || x.rank < 1) {
    throw new Error(`${op}: input must be a Tensor of shape [..., ${weight.shape[1]}], got ${String(x)}`);
  }
  checkFloat(op, "input", x);
  checkFloat(op, "weight", weight, x.dtype);
  const [out, inF] = weight.shape;
  const last = x.shape[x.rank - 1];
  if (last !== inF) {
    throw new Error(
      `${op}: input has ${last} features (shape ${fmtShape(x.shape)}) but weight expects ${inF} ` +
        `(weight shape ${fmtShape(weight.shape)})`,
    );
  }
  if (bias) {
    if (bias.rank !== 1 || bias.shape[0] !== out) {
      throw new Error(`${op}: bias must have shape [${out}], got ${fmtShape(bias.shape)}`);
    }
    checkFloat(op, "bias", bias, x.dtype);
  }
  const x2 = x.rank === 2 ? x : x.view([-1, inF]);
  const rows = x2.shape[0];
  let y = gemmOp(op, x2, weight, false, true, [rows, out], (g) => [
    x2.requiresGrad ? gemmOp(op, g, weight, false, false, [rows, inF]) : null,
    weight.requiresGrad ? gemmOp(op, g, x2, true, false, [out, inF]) : null,
  ]);
  if (bias) y = y.add(bias);
  return x.rank === 2 ? y : y.view([...x.shape.slice(0, -1), out]);
}

/**
 * Cross-entropy between `logits` [N, C] and int32 class indices `targets` [N], averaged over
 * the batch: a fused, numerically stable log-softmax + negative log-likelihood. A target
 * outside [0, C) is an error.
 *
 * @example
 * ```ts
 * import { F, tensor } from "../../mod.ts";
 * const logits = tensor([[2, 0.5, -1], [0, 1, 0]], undefined, { requiresGrad: true });
 * const loss = F.crossEntropy(logits, tensor([0, 1], [2], { dtype: "int32" }));
 * loss.backward();
 * ```
 */
export function crossEntropy(logits: Tensor, targets: Tensor): Tensor {
  const op = "crossEntropy";
  checkRank(op, "logits", logits, 2, "[N, C]");
  checkFloat(op, "logits", logits);
  if (!(targets instanceof Tensor) || targets.dtype !== "int32") {
    throw new Error(
      `${op}: targets must be an int32 tensor of class indices, got ${
        targets instanceof Tensor ? `${targets.dtype} ${fmtShape(targets.shape)}` : String(targets)
      }`,
    );
  }
  const [n, c] = logits.shape;
  if (targets.rank !== 1 || targets.shape[0] !== n) {
    throw new Error(
      `${op}: targets must have shape [${n}] (one class per row of logits), got ${fmtShape(targets.shape)}`,
    );
  }
  if (n === 0) throw new Error(`${op}: the batch is empty (logits ${fmtShape(logits.shape)})`);
  sameDevice(op, logits, targets);
  const be = logits._backend;
  const loss = be.alloc(logits.dtype, 1);
  const logp = be.alloc(logits.dtype, n * c);
  try {
    be.logSoftmaxNllForward(loss, logp, logits._data(op), targets._data(op), n, c);
  } catch (e) {
    be.free(loss);
    be.free(logp);
    throw e;
  }
  return makeResult(
    loss,
    [],
    logits.dtype,
    logits.device,
    [logits],
    (g) => {
      const d = be.alloc(logits.dtype, n * c);
      be.logSoftmaxNllBackward(d, logp, targets._data(op), g._data(op), n, c);
      return [new Tensor(d, logits.shape, logits.dtype, logits.device)];
    },
    op,
    () => be.free(logp),
  );
}
