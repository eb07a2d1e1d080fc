/**
 * The fused conv2d + bias + ReLU + max-pool op (src/ops/_conv_relu_pool.ts) and its CPU passes
 * (src/backend/ts/conv_relu_pool*.ts): values and gradients equal the three ops run one by one
 * bit for bit, on the fast backend's one-pass kernels (3×3 / padding 1 → 2×2 pooling) and on
 * every other geometry, in float32 and float64, with ties, zeros and NaNs; 1 and 2 threads give
 * the same bits; nn.Sequential (and so the seed's Net) takes the fused path only for the layers'
 * own forwards.
 */
import { cpu, F, getNumThreads, manualSeed, nn, setNumThreads, Tensor } from "../mod.ts";
import { type Backend, conv2dGeometry, type Device } from "../src/backend/backend.ts";
import { tsBackend, tsReferenceBackend } from "../src/backend/ts/mod.ts";
import { claim, partRange } from "../src/backend/ts/_protocol.ts";
import { conv2dReluMaxPool2d } from "../src/ops/_conv_relu_pool.ts";
import { checkedPool2dGeometry, type Pool2dOptions } from "../src/ops/_conv_pool_checks.ts";
import { Net } from "../examples/mnist/net.ts";
import { assertClose, assertEquals, assertThrows } from "./_std.ts";
import { assertBitEqual, assertSameRun, type Case, CASES, type Floats, inputs, run } from "./_fused_cases.ts";

/** `backend` as a device, and as one without the fused passes (the op runs conv2d, relu and maxPool2d there). */
function pair(backend: Backend): { fused: Device; unfused: Device } {
  const without: Backend = { ...backend, name: `${backend.name}-unfused` };
  delete without.conv2dReluMaxPool2dForward;
  delete without.maxPool2dReluBackward;
  return {
    fused: { type: "cpu", backend, description: backend.name },
    unfused: { type: "cpu", backend: without, description: without.name },
  };
}

/** The TypeScript backend, and the CPU device's when it is another (WebAssembly: its own convolution). */
const PAIRS = [pair(tsBackend), ...(cpu.backend === tsBackend ? [] : [pair(cpu.backend)])];
const reference: Device = { type: "cpu", backend: tsReferenceBackend, description: "cpu (reference loops)" };

for (const c of CASES) {
  Deno.test(`conv2dReluMaxPool2d equals conv2d → relu → maxPool2d bit for bit: ${c.name}`, () => {
    for (const { fused: dev, unfused } of PAIRS) {
      for (const dtype of ["float32", "float64"] as const) {
        const label = `${dev.backend.name} ${dtype}`;
        const fused = run(c, dev, dtype, "fused");
        assertSameRun(fused, run(c, dev, dtype, "ops"), `${label}, fused against the three ops`);
        assertSameRun(run(c, unfused, dtype, "fused"), fused, `${label}, the op without fused passes`);
      }
    }
    // The fast kernels against the reference loops (whose own passes run the reference's kernels).
    const fast = run(c, PAIRS[0].fused, "float32", "fused"), ref = run(c, reference, "float32", "fused");
    assertSameRun(ref, run(c, reference, "float32", "ops"), "the reference's passes against its ops");
    assertClose(fast.y, ref.y, { atol: 1e-5, rtol: 1e-5, label: "output against the reference" });
    assertClose(fast.dw, ref.dw, { atol: 1e-4, rtol: 1e-4, label: "weight gradient against the reference" });
    assertClose(fast.dx, ref.dx, { atol: 1e-4, rtol: 1e-4, label: "input gradient against the reference" });
  });
}

Deno.test("conv2dReluMaxPool2dForward: the pass writes the three kernels' outputs and argmax indices", () => {
  for (const c of CASES) {
    const { x, w, b } = inputs(c);
    const [n, ch, h, wd] = c.x, [kh, kw] = typeof c.kernel === "number" ? [c.kernel, c.kernel] : c.kernel;
    const conv = conv2dGeometry(n, ch, h, wd, c.k, kh, kw, {
      stride: F.pair("t", "stride", c.conv.stride, 1, 1),
      padding: F.pair("t", "padding", c.conv.padding, 0, 0),
    });
    const pool = checkedPool2dGeometry("t", [n, c.k, conv.oh, conv.ow], c.pool);
    for (const { fused: { backend: be } } of PAIRS) {
      const size = pool.n * pool.c * pool.oh * pool.ow, convSize = n * c.k * conv.oh * conv.ow;
      const [xs, ws, bs] = [x, w, b].map((a) => a && be.fromHost("float32", a));
      const y = be.alloc("float32", size), idx = be.alloc("int32", size);
      be.conv2dReluMaxPool2dForward!(y, idx, xs, ws, bs, conv, pool);
      const convOut = be.alloc("float32", convSize), y2 = be.alloc("float32", size), idx2 = be.alloc("int32", size);
      be.conv2dForward!(convOut, xs, ws, bs, conv);
      be.unary("relu", convOut, convOut, convSize);
      be.pool2dForward!("max", y2, idx2, convOut, pool);
      const label = `${be.name}, ${c.name}`;
      assertBitEqual(be.toHost("float32", y, size) as Floats, be.toHost("float32", y2, size) as Floats, label);
      assertEquals(be.toHost("int32", idx, size), be.toHost("int32", idx2, size), `${label}: indices`);
    }
  }
});

