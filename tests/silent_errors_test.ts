/**
 * Misuse that used to give a wrong result without a word (issue 14, part 3) is now a clear error,
 * or PyTorch's behaviour where PyTorch defines one: backward through disposed tensors, gradients of
 * the wrong shape, `loadStateDict` with bad dicts (all or nothing), and optimizers whose model moved
 * to another device after they stepped.
 */
import { cpu, defineOp, type Device, nn, optim, type Tensor, tensor } from "../mod.ts";
import { assertEquals, assertOk, assertThrows } from "./_std.ts";
import { dev, ignore } from "./_cuda.ts";

// Casts for calls the types forbid, as untyped JavaScript callers would make them.
const bad = <T>(v: unknown): T => v as T;
const values = (m: nn.Module): number[][] => m.parameters().map((p) => [...p.toArray()]);

// ---- backward through disposed tensors ----

Deno.test("backward after loss.dispose() is an error, and no gradient is written", () => {
  const w = tensor([1, 2, 3], [3], { requiresGrad: true });
  const loss = w.mul(w).sum();
  loss.dispose();
  assertThrows(() => loss.backward(), "backward", "disposed", "[]");
  assertEquals(w.grad, null);
  assertEquals(loss.grad, null);
});

Deno.test("backward on a disposed leaf is an error", () => {
  const w = tensor([1, 2], [2], { requiresGrad: true });
  w.dispose();
  assertThrows(() => w.backward(tensor([1, 1])), "backward", "disposed", "[2]");
});

Deno.test("backward through a disposed intermediate is an error naming the op that made it", () => {
  const x = tensor([0.5, -1, 2], [3], { requiresGrad: true });
  const h = x.mul(2); // exp's backward reads only its output: nothing else would notice h is gone
  const loss = h.exp().sum();
  h.dispose();
  assertThrows(() => loss.backward(), "backward", "disposed", "[3]", "mul", "tidy");
  assertEquals(x.grad, null);
  assertEquals(h.grad, null);
});

Deno.test("backward through a disposed leaf that requires grad is an error", () => {
  const w = tensor([1, 2], [2], { requiresGrad: true });
  const loss = w.mul(3).sum();
  w.dispose();
  assertThrows(() => loss.backward(), "backward", "disposed", "[2]", "leaf");
});

Deno.test("a disposed tensor that needs no gradient does not stop backward", () => {
  const w = tensor([1, 2], [2], { requiresGrad: true });
  const c = tensor([3, 4]);
  const loss = w.add(c).sum();
  c.dispose();
  loss.backward();
  assertEquals([...w.grad!.toArray()], [1, 1]);
});

Deno.test("three SGD steps after loss.dispose() fail instead of leaving the weights unchanged", () => {
  const model = new nn.Linear(3, 2);
  const opt = new optim.SGD(model.parameters(), { lr: 0.1 });
  const x = tensor([1, 2, 3, 4, 5, 6], [2, 3]);
  const before = values(model);
  for (let i = 0; i < 3; i++) {
    opt.zeroGrad();
    const loss = model.forward(x).pow(2).mean();
    loss.dispose();
    assertThrows(() => loss.backward(), "backward", "disposed");
    opt.step();
  }
  assertEquals(values(model), before);
});

// ---- the gradient passed to backward ----

Deno.test("backward rejects a gradient of another shape, even of the same size (as PyTorch)", () => {
  const x = tensor([1, 2, 3, 4, 5, 6], [2, 3], { requiresGrad: true });
  const y = x.mul(2);
  assertThrows(
    () => y.backward(tensor([1, 1, 1, 1, 1, 1], [3, 2])),
    "backward",
    "gradient has shape [3, 2]",
    "expected [2, 3]",
  );
  assertThrows(() => y.backward(tensor([1, 1, 1, 1, 1, 1], [6])), "backward", "[6]", "expected [2, 3]");
  assertEquals(x.grad, null);
  y.backward(tensor([1, 2, 3, 4, 5, 6], [2, 3])); // the graph is intact after the rejected calls
  assertEquals([...x.grad!.toArray()], [2, 4, 6, 8, 10, 12]);
});

Deno.test("backward rejects a [1] gradient for a 0-d loss and a non-tensor gradient", () => {
  const x = tensor([1, 2], [2], { requiresGrad: true });
  const loss = x.sum();
  assertThrows(() => loss.backward(tensor([1], [1])), "backward", "[1]", "expected []");
  assertThrows(() => loss.backward(bad([1])), "backward", "gradient", "Tensor");
  loss.backward(tensor([2], []));
  assertEquals([...x.grad!.toArray()], [2, 2]);
});

Deno.test("backward rejects a disposed gradient", () => {
  const x = tensor([1, 2], [2], { requiresGrad: true });
  const g = tensor([1, 1]);
  g.dispose();
  assertThrows(() => x.mul(2).backward(g), "backward", "gradient", "disposed");
});

// ---- Module.loadStateDict ----

Deno.test("loadStateDict with a disposed tensor in the dict fails and copies nothing", () => {
  const model = new nn.Sequential(new nn.Linear(3, 2), new nn.Linear(2, 1));
  const before = values(model);
  const dict = new nn.Sequential(new nn.Linear(3, 2), new nn.Linear(2, 1)).stateDict();
  dict["1.bias"].dispose(); // the last key: every other weight would have been copied first
  assertThrows(() => model.loadStateDict(dict), "loadStateDict", "1.bias", "disposed");
  assertEquals(values(model), before);
});

