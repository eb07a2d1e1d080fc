/**
 * Times the backend kernels on a fixed list of shapes and prints a table (and writes JSON):
 * conv2d forward / backward-input / backward-weight, the three poolings, and GEMM.
 *
 *   deno task bench [--json PATH] [--min-time SECONDS] [--big] [--device cpu|cuda|auto] [--threads N] [--reference]
 *
 * GFLOP/s counts 2 flops per multiply-add; GB/s counts each input read and output written once.
 * `--threads N` runs the TypeScript backend on N threads (default: all cores); `--reference` times
 * the reference loops (tsReferenceBackend: one thread, no fast paths) instead.
 * `--big` adds the shapes that take many seconds on the TypeScript backend (ResNet 56×56, GEMM 2048³).
 * `--device cuda` times the CUDA backend (each call is followed by a synchronize, so the time is
 * the kernel's, not its launch's); each row's `args` holds the geometry, so scripts/gpu_check.sh
 * can time the same calls in PyTorch.
 *
 * @module
 */
import { parseArgs } from "node:util";
import type { Backend, Conv2dGeometry, Pool2dGeometry, PoolKind } from "../src/backend/backend.ts";
import { Generator } from "../src/tensor/random.ts";
import { device, type DeviceRequest } from "../src/tensor/device.ts";
import { getNumThreads, setNumThreads, tsReferenceBackend } from "../src/backend/ts/mod.ts";

interface Row {
  kernel: string;
  shape: string;
  ms: number;
  gflops?: number;
  gbps?: number;
  /** The call's geometry (Conv2dGeometry, Pool2dGeometry, or GEMM sizes and transposes). */
  args?: unknown;
}

function conv(n: number, c: number, h: number, k: number, r: number, pad: number, stride = 1): Conv2dGeometry {
  const oh = Math.floor((h + 2 * pad - r) / stride) + 1;
  return {
    n,
    c,
    h,
    w: h,
    k,
    kh: r,
    kw: r,
    oh,
    ow: oh,
    strideH: stride,
    strideW: stride,
    padH: pad,
    padW: pad,
    dilationH: 1,
    dilationW: 1,
    groups: 1,
  };
}

function pool(n: number, c: number, h: number, k: number): Pool2dGeometry {
  const oh = Math.floor((h - k) / k) + 1;
  return { n, c, h, w: h, kh: k, kw: k, oh, ow: oh, strideH: k, strideW: k, padH: 0, padW: 0 };
}

function random(be: Backend, size: number, g: Generator): unknown {
  const v = new Float32Array(size);
  for (let i = 0; i < size; i++) v[i] = g.uniform(-1, 1);
  return be.fromHost("float32", v);
}

/** Median milliseconds per call, repeating until `minTime` seconds have passed (at least 3 calls). */
function time(fn: () => void, minTime: number, sync: () => void): number {
  fn(); // warm-up
  sync();
  const samples: number[] = [];
  const start = performance.now();
  while (samples.length < 3 || performance.now() - start < minTime * 1000) {
    const t0 = performance.now();
    fn();
    sync();
    samples.push(performance.now() - t0);
  }
  samples.sort((a, b) => a - b);
  return samples[Math.floor(samples.length / 2)];
}