Deno.test("conv2dReluMaxPool2d: the special values reach the pooled output (ties, zeros and a NaN)", () => {
  const c = CASES[1];
  const { y } = run(c, PAIRS[0].fused, "float32", "fused");
  const plane = 3 * 4; // 7×9 → 3×4 pooled
  // Channel 0 of sample 0 is relu(0 + bias 0) everywhere: +0, never −0.
  assertEquals(Array.from(y.subarray(0, plane)).every((v) => Object.is(v, 0)), true, "channel 0 is +0");
  // The NaN at sample 1, channel 0, row 0, column 5 reaches the windows of every output channel.
  const nan = Array.from(y).filter((v) => Number.isNaN(v)).length;
  assertEquals(nan > 0 && nan <= 5 * 4, true, `NaN windows: ${nan}`);
});

Deno.test({
  name: "conv2dReluMaxPool2d: 2 threads give 1 thread's bits, values and gradients",
  // The workers outlive the test on purpose (they are unref'd and idle): not a leak.
  sanitizeOps: false,
  sanitizeResources: false,
  fn: () => {
    const before = getNumThreads();
    // Big enough that every kernel splits: 8 × 16 (sample, channel) pairs and planes.
    const c: Case = {
      name: "split",
      x: [8, 2, 13, 16],
      k: 16,
      kernel: 3,
      conv: { padding: 1 },
      pool: { kernelSize: 2 },
    };
    try {
      for (const { fused: dev } of PAIRS) {
        setNumThreads(1);
        const one = run(c, dev, "float32", "fused");
        setNumThreads(2);
        assertSameRun(run(c, dev, "float32", "fused"), one, `${dev.backend.name}: 2 threads against 1`);
        assertSameRun(
          run(c, dev, "float32", "ops"),
          one,
          `${dev.backend.name}: 2 threads, the three ops, against 1 fused`,
        );
      }
    } finally {
      setNumThreads(before);
    }
  },
});

Deno.test({
  name: "threads: 6 threads on this machine's cores (parts taken by the main thread) give 1 thread's bits",
  sanitizeOps: false,
  sanitizeResources: false,
  fn: () => {
    const before = getNumThreads();
    const c: Case = {
      name: "split",
      x: [12, 2, 13, 16],
      k: 8,
      kernel: 3,
      conv: { padding: 1 },
      pool: { kernelSize: 2 },
    };
    try {
      setNumThreads(1);
      const one = run(c, PAIRS[0].fused, "float32", "fused");
      setNumThreads(6);
      for (let i = 0; i < 3; i++) assertSameRun(run(c, PAIRS[0].fused, "float32", "fused"), one, `6 threads, run ${i}`);
    } finally {
      setNumThreads(before);
    }
  },
});

Deno.test("threads: a part is taken once, and never for a job that is over", () => {
  const claims = new Int32Array(new SharedArrayBuffer(12));
  claims[1] = 7, claims[2] = 7; // job 7 posted with parts 1 and 2 open
  assertEquals([claim(claims, 1, 7), claim(claims, 1, 7)], [true, false], "part 1 of job 7");
  assertEquals(claim(claims, 2, 6), false, "a late worker of job 6");
  assertEquals(claim(claims, 0, 7), false, "part 0 is never open");
  claims[2] = 8; // job 8 posted before anyone took part 2 of job 7
  assertEquals([claim(claims, 2, 7), claim(claims, 2, 8)], [false, true], "part 2: job 7 is over, job 8 is open");
  // The parts cover [0, total) once, in order, whatever the count.
  for (const [total, parts] of [[10, 3], [7, 7], [160, 2], [5, 4]]) {
    const ranges = Array.from({ length: parts }, (_, p) => partRange(total, p, parts));
    assertEquals(ranges[0][0], 0);
    assertEquals(ranges[parts - 1][1], total);
    ranges.forEach(([lo, hi], p) => {
      assertEquals(hi > lo, true, `part ${p} of ${parts} over ${total} is empty`);
      if (p > 0) assertEquals(lo, ranges[p - 1][1]);
    });
  }
});

