/**
 * The cases of the fused conv2d + bias + ReLU + max-pool op's tests (tests/cpu_fused_test.ts on
 * the CPU backends, tests/cuda_step_test.ts on CUDA): geometries, seeded inputs, one run of the
 * fused op or of the three ops with its gradients, and the bit-for-bit comparison of two runs.
 *
 * @module
 */
import { F, manualSeed, Tensor, tensor } from "../mod.ts";
import type { Device } from "../src/backend/backend.ts";
import { conv2dReluMaxPool2d } from "../src/ops/_conv_relu_pool.ts";
import type { Conv2dOptions, Pool2dOptions } from "../src/ops/_conv_pool_checks.ts";
import { assertEquals } from "./_std.ts";

export type Floats = Float32Array | Float64Array;

/** Fails unless `got` and `want` hold the same bits, listing the first differences. */
export function assertBitEqual(got: Floats, want: Floats, label: string): void {
  assertEquals(got.constructor.name, want.constructor.name, `${label}: element type`);
  assertEquals(got.length, want.length, `${label}: length`);
  const g = new Uint8Array(got.buffer, got.byteOffset, got.byteLength);
  const w = new Uint8Array(want.buffer, want.byteOffset, want.byteLength);
  const bad: string[] = [];
  let count = 0;
  const width = got.BYTES_PER_ELEMENT;
  for (let i = 0; i < got.length; i++) {
    for (let b = 0; b < width; b++) {
      if (g[i * width + b] !== w[i * width + b]) {
        if (++count <= 5) bad.push(`[${i}] ${got[i]} vs ${want[i]}`);
        break;
      }
    }
  }
  if (count > 0) {
    throw new Error(`${label}: ${count} of ${got.length} elements differ in their bits: ${bad.join(", ")}`);
  }
}

export interface Case {
  name: string;
  x: number[];
  k: number;
  kernel: number | [number, number];
  conv: Conv2dOptions;
  pool: Pool2dOptions;
  bias?: boolean;
  /** Makes ties, exact zeros and NaNs: weight entries zeroed, input entries set. */
  special?: boolean;
}

export const CASES: Case[] = [
  { name: "the seed's block", x: [3, 1, 28, 28], k: 16, kernel: 3, conv: { padding: 1 }, pool: { kernelSize: 2 } },
  {
    name: "odd sizes, 3 channels, one-pass kernels",
    x: [2, 3, 7, 9],
    k: 5,
    kernel: 3,
    conv: { stride: 1, padding: 1 },
    pool: { kernelSize: 2, stride: 2 },
    special: true,
  },
  {
    name: "a 2×3 input, no bias",
    x: [1, 2, 2, 3],
    k: 1,
    kernel: 3,
    conv: { padding: 1 },
    pool: { kernelSize: 2 },
    bias: false,
  },
  {
    name: "5×5 stride 2, overlapping 3×3 pooling with padding",
    x: [2, 2, 11, 10],
    k: 3,
    kernel: 5,
    conv: { stride: 2, padding: 2 },
    pool: { kernelSize: 3, stride: 2, padding: 1 },
    special: true,
  },
  {
    name: "3×3 padding 1, 2×3 pooling with stride [1, 2]",
    x: [2, 1, 6, 7],
    k: 2,
    kernel: 3,
    conv: { padding: 1 },
    pool: { kernelSize: [2, 3], stride: [1, 2] },
  },
  {
    name: "3→19 channels (R = 27), odd planes, overlapping 3×3/s2/p1 windows, zeros and a NaN",
    x: [2, 3, 11, 13],
    k: 19,
    kernel: 3,
    conv: { padding: 1 },
    pool: { kernelSize: 3, stride: 2, padding: 1 },
    special: true,
  },
  {
    name: "2→5 channels of 5×5 (R = 50: conv, ReLU, pool one by one), stride 2, 2×2/s1",
    x: [2, 2, 12, 9],
    k: 5,
    kernel: 5,
    conv: { stride: 2, padding: 2 },
    pool: { kernelSize: 2, stride: 1 },
  },
];

export interface Run {
  y: Floats;
  dx: Floats;
  dw: Floats;
  db: Floats | null;
}

/** Inputs of a case, the same numbers every call (seeded), as host arrays. */
export function inputs(
  c: Case,
): { x: Float32Array; w: Float32Array; b: Float32Array | null; dy: (n: readonly number[]) => Tensor } {
  manualSeed(7);
  const [n, ch, ,] = c.x;
  const [kh, kw] = typeof c.kernel === "number" ? [c.kernel, c.kernel] : c.kernel;
  const x = Tensor.randn(c.x).toArray() as Float32Array;
  const w = Tensor.randn([c.k, ch, kh, kw]).mul(0.5).toArray() as Float32Array;
  const b = c.bias === false ? null : Tensor.randn([c.k]).mul(0.3).toArray() as Float32Array;
  if (c.special) {
    // Whole zero filters: every output of channel 0 is its bias or 0 (ties in every window);
    // a zero bias makes them −0/+0; a NaN in the input propagates through its windows.
    w.fill(0, 0, ch * kh * kw);
    if (b) b[0] = 0;
    x[n > 1 ? x.length / n + 5 : 5] = NaN;
  }
  return { x, w, b, dy: (shape) => Tensor.randn(shape) };
}

/** The op (fused where the device has the passes) or the three ops, with gradients for a seeded upstream gradient. */
export function run(c: Case, dev: Device, dtype: "float32" | "float64", how: "fused" | "ops"): Run {
  const data = inputs(c);
  const t = (a: Float32Array, shape: number[]) =>
    tensor(dtype === "float64" ? Float64Array.from(a) : a, shape, { device: dev, requiresGrad: true });
  const [kh, kw] = typeof c.kernel === "number" ? [c.kernel, c.kernel] : c.kernel;
  const x = t(data.x, c.x), w = t(data.w, [c.k, c.x[1], kh, kw]);
  const b = data.b && t(data.b, [c.k]);
  const y = how === "fused"
    ? conv2dReluMaxPool2d(x, w, b, c.conv, c.pool)
    : F.maxPool2d(F.relu(F.conv2d(x, w, b, c.conv)), c.pool);
  manualSeed(11);
  const g = data.dy(y.shape).toArray() as Float32Array;
  y.mul(tensor(dtype === "float64" ? Float64Array.from(g) : g, y.shape, { device: dev })).sum().backward();
  const arr = (v: Tensor | null) => v && v.toArray() as Floats;
  return { y: arr(y)!, dx: arr(x.grad)!, dw: arr(w.grad)!, db: arr(b?.grad ?? null) };
}

export function assertSameRun(got: Run, want: Run, label: string): void {
  assertBitEqual(got.y, want.y, `${label}: output`);
  assertBitEqual(got.dx, want.dx, `${label}: input gradient`);
  assertBitEqual(got.dw, want.dw, `${label}: weight gradient`);
  if (want.db) assertBitEqual(got.db!, want.db, `${label}: bias gradient`);
  else assertEquals(got.db, null, `${label}: no bias gradient`);
}