export function benchKernels(be: Backend, opts: { minTime: number; big: boolean; sync?: () => void }): Row[] {
  const g = new Generator(0);
  const sync = opts.sync ?? (() => {});
  const rows: Row[] = [];
  const convs: [string, Conv2dGeometry][] = [
    ["seed conv1 (10×1×28×28 → 16, 3×3 p1)", conv(10, 1, 28, 16, 3, 1)],
    ["seed conv1, batch 64", conv(64, 1, 28, 16, 3, 1)],
    ["LeNet conv2 (64×6×14×14 → 16, 5×5)", conv(64, 6, 14, 16, 5, 0)],
  ];
  if (opts.big) convs.push(["ResNet 3×3 (1×64×56×56 → 64, p1)", conv(1, 64, 56, 64, 3, 1)]);
  for (const [name, c] of convs) {
    const x = random(be, c.n * c.c * c.h * c.w, g), w = random(be, c.k * c.c * c.kh * c.kw, g);
    const dy = random(be, c.n * c.k * c.oh * c.ow, g), b = random(be, c.k, g);
    const y = be.alloc("float32", c.n * c.k * c.oh * c.ow);
    const dx = be.alloc("float32", c.n * c.c * c.h * c.w), dw = be.alloc("float32", c.k * c.c * c.kh * c.kw);
    const flops = 2 * c.n * c.k * c.oh * c.ow * c.c * c.kh * c.kw;
    for (
      const [kernel, fn] of [
        ["conv2d forward", () => be.conv2dForward(y, x, w, b, c)],
        ["conv2d backward-input", () => be.conv2dBackwardInput(dx, dy, w, c)],
        ["conv2d backward-weight", () => be.conv2dBackwardWeight(dw, dy, x, c)],
      ] as const
    ) {
      const ms = time(fn, opts.minTime, sync);
      rows.push({ kernel, shape: name, ms, gflops: flops / ms / 1e6, args: c });
    }
  }
  for (
    const [name, p] of [["10×16×28×28, 2×2", pool(10, 16, 28, 2)], ["64×16×28×28, 2×2", pool(64, 16, 28, 2)]] as const
  ) {
    const x = random(be, p.n * p.c * p.h * p.w, g), y = be.alloc("float32", p.n * p.c * p.oh * p.ow);
    const idx = be.alloc("int32", p.n * p.c * p.oh * p.ow), dx = be.alloc("float32", p.n * p.c * p.h * p.w);
    const bytes = 4 * (p.n * p.c * p.h * p.w + p.n * p.c * p.oh * p.ow);
    for (const kind of ["max", "avg", "sum"] as PoolKind[]) {
      const fwd = time(() => be.pool2dForward(kind, y, kind === "max" ? idx : null, x, p), opts.minTime, sync);
      rows.push({ kernel: `${kind}Pool2d forward`, shape: name, ms: fwd, gbps: bytes / fwd / 1e6, args: p });
      const bwd = time(() => be.pool2dBackward(kind, dx, y, kind === "max" ? idx : null, p), opts.minTime, sync);
      rows.push({ kernel: `${kind}Pool2d backward`, shape: name, ms: bwd, gbps: bytes / bwd / 1e6, args: p });
    }
  }
  const gemms: [number, number, number][] = [[10, 10, 3136], [512, 512, 512]];
  if (opts.big) gemms.push([2048, 2048, 2048]);
  for (const [m, n, k] of gemms) {
    const a = random(be, m * k, g), b = random(be, k * n, g), c = be.alloc("float32", m * n);
    for (const [transA, transB] of [[false, false], [false, true], [true, false]]) {
      const ms = time(() => be.gemm(c, a, b, { m, n, k, transA, transB, alpha: 1, beta: 0 }), opts.minTime, sync);
      const tag = `${transA ? "T" : "N"}${transB ? "T" : "N"}`;
      rows.push({
        kernel: `gemm ${tag}`,
        shape: `${m}×${n}×${k}`,
        ms,
        gflops: (2 * m * n * k) / ms / 1e6,
        args: { m, n, k, transA, transB },
      });
    }
  }
  return rows;
}

if (import.meta.main) {
  const { values } = parseArgs({
    args: Deno.args,
    options: {
      json: { type: "string" },
      "min-time": { type: "string", default: "0.3" },
      big: { type: "boolean" },
      device: { type: "string", default: "cpu" },
      threads: { type: "string", default: String(navigator.hardwareConcurrency) },
      reference: { type: "boolean" },
    },
  });
  const threads = Number(values.threads);
  if (!Number.isInteger(threads) || threads < 1) {
    throw new Error(`bench: --threads must be a positive integer, got ${values.threads}`);
  }
  if (!["cpu", "cuda", "auto"].includes(values.device!)) {
    throw new Error(`bench: --device must be cpu, cuda or auto, got ${values.device}`);
  }
  const dev = device(values.device as DeviceRequest);
  if (dev.type === "cpu") setNumThreads(threads); // the TypeScript backend's threads, before it allocates anything
  const be = values.reference ? tsReferenceBackend as Backend : dev.backend;
  const sync = "synchronize" in be ? () => (be as { synchronize(): void }).synchronize() : undefined;
  const minTime = Number(values["min-time"]);
  if (!(minTime > 0)) {
    throw new Error(`bench: --min-time must be a positive number of seconds, got ${values["min-time"]}`);
  }
  const machine =
    `${Deno.build.os} ${Deno.build.arch}, ${navigator.hardwareConcurrency} cores, Deno ${Deno.version.deno}`;
  const onCpu = be.name.startsWith("ts") ? `, ${be === dev.backend ? getNumThreads() : 1} thread(s)` : "";
  console.log(`convnet kernel benchmark: backend ${be.name}${onCpu}, device ${dev.description}; ${machine}`);
  const rows = benchKernels(be, { minTime, big: values.big ?? false, sync });
  const pad = (s: string, n: number) => s.padEnd(n);
  console.log(
    `${pad("kernel", 24)} ${pad("shape", 40)} ${"ms".padStart(9)} ${"GFLOP/s".padStart(8)} ${"GB/s".padStart(6)}`,
  );
  for (const r of rows) {
    console.log(
      `${pad(r.kernel, 24)} ${pad(r.shape, 40)} ${r.ms.toFixed(3).padStart(9)} ${
        (r.gflops?.toFixed(2) ?? "").padStart(8)
      } ${(r.gbps?.toFixed(2) ?? "").padStart(6)}`,
    );
  }
  const out = values.json ?? "bench_out/kernels.json";
  Deno.mkdirSync(out.replace(/\/[^/]*$/, "") || ".", { recursive: true });
  Deno.writeTextFileSync(
    out,
    JSON.stringify(
      {
        date: new Date().toISOString(),
        machine,
        backend: be.name,
        device: dev.description,
        threads: be.name === "ts" ? getNumThreads() : 1,
        rows,
      },
      null,
      2,
    ),
  );
  console.log(`wrote ${out}`);
}
