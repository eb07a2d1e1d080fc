/**
 * Per-batch scopes (src/autograd/batch_scope.ts): a training loop over a DataLoader written
 * without `tidy`, as a PyTorch user writes it, holds one batch's tensors at a time.
 */
import { assertEquals, assertOk, assertThrows } from "./_std.ts";
import { DataLoader, TensorDataset } from "../src/data/mod.ts";
import { keep, memory, type Tensor, tensor, tidy } from "../src/tensor/mod.ts";
import * as nn from "../src/nn/mod.ts";
import * as optim from "../src/optim/mod.ts";
import { Generator } from "../src/tensor/random.ts";

/** 40 samples of 1×6×6 images with labels 0..2, on the CPU. */
function dataset(): TensorDataset<[Tensor, Tensor]> {
  const g = new Generator(5);
  const x = new Float32Array(40 * 36).map(() => g.random() - 0.5);
  const y = Int32Array.from({ length: 40 }, (_, i) => i % 3);
  return new TensorDataset(keep(tensor(x, [40, 1, 6, 6])), keep(tensor(y, [40], { dtype: "int32" })));
}

class Net extends nn.Module {
  conv = new nn.Conv2d(1, 4, { kernelSize: 3, padding: 1 });
  relu = new nn.ReLU();
  pool = new nn.MaxPool2d({ kernelSize: 2 });
  fc = new nn.Linear(4 * 3 * 3, 3);
  forward(x: Tensor): Tensor {
    const h = this.pool.forward(this.relu.forward(this.conv.forward(x)));
    return this.fc.forward(h.view([h.shape[0], -1]));
  }
}

Deno.test("a DataLoader loop without tidy holds one batch of tensors: the count and bytes stay flat", () => {
  const model = new Net();
  const opt = new optim.Adadelta(model.parameters(), { lr: 1 });
  const loss = new nn.CrossEntropyLoss();
  const loader = new DataLoader(dataset(), { batchSize: 4, shuffle: true });
  const seen: { tensors: number; bytes: number }[] = [];
  for (let epoch = 0; epoch < 3; epoch++) {
    for (const [x, y] of loader) {
      opt.zeroGrad();
      const out = model.forward(x);
      const l = loss.forward(out, y);
      l.backward();
      opt.step();
      const acc = out.argmax(1).eq(y).sum().item(); // the output stays usable after step()
      assertOk(acc >= 0 && acc <= 4);
      seen.push({ tensors: memory().tensors, bytes: memory().bytes });
    }
  }
  // 30 steps: from the second step on (optimizer state exists), every step ends with the same count.
  const later = seen.slice(1);
  assertEquals(new Set(later.map((s) => s.tensors)).size, 1, JSON.stringify(later.map((s) => s.tensors)));
  assertEquals(new Set(later.map((s) => s.bytes)).size, 1);
});

Deno.test("a tensor from an earlier batch is an error that says why and what to do", () => {
  const loader = new DataLoader(dataset(), { batchSize: 10 });
  let previous: Tensor | null = null;
  let kept: Tensor | null = null;
  let i = 0;
  for (const [x] of loader) {
    if (i === 1) {
      assertThrows(() => previous!.sum(), "was disposed when the DataLoader loop moved past the batch", "keep(t)");
      assertEquals(kept!.item(), 7); // keep() carries a tensor across batches
    }
    previous = x.mul(2);
    if (i === 0) kept = keep(x.sum().mul(0).add(7));
    i++;
  }
  assertEquals(i, 4);
  kept!.dispose();
});

Deno.test("leaving a loop early keeps the current batch; collecting batches unused keeps them all", () => {
  const loader = new DataLoader(dataset(), { batchSize: 8 });
  let sample: Tensor[] = [];
  let out: Tensor | null = null;
  for (const batch of loader) {
    sample = batch;
    out = batch[0].mul(1);
    break;
  }
  assertEquals(sample[0].shape, [8, 1, 6, 6]);
  assertEquals(out!.shape, [8, 1, 6, 6]);
  assertEquals(out!.sum().item(), sample[0].sum().item());
  const all = [...loader]; // PyTorch's list(loader)
  assertEquals(all.length, 5);
  assertEquals(all[0][1].toArray().length, 8);
  assertEquals(Array.from(all[4][1].toArray()), [0, 1, 2, 0, 1, 2, 0, 1].map((_, k) => (32 + k) % 3));
  // An exception leaves the batch alive too (the error may refer to it).
  let thrown: Tensor | null = null;
  assertThrows(() => {
    for (const [x] of loader) {
      thrown = x.add(1);
      throw new Error("boom");
    }
  }, "boom");
  assertEquals(thrown!.shape, [8, 1, 6, 6]);
});

Deno.test("the loop's normal end frees the last batch; a tidy around the loop still works", () => {
  const loader = new DataLoader(dataset(), { batchSize: 16 });
  let last: Tensor | null = null;
  for (const [x] of loader) last = x.mul(3);
  assertThrows(() => last!.sum(), "moved past the batch");
  const before = memory().tensors;
  const total = tidy(() => {
    let s = 0;
    for (const [x] of loader) s += tidy(() => x.sum().item());
    return s;
  });
  assertOk(Number.isFinite(total));
  assertEquals(memory().tensors, before);
});

Deno.test("parameters, buffers, gradients and optimizer state made inside a batch outlive it", () => {
  const loader = new DataLoader(dataset(), { batchSize: 10 });
  let model: nn.Module | null = null;
  let opt: optim.Optimizer | null = null;
  for (const [x, y] of loader) {
    model ??= new nn.Sequential(new nn.BatchNorm2d(1), new nn.Flatten(), new nn.Linear(36, 3)); // made lazily
    opt ??= new optim.Adam(model.parameters(), { lr: 0.01 });
    opt.zeroGrad();
    new nn.CrossEntropyLoss().forward(model.forward(x), y).backward();
    opt.step();
  }
  const names = Object.keys(model!.stateDict());
  assertEquals(names.length, 7);
  for (const t of Object.values(model!.stateDict())) assertOk(!t.isDisposed);
  for (const p of model!.parameters()) assertOk(p.grad !== null && !p.grad.isDisposed);
  const state = Object.values(opt!.stateDict().state);
  assertEquals(state.length, 4); // BatchNorm weight and bias, Linear weight and bias
  for (const s of state) for (const v of Object.values(s)) if (v && typeof v === "object") assertOk(!v.isDisposed);
});

Deno.test("an iterator driven by hand and dropped does not break tidy", () => {
  const loader = new DataLoader(dataset(), { batchSize: 10 });
  const it = loader[Symbol.iterator]();
  const first = it.next().value as Tensor[];
  const before = memory().tensors;
  const s = tidy(() => first[0].mul(2).sum().item());
  assertEquals(memory().tensors, before);
  assertOk(Number.isFinite(s));
  it.return?.();
  assertEquals(first[0].shape, [10, 1, 6, 6]); // handed back, not freed
});
