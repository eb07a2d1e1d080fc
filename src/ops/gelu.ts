/**
 * `gelu`: x·Φ(x), Φ the standard normal CDF, exact (PyTorch's `approximate="none"`) or with
 * PyTorch's tanh approximation. No backend has an erf kernel, so the exact form computes Φ from
 * erfc by a Chebyshev series (Numerical Recipes 3rd ed., §6.2.2: 28 terms reach float64's
 * precision, the first 12 float32's) and records its own gradient Φ(x) + x·φ(x).
 *
 * @module
 */
import type { TensorBase } from "../autograd/tensor_base.ts";
import { record } from "../autograd/graph.ts";
import { noGrad } from "../autograd/mode.ts";
import { tidy } from "../autograd/tidy.ts";
import { binaryRaw, scalarRaw, whereRaw } from "./_kernels.ts";
import { checkOptionKeys, checkTensor, floatOnly } from "./_util.ts";
import { abs } from "./abs.ts";
import { add } from "./add.ts";
import { exp } from "./exp.ts";
import { mul } from "./mul.ts";
import { sub } from "./sub.ts";
import { tanh } from "./tanh.ts";

/** Options of {@linkcode gelu}. */
export interface GeluOptions {
  /** `"none"` (default): the exact x·Φ(x); `"tanh"`: 0.5·x·(1 + tanh(√(2/π)·(x + 0.044715·x³))). */
  approximate?: "none" | "tanh";
}

/**
 * The Gaussian error linear unit x·Φ(x), elementwise, as PyTorch's `F.gelu`.
 *
 * @example
 * ```ts
 * import { F, tensor } from "@convnet/convnet";
 * F.gelu(tensor([-1, 0, 1])).toArray(); // [-0.1586553, 0, 0.8413447]
 * F.gelu(tensor([1]), { approximate: "tanh" }).item(); // 0.8411920
 * ```
 */
export function gelu<T extends TensorBase>(x: T, opts: GeluOptions = {}): T {
  const op = "gelu";
  checkTensor(op, "input", x);
  checkOptionKeys(op, opts, ["approximate"]);
  const approximate = opts.approximate ?? "none";
  if (approximate !== "none" && approximate !== "tanh") {
    throw new Error(`${op}: approximate must be "none" or "tanh", got ${JSON.stringify(opts.approximate)}`);
  }
  floatOnly(op, x);
  if (approximate === "tanh") {
    // 0.5·x·(1 + tanh(k·(x + c·x³))): a composite, so autograd differentiates it.
    const inner = mul(add(x, mul(mul(mul(x, x), x), 0.044715)), Math.sqrt(2 / Math.PI));
    return mul(mul(x, 0.5), add(tanh(inner), 1));
  }
  const cdf = normalCdf(x);
  const y = binaryRaw("mul", x, cdf);
  return record(
    y,
    [x],
    (g) => {
      // d/dx x·Φ(x) = Φ(x) + x·φ(x), φ(x) = e^(−x²/2) / √(2π)
      const density = mul(exp(mul(mul(x, x), -0.5)), 1 / Math.sqrt(2 * Math.PI));
      return [mul(g, add(cdf, mul(x, density)))];
    },
    op,
    () => cdf.dispose(),
  );
}

/** erfc's Chebyshev coefficients in ty = 4t − 2, t = 2 / (2 + z) (Numerical Recipes 3rd ed., `Erf::cof`). */
const ERFC_COEFFICIENTS = [
  -1.3026537197817094,
  6.4196979235649026e-1,
  1.9476473204185836e-2,
  -9.561514786808631e-3,
  -9.46595344482036e-4,
  3.66839497852761e-4,
  4.2523324806907e-5,
  -2.0278578112534e-5,
  -1.624290004647e-6,
  1.303655835580e-6,
  1.5626441722e-8,
  -8.5238095915e-8,
  6.529054439e-9,
  5.059343495e-9,
  -9.91364156e-10,
  -2.27365122e-10,
  9.6467911e-11,
  2.394038e-12,
  -6.886027e-12,
  8.94487e-13,
  3.13092e-13,
  -1.12708e-13,
  3.81e-16,
  7.106e-15,
  -1.523e-15,
  -9.4e-17,
  1.21e-16,
  -2.8e-17,
];

/**
 * Φ(x) = ½·erfc(−x/√2), without autograd. With z = |x|/√2 ≥ 0,
 * erfc(z) = t·exp(−z² + ½·(c₀ + ty·d₁) − d₂) where d₁, d₂ come from Clenshaw's recurrence;
 * relative error below 1e-8 with 12 terms (float32), 4e-14 with all 28 (float64).
 */
function normalCdf<T extends TensorBase>(x: T): T {
  const terms = x.dtype === "float64" ? ERFC_COEFFICIENTS.length : 12;
  return noGrad(() =>
    tidy(() => {
      const z = mul(abs(x), Math.SQRT1_2);
      const t = scalarRaw("rdiv", add(z, 2), 2);
      const ty = sub(mul(t, 4), 2);
      // Clenshaw: d_j = ty·d_{j+1} − d_{j+2} + c_j, from j = terms − 1 down to 1.
      let d: TensorBase | number = ERFC_COEFFICIENTS[terms - 1], dd: TensorBase | number = 0;
      for (let j = terms - 2; j > 0; j--) {
        const next: TensorBase = typeof dd === "number"
          ? add(mul(ty, d), ERFC_COEFFICIENTS[j] - dd)
          : add(sub(mul(ty, d), dd), ERFC_COEFFICIENTS[j]);
        dd = d;
        d = next;
      }
      const series = sub(mul(add(mul(ty, d), ERFC_COEFFICIENTS[0]), 0.5), dd);
      const erfc = mul(t, exp(sub(series, mul(z, z))));
      const tail = mul(erfc, 0.5); // Φ(−|x|)
      return whereRaw(scalarRaw("lt", x, 0), tail, scalarRaw("rsub", tail, 1));
    })
  );
}
