/**
 * Adaptive pooling and the transposed convolution beyond the op tests (which run every case of
 * tests/fixtures/nn_spatial.json against PyTorch on the CPU and the CUDA emulation build, and
 * against float64 finite differences): the layers' initialisation and outputs against PyTorch, the
 * composite path on a backend without fused kernels, the defining identities (conv2d's adjoint,
 * global pooling as one reduction, the first maximum on ties), and the error messages.
 */
import { type Device, F, manualSeed, nn, type Tensor, tensor } from "../mod.ts";
import type { Backend, FusedKernels } from "../src/backend/backend.ts";
import { tsReferenceBackend } from "../src/backend/ts/mod.ts";
import { devices, fixture, runCase, type T } from "./_op_cases.ts";
import { assertClose, assertEquals, assertThrows, dirname, fromFileUrl, join, near } from "./_std.ts";

interface LayerCase {
  name: string;
  seed: number;
  kwargs: { inChannels: number; outChannels: number } & Record<string, unknown>;
  params: Record<string, { shape: number[]; sum: number; first: number[] }>;
  input: T;
  output: T;
}

const spatial: { layers: LayerCase[] } = JSON.parse(
  Deno.readTextFileSync(join(dirname(fromFileUrl(import.meta.url)), "fixtures", "nn_spatial.json")),
);
const SPATIAL_OPS = new Set(["adaptiveAvgPool2d", "adaptiveMaxPool2d", "convTranspose2d"]);
const tolerance = { atol: 1e-5, rtol: 1e-4 };

function build(c: LayerCase): nn.ConvTranspose2d {
  const { inChannels, outChannels, ...opts } = c.kwargs;
  manualSeed(c.seed);
  return new nn.ConvTranspose2d(inChannels, outChannels, opts as unknown as nn.ConvTranspose2dLayerOptions);
}

Deno.test("nn.ConvTranspose2d initialises exactly as PyTorch does from the same seed", async (t) => {
  for (const c of spatial.layers) {
    await t.step(c.name, () => {
      const layer = build(c);
      assertEquals(layer.namedParameters().map(([name]) => name), Object.keys(c.params));
      for (const [name, p] of layer.namedParameters()) {
        const want = c.params[name];
        assertEquals([...p.shape], want.shape, `${name}: shape`);
        const v = p.toArray();
        // Bit-identical: the same MT19937 draws, rounded the same way.
        assertEquals(Array.from(v.slice(0, want.first.length)), want.first.map(Math.fround), `${name}: first values`);
        assertClose([Array.from(v).reduce((s, x) => s + x, 0)], [want.sum], {
          atol: 1e-9,
          rtol: 1e-12,
          label: `${name}: sum`,
        });
      }
    });
  }
});

Deno.test("nn.ConvTranspose2d's output equals PyTorch's on the CPU and the CUDA backend", async (t) => {
  for (const dev of devices()) {
    for (const c of spatial.layers) {
      await t.step(`${c.name} (${dev.type})`, () => {
        const layer = build(c).to(dev);
        const y = layer.forward(tensor(c.input.data, c.input.shape, { device: dev }));
        assertEquals([...y.shape], c.output.shape);
        near(`${c.name}: output`, y.toArray(), c.output.data, { ...tolerance, shape: c.output.shape });
      });
    }
  }
});

/** A CPU device whose backend has no convolution or pooling kernels: the composites run. */
function primitivesOnly(): Device {
  const be: Backend = { ...tsReferenceBackend, name: "ts-primitives" } as Backend;
  const convAndPool: (keyof FusedKernels)[] = [
    "conv2dForward",
    "conv2dBackwardInput",
    "conv2dBackwardWeight",
    "conv2dBackwardBias",
    "pool2dForward",
    "pool2dBackward",
  ];
  for (const name of convAndPool) delete be[name];
  return { type: "cpu", backend: be, description: "cpu (TypeScript reference primitives, no fused kernels)" };
}

Deno.test("adaptive pooling and convTranspose2d match PyTorch without fused kernels (the composites)", async (t) => {
  const prim = primitivesOnly();
  const cases = fixture.cases.filter((c) => SPATIAL_OPS.has(c.op));
  assertEquals(new Set(cases.map((c) => c.op)), SPATIAL_OPS);
  for (const c of cases) await t.step(`${c.op}: ${c.name}`, () => runCase(c, prim));
});

/** Deterministic values in [-1, 1) (a small LCG). */
function values(count: number, seed: number): number[] {
  let s = seed >>> 0;
  return Array.from({ length: count }, () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s / 2 ** 31 - 1;
  });
}
const filled = (shape: number[], seed: number, dtype: "float32" | "float64" = "float64"): Tensor =>
  tensor(values(shape.reduce((p, d) => p * d, 1), seed), shape, { dtype });

