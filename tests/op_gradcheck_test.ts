/**
 * Every differentiable op's gradient against float64 central finite differences, on every case of
 * tests/fixtures/tensor_ops.json that has gradients: the analytic gradient of sum(output · w), w the
 * case's grad_output, must match (f(x + h) − f(x − h)) / 2h within 1e-6 + 1e-5·|g|. Elements at a
 * kink (where the one-sided differences disagree: clamp's bounds, max's ties) are skipped.
 */
import { noGrad, type Tensor, tensor } from "../mod.ts";
import { callOp, type Case, fixture, type Inputs } from "./_op_cases.ts";

const H = 1e-6;
/** Points where PyTorch's gradient follows a convention rather than the derivative: clamp passes it on the bounds. */
const CONVENTIONS: Record<string, (c: Case, value: number) => boolean> = {
  clamp: (c, v) => v === c.args.min || v === c.args.max,
};
/** At most this many elements of each input are perturbed (spread evenly over the input). */
const SAMPLES = 24;

function inputs(c: Case, grad: boolean): Inputs {
  const out: Inputs = {};
  for (const [k, v] of Object.entries(c.inputs)) {
    const float = v.dtype === undefined;
    out[k] = tensor(v.data, v.shape, {
      dtype: float ? "float64" : "int32",
      requiresGrad: grad && float && k in (c.grads ?? {}),
    });
  }
  return out;
}

/** sum(output · w) over every output, as a number. */
function objective(c: Case, x: Inputs): number {
  const outs = [callOp(c, x)].flat() as Tensor[];
  const ws = [c.grad_output!].flat();
  return outs.reduce((acc, o, i) => {
    const w = tensor(ws[i].data, ws[i].shape, { dtype: "float64" });
    return acc + o.mul(w).sum().item();
  }, 0);
}

function check(c: Case): void {
  const x = inputs(c, true);
  const outs = [callOp(c, x)].flat() as Tensor[];
  const ws = [c.grad_output!].flat();
  outs.map((o, i) => o.mul(tensor(ws[i].data, ws[i].shape, { dtype: "float64" })).sum())
    .reduce((a, b) => a.add(b)).backward();
  const bad: string[] = [];
  for (const name of Object.keys(c.grads!)) {
    const analytic = x[name].grad!.toArray();
    const values = Float64Array.from(c.inputs[name].data);
    const step = Math.max(1, Math.floor(values.length / SAMPLES));
    for (let i = 0; i < values.length; i += step) {
      if (CONVENTIONS[c.op]?.(c, values[i])) continue;
      const at = (delta: number) => {
        const v = values.slice();
        v[i] += delta;
        const moved = { ...inputs(c, false), [name]: tensor(v, c.inputs[name].shape, { dtype: "float64" }) };
        return noGrad(() => objective(c, moved));
      };
      const f0 = at(0), up = at(H), down = at(-H);
      const right = (up - f0) / H, left = (f0 - down) / H;
      if (Math.abs(right - left) > 1e-3 * (1 + Math.abs(right))) continue; // a kink
      const numeric = (up - down) / (2 * H);
      const g = analytic[i];
      if (Math.abs(g - numeric) > 1e-6 + 1e-5 * Math.abs(numeric)) {
        bad.push(`d${name}[${i}]: analytic ${g}, numeric ${numeric}`);
      }
    }
  }
  if (bad.length) throw new Error(`${c.name}: ${bad.length} gradient mismatches; first: ${bad.slice(0, 4).join("; ")}`);
}

const differentiable = fixture.cases.filter((c) => c.grads !== undefined && Object.keys(c.grads).length > 0);
for (const op of new Set(differentiable.map((c) => c.op))) {
  Deno.test(`${op}: gradients equal float64 finite differences`, async (t) => {
    for (const c of differentiable.filter((d) => d.op === op)) await t.step(c.name, () => check(c));
  });
}
