/**
 * defineOp: a user's op with its own backward (examples/custom_op.ts), on the CPU and the CUDA backend.
 */
import { defineOp, tensor } from "../mod.ts";
import { assertOk, assertThrows, near } from "./_std.ts";
import { dev, ignore } from "./_cuda.ts";
import { fit, gradientError, softplus } from "../examples/custom_op.ts";

Deno.test("defineOp: the custom softplus's gradient equals finite differences and autograd through ops", () => {
  assertOk(gradientError([-30, -2, -0.5, 0, 0.7, 3, 30]) < 1e-7);
  const values = [-4, -1, 0, 0.5, 2, 9];
  const a = tensor(values, [6], { requiresGrad: true }), b = tensor(values, [6], { requiresGrad: true });
  softplus(a).mul(tensor([1, 2, 3, 4, 5, 6])).sum().backward();
  b.exp().add(1).log().mul(tensor([1, 2, 3, 4, 5, 6])).sum().backward();
  near("softplus grad", a.grad!.toArray(), b.grad!.toArray(), { atol: 1e-6, rtol: 1e-5 });
});

Deno.test("defineOp: the example's network learns with it; the CUDA backend gives the same losses", () => {
  const cpu = fit(undefined, 300);
  assertOk(cpu.last < 0.05 * cpu.first, `loss ${cpu.first} → ${cpu.last}`);
  if (!ignore) { // float32 rounding differs between the backends' exp and log: compare a short run
    const [a, b] = [fit(undefined, 30), fit(dev(), 30)];
    near("losses cpu vs cuda", [b.first, b.last], [a.first, a.last], { rtol: 1e-4 });
  }
});

Deno.test("defineOp: a backward with the wrong number or shape of gradients is an error naming the op", () => {
  const twice = defineOp("twice", { forward: (x) => x.mul(2), backward: (g) => [g.mul(2), null] });
  assertThrows(
    () => twice(tensor([1, 2], [2], { requiresGrad: true })).sum().backward(),
    "twice",
    "2 gradients",
    "one per input (1)",
  );
  const wrong = defineOp("wrong", { forward: (x) => x.mul(2), backward: (g) => [g.sum()] });
  assertThrows(
    () => wrong(tensor([1, 2], [2], { requiresGrad: true })).sum().backward(),
    "wrong",
    "gradient 0 has shape []",
    "[2]",
  );
  assertThrows(() => defineOp("", { forward: (x) => x, backward: (g) => [g] }), "defineOp", "name");
});