Deno.test("convTranspose2d is conv2d's adjoint: <convTranspose2d(x, w), y> = <x, conv2d(y, w)>", () => {
  const configs = [
    { x: [2, 4, 5, 3], w: [4, 3, 3, 2], o: { stride: [2, 3], padding: [1, 0], dilation: [1, 2], groups: 1 } },
    { x: [1, 6, 4, 4], w: [6, 2, 2, 3], o: { stride: 2, padding: 1, groups: 3 } },
    { x: [3, 2, 3, 3], w: [2, 1, 1, 1], o: { stride: 3 } },
  ] as const;
  configs.forEach((cfg, i) => {
    const x = filled([...cfg.x], 3 + i), w = filled([...cfg.w], 7 + i);
    const up = F.convTranspose2d(x, w, null, cfg.o);
    const y = filled([...up.shape], 11 + i);
    const down = F.conv2d(y, w, null, cfg.o);
    assertEquals([...down.shape], [...x.shape], `config ${i}: conv2d maps the output size back`);
    assertClose([up.mul(y).sum().item()], [x.mul(down).sum().item()], { atol: 1e-12, rtol: 1e-12 });
  });
});

Deno.test("adaptiveAvgPool2d and adaptiveMaxPool2d to 1 are one mean and one max over H·W", () => {
  const x = filled([3, 5, 7, 7], 1, "float32");
  near("avg", F.adaptiveAvgPool2d(x, 1).toArray(), x.view([3, 5, 49]).mean(2).toArray(), { shape: [3, 5, 1, 1] });
  near("max", F.adaptiveMaxPool2d(x, 1).toArray(), x.view([3, 5, 49]).max(2).toArray(), { shape: [3, 5, 1, 1] });
  assertEquals([...F.adaptiveMaxPool2d(x, [1, 1]).shape], [3, 5, 1, 1]);
});

Deno.test("adaptiveMaxPool2d sends each window's gradient to its first maximum (row-major), as PyTorch does", () => {
  // PyTorch 1.13: x.grad after adaptive_max_pool2d(x, size).sum().backward().
  const cases: [number[], number[], F.AdaptiveSize, number[]][] = [
    [[1, 1, 2, 3], [1, 3, 3, 3, 0, 2], [1, 2], [0, 2, 0, 0, 0, 0]],
    [[1, 1, 3, 3], Array(9).fill(1), [2, 2], [1, 1, 0, 1, 1, 0, 0, 0, 0]],
    [[1, 3, 3], Array(9).fill(1), 1, [1, 0, 0, 0, 0, 0, 0, 0, 0]],
  ];
  for (const [shape, data, size, want] of cases) {
    const x = tensor(data, shape, { requiresGrad: true });
    F.adaptiveMaxPool2d(x, size).sum().backward();
    assertEquals(Array.from(x.grad!.toArray()), want, `${JSON.stringify(shape)} to ${JSON.stringify(size)}`);
  }
});

Deno.test("the adaptive pooling layers apply F with their output size; an output size equal to the input's copies", () => {
  const x = filled([2, 3, 5, 6], 2, "float32");
  near("avg", new nn.AdaptiveAvgPool2d([2, 4]).forward(x).toArray(), F.adaptiveAvgPool2d(x, [2, 4]).toArray());
  near("max", new nn.AdaptiveMaxPool2d([null, 4]).forward(x).toArray(), F.adaptiveMaxPool2d(x, [5, 4]).toArray());
  const same = F.adaptiveAvgPool2d(x, [5, 6]);
  near("identity", same.toArray(), x.toArray());
  same.dispose();
  assertEquals(x.isDisposed, false, "the output is a copy, not the input");
  assertEquals(new nn.AdaptiveAvgPool2d(1).namedParameters(), []);
});

Deno.test("convTranspose2d and the spatial layers reject bad arguments, naming what was expected", () => {
  const x = tensor(values(2 * 4 * 3 * 3, 1), [2, 4, 3, 3]);
  const w = tensor(values(4 * 2 * 3 * 3, 2), [4, 2, 3, 3]);
  assertThrows(
    () => F.convTranspose2d(x, tensor(values(54, 3), [3, 2, 3, 3])),
    "input has 4 channels but weight expects 3",
  );
  assertThrows(() => F.convTranspose2d(x, w, null, { outputPadding: 1 }), "outputPadding [1, 1] must be smaller");
  assertThrows(() => F.convTranspose2d(x, w, tensor([1, 2, 3], [3])), "bias must have shape [2]");
  assertThrows(() => F.convTranspose2d(x, w, null, { groups: 3 }), "not divisible by groups 3");
  assertThrows(() => F.convTranspose2d(x, w, null, { padding: 3 }), "the output would be -1×-1", "less padding");
  assertThrows(() => F.convTranspose2d(x, w, null, { output_padding: 1 } as never), 'unknown option "output_padding"');
  assertThrows(() => F.convTranspose2d(x.view([8, 9]), w), "input must be 4-d [N, Cin, H, W], got shape [8, 9]");
  assertThrows(() => new nn.ConvTranspose2d(4, 6, { kernelSize: 3, groups: 4 }), "must both be divisible by groups 4");
  assertThrows(() => new nn.ConvTranspose2d(4, 6, { kernelSize: 3, stride: 2, outputPadding: 2 }), "outputPadding");
  assertThrows(() => F.adaptiveAvgPool2d(x, 0), "outputSize must be an integer ≥ 1", "got 0");
  assertThrows(() => F.adaptiveMaxPool2d(x, [2, 2, 2] as never), "outputSize", "got [2,2,2]");
  assertThrows(() => F.adaptiveAvgPool2d(x.view([8, 9]), 2), "input must be 3-d [C, H, W] or 4-d [N, C, H, W]");
  assertThrows(() => new nn.AdaptiveMaxPool2d(1.5), "AdaptiveMaxPool2d: outputSize", "got 1.5");
});