Deno.test("loadStateDict counts only the dict's own keys, not its prototype's", () => {
  const model = new nn.Linear(3, 2);
  const before = values(model);
  const dict = Object.create(new nn.Linear(3, 2).stateDict()) as Record<string, Tensor>;
  assertThrows(
    () => model.loadStateDict(dict),
    "loadStateDict",
    "missing keys: weight, bias",
    "inherited keys do not count",
  );
  assertEquals(values(model), before);
  const partial = Object.create({ bias: tensor([9, 9]) }) as Record<string, Tensor>;
  partial.weight = tensor([1, 2, 3, 4, 5, 6], [2, 3]);
  assertThrows(() => model.loadStateDict(partial), "loadStateDict", "missing keys: bias");
  assertEquals(values(model), before);
});

Deno.test("loadStateDict rejects null and other non-dicts by what they are", () => {
  const model = new nn.Linear(3, 2);
  for (
    const [v, ...what] of [
      [null, "null"],
      [undefined, "undefined"],
      [42, "number"],
      ["weights.safetensors", "string"],
      [[], "array"],
      [new Map(), "Map"],
      [tensor([1]), "Tensor"],
      [Promise.resolve({}), "Promise", "await"],
      [new nn.Linear(3, 2), "Linear", "stateDict()"],
    ] as [unknown, ...string[]][]
  ) {
    assertThrows(() => model.loadStateDict(bad(v)), "loadStateDict", "state dict", ...what);
  }
});

Deno.test("loadStateDict reads every value before writing any (swapped entries load as given)", () => {
  // The dict may hold the model's own tensors under other names.
  const pair = new nn.Sequential(new nn.Linear(2, 2, { bias: false }), new nn.Linear(2, 2, { bias: false }));
  const [first, second] = values(pair);
  const own = pair.stateDict();
  pair.loadStateDict({ "0.weight": own["1.weight"], "1.weight": own["0.weight"] });
  assertEquals(values(pair), [second, first]);
});

// ---- optimizers follow their parameters across Module.to() ----

/** Four steps of `make(model)` on a fixed batch, the model moved to `devices[i]` before step i. */
function trainAcross(
  devices: Device[],
  make: (params: Tensor[]) => optim.Optimizer,
): { weights: number[][]; state: optim.OptimizerStateDict } {
  const model = new nn.Linear(3, 2);
  model.loadStateDict({ weight: tensor([0.1, -0.2, 0.3, 0.4, 0.5, -0.6], [2, 3]), bias: tensor([0.05, -0.05]) });
  const opt = make(model.parameters());
  const xs = [1, -2, 3, 0.5, 0, -1];
  for (const d of devices) {
    model.to(d);
    opt.zeroGrad();
    model.forward(tensor(xs, [2, 3], { device: d })).pow(2).mean().backward();
    opt.step();
  }
  const state = opt.stateDict();
  for (const entry of Object.values(state.state)) {
    for (const [k, v] of Object.entries(entry)) {
      if (v && typeof v === "object") {
        assertEquals(v.device, devices.at(-1), `the state buffer ${k} follows its parameter`);
      }
    }
  }
  return { weights: values(model), state };
}

const OPTIMIZERS: [string, (params: Tensor[]) => optim.Optimizer][] = [
  ["SGD with momentum", (p) => new optim.SGD(p, { lr: 0.1, momentum: 0.9 })],
  ["Adadelta", (p) => new optim.Adadelta(p)],
  ["Adam", (p) => new optim.Adam(p, { lr: 0.01 })],
  ["AdamW", (p) => new optim.AdamW(p, { lr: 0.01 })],
  ["RMSprop", (p) => new optim.RMSprop(p, { lr: 0.01, momentum: 0.5 })],
  ["Adagrad", (p) => new optim.Adagrad(p, { lr: 0.1 })],
];

for (const [name, make] of OPTIMIZERS) {
  Deno.test({
    name: `${name} keeps training after Module.to() moves the model to CUDA and back, after it stepped`,
    ignore,
    fn: () => {
      const cuda = dev();
      const want = trainAcross([cpu, cpu, cpu, cpu], make);
      const got = trainAcross([cpu, cuda, cuda, cpu], make);
      got.weights.forEach((w, i) =>
        w.forEach((v, j) =>
          assertOk(Math.abs(v - want.weights[i][j]) <= 1e-5, `${name}: weight ${i}[${j}] ${v} vs ${want.weights[i][j]}`)
        )
      );
      const toCuda = trainAcross([cpu, cuda], make);
      assertEquals(toCuda.weights.length, 2);
    },
  });
}

Deno.test({
  name: "an optimizer's stateDict after Module.to() holds buffers on the parameters' new device",
  ignore,
  fn: () => {
    const cuda = dev();
    const model = new nn.Linear(3, 2);
    const opt = new optim.Adam(model.parameters(), { lr: 0.01 });
    model.forward(tensor([1, 2, 3], [1, 3])).sum().backward();
    opt.step();
    model.to(cuda);
    const state = opt.stateDict().state[0];
    assertEquals((state.exp_avg as Tensor).device, cuda);
    assertEquals((state.exp_avg_sq as Tensor).device, cuda);
  },
});

Deno.test("a rule that returns a gradient of another shape (same size) is an error naming the op", () => {
  const transposedGrad = defineOp("transposedGrad", {
    forward: (x) => x.mul(1),
    backward: (g) => [g.view([3, 2])],
  });
  const x = tensor([1, 2, 3, 4, 5, 6], [2, 3], { requiresGrad: true });
  assertThrows(
    () => transposedGrad(x).sum().backward(),
    "backward",
    "transposedGrad",
    "input 0",
    "[3, 2]",
    "expected [2, 3]",
  );
});
