/**
 * Module buffers, int64 storage and views: what layers with running statistics need.
 */
import { io, nn, optim, PhiloxGenerator, Tensor, tensor } from "../mod.ts";
import { assertEquals, assertOk, assertThrows } from "./_std.ts";

class Stats extends nn.Module {
  fc = new nn.Linear(3, 2);
  runningMean = this.registerBuffer("running_mean", Tensor.zeros([2]));
  numBatchesTracked = this.registerBuffer("num_batches_tracked", tensor([0], [], { dtype: "int64" }));
  scratch = this.registerBuffer("scratch", Tensor.ones([2]), { persistent: false });
  forward(x: Tensor): Tensor {
    return this.fc.forward(x);
  }
}

class Outer extends nn.Module {
  bn1 = new Stats();
  forward(x: Tensor): Tensor {
    return this.bn1.forward(x);
  }
}

Deno.test("registerBuffer: buffers are in stateDict under PyTorch's names and in its order; not parameters", () => {
  const m = new Outer();
  // PyTorch 1.13 lists a module's own parameters, then its buffers, then its children's state.
  assertEquals(Object.keys(m.stateDict()), [
    "bn1.running_mean",
    "bn1.num_batches_tracked",
    "bn1.fc.weight",
    "bn1.fc.bias",
  ]);
  assertEquals(m.parameters().length, 2);
  assertEquals(m.namedBuffers().map(([n]) => n), ["bn1.running_mean", "bn1.num_batches_tracked", "bn1.scratch"]);
  assertEquals(m.stateDict()["bn1.num_batches_tracked"].dtype, "int64");
});

Deno.test("loadStateDict fills buffers too (int64 included) and names a missing buffer", () => {
  const src = new Outer(), dst = new Outer();
  src.bn1.runningMean.dispose();
  src.bn1.runningMean = src.bn1.registerBuffer("running_mean", tensor([0.5, -2]));
  src.bn1.numBatchesTracked = src.bn1.registerBuffer("num_batches_tracked", tensor([7], [], { dtype: "int64" }));
  dst.loadStateDict(src.stateDict());
  assertEquals(Array.from(dst.bn1.runningMean.toArray()), [0.5, -2]);
  assertEquals(dst.bn1.numBatchesTracked.toHost(), BigInt64Array.of(7n));
  const partial = src.stateDict();
  delete partial["bn1.running_mean"];
  assertThrows(() => dst.loadStateDict(partial), "loadStateDict", "missing keys: bn1.running_mean");
});

Deno.test("int64 round-trips through safetensors as I64, values beyond 2^53 intact", () => {
  const big = 2n ** 60n + 3n;
  const t = tensor(BigInt64Array.of(big, -5n, 0n), [3]);
  assertEquals(t.dtype, "int64");
  const bytes = io.saveBytes({ count: t, w: tensor([1, 2]) });
  const header = new TextDecoder().decode(
    bytes.subarray(8, 8 + Number(new DataView(bytes.buffer).getBigUint64(0, true))),
  );
  assertOk(header.includes('"dtype":"I64"'), header);
  const back = io.loadBytes(bytes).count;
  assertEquals(back.dtype, "int64");
  assertEquals(back.toHost(), BigInt64Array.of(big, -5n, 0n));
});

Deno.test("int64 is storage only: arithmetic names the op and the dtype; toArray points to toHost", () => {
  const t = tensor([1, 2], [2], { dtype: "int64" });
  assertThrows(() => t.add(t), "add", "int64");
  assertThrows(() => t.sum(), "sum", "int64");
  assertThrows(() => t.toArray(), "toArray", "int64", "toHost");
  assertEquals(t.clone().toHost(), BigInt64Array.of(1n, 2n));
});

Deno.test("views share storage: a write through the parameter is seen by its view, not by a transposed copy", () => {
  const fc = new nn.Linear(3, 2);
  const w = fc.weight;
  const viewed = w.view([6]), flat = w.flatten(), transposed = w.transpose(0, 1);
  fc.loadStateDict({ weight: tensor([[1, 2, 3], [4, 5, 6]]), bias: tensor([0, 0]) });
  assertEquals(Array.from(viewed.toArray()), [1, 2, 3, 4, 5, 6]);
  assertEquals(Array.from(flat.toArray()), [1, 2, 3, 4, 5, 6]);
  assertOk(!Array.from(transposed.toArray()).every((v, i) => v === [1, 4, 2, 5, 3, 6][i]), "transpose is a copy");
  // An optimizer step writes in place too.
  const opt = new optim.SGD([w], { lr: 1 });
  w.sum().backward();
  opt.step();
  assertEquals(Array.from(viewed.toArray()), [0, 1, 2, 3, 4, 5]);
});

Deno.test("Module.to moves buffers with the parameters", () => {
  const m = new Outer();
  const cpu = m.bn1.runningMean.device;
  m.to(cpu);
  assertEquals(m.bn1.runningMean.device, cpu);
});

Deno.test("PhiloxGenerator: a seed gives one stream; offsets continue it; state restores it", () => {
  const a = new PhiloxGenerator(42);
  const first = a.uniform([10]).toArray(), second = a.uniform([6]).toArray();
  const whole = new PhiloxGenerator(42).uniform([16]).toArray(); // 10 → 3 blocks: the second fill starts at 12
  assertEquals(Array.from(first), Array.from(whole.subarray(0, 10)));
  assertEquals(Array.from(second.subarray(0, 4)), Array.from(whole.subarray(12, 16)));
  assertOk(first.every((v) => v >= 0 && v < 1));
  const mask = new PhiloxGenerator(3).bernoulli([1000], 0.9).toArray();
  const ones = Array.from(mask).reduce((s, v) => s + v, 0);
  assertOk(mask.every((v) => v === 0 || v === 1) && ones > 860 && ones < 940, `ones ${ones}`);
  const g = new PhiloxGenerator(9);
  g.uniform([5]);
  const saved = g.getState();
  const next = g.uniform([4]).toArray();
  g.setState(saved);
  assertEquals(Array.from(g.uniform([4]).toArray()), Array.from(next));
  assertThrows(() => g.bernoulli([2], 1.5), "bernoulli", "p must be a probability");
});
