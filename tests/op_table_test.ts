/**
 * The op table: every op exported from src/ops must have a PyTorch fixture, a gradient check (or be
 * declared without a gradient), and a CUDA path (it runs through the CUDA emulation build). A new op
 * that lacks one of them fails here, naming what is missing.
 */
import { type Device, F, type Tensor, tensor } from "../mod.ts";
import { assertEquals } from "./_std.ts";
import { devices, fixture, runCase } from "./_op_cases.ts";

const opsDir = new URL("../src/ops/", import.meta.url);

/** Every exported function of every src/ops/*.ts that is not private (`_`-prefixed), with its file. */
function ops(): Map<string, string> {
  const out = new Map<string, string>();
  for (const entry of Deno.readDirSync(opsDir)) {
    if (!entry.name.endsWith(".ts") || entry.name.startsWith("_")) continue;
    const text = Deno.readTextFileSync(new URL(entry.name, opsDir));
    for (const m of text.matchAll(/^export function (\w+)/gm)) out.set(m[1], entry.name);
  }
  return out;
}

/** The name an op has in the fixtures where it differs from its function's name. */
const FIXTURE_NAME: Record<string, string> = {
  variance: "var",
  maxPool2d: "max_pool2d",
  avgPool2d: "avg_pool2d",
  sumPool2d: "sum_pool2d",
  crossEntropy: "cross_entropy",
};

/** Ops checked against PyTorch in tests/fixtures/ops.json (torch_parity_test, gradcheck_test). */
const NETWORK_OPS = new Set(["conv2d", "max_pool2d", "avg_pool2d", "sum_pool2d", "linear", "relu", "cross_entropy"]);

/** Ops with no PyTorch fixture, and why. */
const NO_FIXTURE: Record<string, string> = {
  to: "a device copy: values unchanged, checked CPU↔CUDA in tests/cuda_backend_test.ts",
};

/** Ops without a gradient (integer results). */
const NO_GRADIENT = new Set(["eq", "ne", "gt", "lt", "ge", "le", "argmax", "argmin", "to"]);

const tensorOps = new Set(fixture.cases.map((c) => c.op));
const withGrads = new Set(fixture.cases.filter((c) => c.grads && Object.keys(c.grads).length).map((c) => c.op));
const networkGradchecked = Deno.readTextFileSync(new URL("./gradcheck_test.ts", import.meta.url));

Deno.test("op table: every op has a PyTorch fixture", () => {
  const missing = [...ops()].filter(([op]) => {
    const name = FIXTURE_NAME[op] ?? op;
    return !tensorOps.has(name) && !NETWORK_OPS.has(name) && !(op in NO_FIXTURE);
  }).map(([op, file]) => `${op} (src/ops/${file})`);
  assertEquals(missing, [], `ops without a case in tests/fixtures/tensor_ops.json or ops.json: ${missing.join(", ")}`);
});

Deno.test("op table: every differentiable op has a gradient check", () => {
  const missing = [...ops()].filter(([op]) => {
    if (NO_GRADIENT.has(op)) return false;
    const name = FIXTURE_NAME[op] ?? op;
    if (NETWORK_OPS.has(name)) return !networkGradchecked.includes(`F.${op}`);
    return !withGrads.has(name); // tests/op_gradcheck_test.ts checks every fixture case with gradients
  }).map(([op, file]) => `${op} (src/ops/${file})`);
  assertEquals(
    missing,
    [],
    `ops without a gradient check (fixture gradients or gradcheck_test): ${missing.join(", ")}`,
  );
});

/** One small call of each network op, for the CUDA path check. */
const NETWORK_CALLS: Record<string, (dev: Device) => Tensor> = {
  conv2d: (dev) => F.conv2d(ones([1, 2, 5, 5], dev), ones([3, 2, 3, 3], dev), ones([3], dev), { padding: 1 }),
  maxPool2d: (dev) => F.maxPool2d(ones([1, 2, 4, 4], dev), { kernelSize: 2 }),
  avgPool2d: (dev) => F.avgPool2d(ones([1, 2, 4, 4], dev), { kernelSize: 2 }),
  sumPool2d: (dev) => F.sumPool2d(ones([1, 2, 4, 4], dev), { kernelSize: 2 }),
  linear: (dev) => F.linear(ones([2, 3], dev), ones([4, 3], dev), ones([4], dev)),
  relu: (dev) => F.relu(ones([5], dev)),
  crossEntropy: (dev) => F.crossEntropy(ones([2, 3], dev), tensor([0, 2], [2], { dtype: "int32", device: dev })),
};

function ones(shape: number[], dev: Device) {
  return tensor(new Float32Array(shape.reduce((p, d) => p * d, 1)).fill(0.5), shape, {
    device: dev,
    requiresGrad: true,
  });
}

const cuda = (devices()).find((d) => d.type === "cuda");

Deno.test({
  name: "op table: every op runs on the CUDA backend (emulation build), forward and backward",
  ignore: cuda === undefined,
  fn() {
    const failures: string[] = [];
    for (const [op] of ops()) {
      if (op === "to") continue;
      try {
        const network = NETWORK_CALLS[op];
        if (network) {
          network(cuda!).sum().backward();
          continue;
        }
        const c = fixture.cases.find((k) => k.op === (FIXTURE_NAME[op] ?? op));
        if (!c) throw new Error("no fixture case to run");
        runCase(c, cuda!);
      } catch (e) {
        failures.push(`${op}: ${e instanceof Error ? e.message : e}`);
      }
    }
    assertEquals(failures, [], `ops failing on CUDA:\n${failures.join("\n")}`);
  },
});
