/**
 * The optimizers' hyper-parameters in device memory on CUDA (native/src/optim.cu, src/optim/_device_hyper.ts):
 * the kernels read them from a buffer, Adam's kernel advances its own step count once per step
 * however many launches the step takes, and the host writes the buffer only when a value changed.
 */
import { assertEquals, near } from "./_std.ts";
import { dev, ref, test } from "./_cuda.ts";
import type { Device } from "../src/backend/backend.ts";
import { OPT_HYPER_SLOTS } from "../src/backend/backend.ts";
import type { CudaStorage } from "../src/backend/cuda/mod.ts";
import { noGrad, type Tensor, tensor } from "../src/tensor/mod.ts";
import { Generator } from "../src/tensor/random.ts";
import { Adam, AdamW, type Optimizer } from "../src/optim/mod.ts";

const cpu: Device = { type: "cpu", backend: ref, description: "cpu (reference loops)" };

/** 50 parameters (more than one launch's 48 tensors) of assorted sizes, the same values on `d`. */
function params(d: Device): Tensor[] {
  const g = new Generator(5);
  return Array.from({ length: 50 }, (_, i) => {
    const n = 1 + ((i * 37) % 300) + (i === 7 ? 9000 : 0); // one spans three blocks
    return tensor(Array.from({ length: n }, () => g.uniform(-1, 1))).to(d);
  });
}

/** `steps` steps of `make` over `params(d)` with fixed pseudo-random gradients; the final values. */
function run(d: Device, make: (ps: Tensor[]) => Optimizer, steps: number): Float32Array[] {
  const ps = params(d);
  const opt = make(ps);
  const g = new Generator(9);
  for (let s = 0; s < steps; s++) {
    for (const p of ps) {
      p.grad?.dispose();
      p.grad = tensor(Array.from({ length: p.size }, () => g.uniform(-1, 1))).to(d);
    }
    opt.step();
  }
  const out = ps.map((p) => p.toArray() as Float32Array);
  noGrad(() => {
    for (const p of ps) p.grad?.dispose(), p.dispose();
  });
  return out;
}

test("cuda Adam and AdamW over 50 tensors (two launches per step), constant lr: the TS backend's values after 5 steps", () => {
  const cases: [string, (ps: Tensor[]) => Optimizer][] = [
    ["Adam", (ps) => new Adam(ps, { lr: 1e-2 })],
    ["Adam amsgrad", (ps) => new Adam(ps, { lr: 1e-2, amsgrad: true, weightDecay: 1e-2 })],
    ["AdamW", (ps) => new AdamW(ps, { lr: 1e-2, weightDecay: 0.1 })],
  ];
  for (const [label, make] of cases) {
    const got = run(dev(), make, 5), want = run(cpu, make, 5);
    got.forEach((g, i) => near(`${label}: parameter ${i}`, g, want[i], { atol: 1e-7, rtol: 1e-5 }));
  }
});

test("cuda adamStep with a hyper buffer: each call advances the device's step count once, the ticket returns to 0", () => {
  const be = dev().backend;
  const sizes = [5000, 3, 70];
  const lists = [0, 1, 2, 3].map(() => sizes.map((n) => be.fromHost("float32", new Float32Array(n).fill(0.5))));
  const values = new Float64Array(OPT_HYPER_SLOTS);
  values.set([1e-3, 0.9, 0.999, 1e-8, 0, 4, 0]); // 4 steps taken
  const hyper = be.fromHost("int64", new BigInt64Array(values.buffer));
  for (let i = 0; i < 3; i++) {
    be.adamStep!({
      hyper,
      params: lists[0],
      grads: lists[1],
      expAvgs: lists[2],
      expAvgSqs: lists[3],
      maxExpAvgSqs: null,
      sizes,
    }, { lr: 1e-3, beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: 0, amsgrad: false, step: 5 + i });
  }
  const back = new Float64Array((be.toHost("int64", hyper, OPT_HYPER_SLOTS) as BigInt64Array).buffer);
  assertEquals(Array.from(back), [1e-3, 0.9, 0.999, 1e-8, 0, 7, 0, 0]);
  for (const l of lists) for (const s of l) be.free(s as CudaStorage);
  be.free(hyper);
});