Deno.test("conv2dReluMaxPool2d: bad arguments fail as the unfused ops do", () => {
  const x = Tensor.randn([1, 2, 6, 6]), w = Tensor.randn([4, 1, 3, 3]);
  assertThrows(() => conv2dReluMaxPool2d(x, w, null, {}, { kernelSize: 2 }), "conv2d: input has 2 channels");
  const w2 = Tensor.randn([4, 2, 3, 3]);
  assertThrows(() => conv2dReluMaxPool2d(x, w2, null, {}, {} as Pool2dOptions), "maxPool2d: kernelSize is required");
  assertThrows(
    () => conv2dReluMaxPool2d(x, w2, null, {}, { kernelSize: 5 }),
    "maxPool2d: kernel 5×5 is larger than the padded input 4×4",
  );
  assertThrows(
    () => conv2dReluMaxPool2d(x, w2, Tensor.randn([3]), {}, { kernelSize: 2 }),
    "conv2d: bias must have shape [4]",
  );
});

Deno.test("nn.Sequential runs Conv2d → ReLU → MaxPool2d as the fused op, with the same numbers", () => {
  manualSeed(3);
  const conv = new nn.Conv2d(2, 4, { kernelSize: 3, padding: 1 });
  const relu = new nn.ReLU(), pool = new nn.MaxPool2d({ kernelSize: 2 });
  const seq = new nn.Sequential(conv, relu, pool, new nn.Flatten());
  const x = Tensor.randn([2, 2, 8, 8]);
  const y = seq.forward(x);
  const block = seq[2].forward(seq[1].forward(seq[0].forward(x)));
  assertBitEqual(y.toArray() as Floats, block.toArray() as Floats, "Sequential against the layers one by one");
  // The flatten's input came from the fused op.
  const node = (y as unknown as { _node: { inputs: { _node: { op: string } }[] } })._node;
  assertEquals(node.inputs[0]._node.op, "conv2dReluMaxPool2d");
});

Deno.test("nn.Sequential leaves a Conv2d with its own forward alone", () => {
  manualSeed(3);
  class DoubledConv extends nn.Conv2d {
    override forward(x: Tensor): Tensor {
      return super.forward(x).mul(-2);
    }
  }
  const conv = new DoubledConv(1, 2, { kernelSize: 3, padding: 1 });
  const seq = new nn.Sequential(conv, new nn.ReLU(), new nn.MaxPool2d({ kernelSize: 2 }));
  const x = Tensor.randn([1, 1, 6, 6]);
  const want = F.maxPool2d(F.relu(conv.forward(x)), { kernelSize: 2 });
  assertBitEqual(seq.forward(x).toArray() as Floats, want.toArray() as Floats, "the subclass's forward ran");
});

Deno.test("the seed's Net: fused, its logits and gradients equal its layers run one by one; state dict keys unchanged", () => {
  manualSeed(1);
  const net = new Net();
  assertEquals(Object.keys(net.stateDict()), ["conv1.weight", "conv1.bias", "fc.weight", "fc.bias"]);
  const x = Tensor.randn([4, 1, 28, 28]);
  const grads = (logits: Tensor) => {
    for (const p of net.parameters()) p.grad = null;
    logits.sum().backward();
    return net.parameters().map((p) => p.grad!.toArray() as Floats);
  };
  const fused = net.forward(x);
  const fusedGrads = grads(fused);
  const h = net.maxpool.forward(net.relu.forward(net.conv1.forward(x)));
  const plain = net.fc.forward(h.view([4, -1]));
  assertBitEqual(fused.toArray() as Floats, plain.toArray() as Floats, "logits");
  grads(plain).forEach((g, i) => assertBitEqual(fusedGrads[i], g, `gradient of parameter ${i}`));
});

Deno.test("tsBackend.gather: rows of one repeated index (indexSelect) copy blocks, as the reference's loop", () => {
  const geom = { outer: 2, n: 5, m: 3, inner: 20 };
  const x = Float32Array.from({ length: 2 * 5 * 20 }, (_, i) => i * 0.5 - 7);
  const rows = [4, 0, 2, 1, 1, 3]; // (outer, m)
  const index = new Int32Array(2 * 3 * 20).map((_, p) => rows[Math.floor(p / 20)]);
  const want = new Float32Array(2 * 3 * 20), got = tsBackend.alloc("float32", 120) as Float32Array;
  tsReferenceBackend.gather(want, x, index, geom);
  tsBackend.gather(got, tsBackend.fromHost("float32", x), tsBackend.fromHost("int32", index), geom);
  assertBitEqual(tsBackend.toHost("float32", got, 120) as Floats, want, "one index per row");
  index[45] = 2; // a row with two values: element by element
  tsReferenceBackend.gather(want, x, index, geom);
  tsBackend.gather(got, tsBackend.fromHost("float32", x), tsBackend.fromHost("int32", index), geom);
  assertBitEqual(tsBackend.toHost("float32", got, 120) as Floats, want, "a mixed row");
  const bad = new Int32Array(120).fill(1);
  bad.fill(5, 100); // the last row is out of range: an error, and nothing written
  const untouched = tsBackend.fromHost("float32", new Float32Array(120).fill(9));
  assertThrows(() => tsBackend.gather(untouched, x, bad, geom), "gather: index 5 at position 100");
  assertEquals(Array.from(tsBackend.toHost("float32", untouched, 120) as Float32Array).every((v) => v === 9), true);
});
