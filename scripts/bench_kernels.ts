/**
 * Times the backend kernels on a fixed list of shapes and prints a table (and writes JSON):
 * conv2d forward / backward-input / backward-weight, the three poolings, and GEMM, on the seed's
 * layer, a LeNet-sized layer, a ResNet-sized 64→64 3×3 layer at 56×56 and GEMMs 512³ and 2048³.
 *
 *   deno task bench [--peers] [--device cpu|cuda|auto] [--threads N] [--json PATH] [--min-time S] [--quick]
 *
 * GFLOP/s counts 2 flops per multiply-add; GB/s counts each input read and output written once.
 * On CUDA, "% peak" is the share of the card's FP32 (no tensor cores) or memory-bandwidth ceiling,
 * computed from its SM count, clocks and bus width.
 * `--threads N` runs the TypeScript backend on N threads (default: all cores); `--reference` times
 * the reference loops (tsReferenceBackend: one thread, no fast paths) instead.
 * `--peers` then times the same calls, same shapes, in PyTorch (scripts/bench_kernels_torch.py, on
 * the same device, on the same number of threads; `--python PATH` picks the Python that imports torch)
 * and adds its times and the ratio to the table.
 * `--quick` leaves out the two shapes that take seconds per call on the CPU (ResNet 56×56, GEMM 2048³).
 * `--device cuda` times the CUDA backend (each call is followed by a synchronize, so the time is
 * the kernel's, not its launch's); each row's `args` holds the geometry the PyTorch twin replays.
 *
 * @module
 */
import { parseArgs } from "node:util";
import {
  type Backend,
  type Conv2dGeometry,
  conv2dGeometry,
  type Pool2dGeometry,
  type PoolKind,
} from "../src/backend/backend.ts";
import { Generator } from "../src/tensor/random.ts";
import { device, type DeviceRequest } from "../src/backend/device.ts";
import { getNumThreads, setNumThreads, tsReferenceBackend } from "../src/backend/ts/mod.ts";
import type { CudaBackend, CudaDeviceInfo } from "../src/backend/cuda/mod.ts";
import { dirname, fromFileUrl, join } from "../src/_path.ts";
import { machine, pythonWithTorch } from "./bench_train.ts";
import { chooseCpuBackend } from "../src/backend/wasm/select.ts";

interface Row {
  kernel: string;
  shape: string;
  ms: number;
  gflops?: number;
  gbps?: number;
  /** Share of the card's ceiling (FP32 FLOP/s or memory bandwidth), in percent; CUDA only. */
  peakPercent?: number;
  /** The call's geometry (Conv2dGeometry, Pool2dGeometry, or GEMM sizes and transposes). */
  args?: unknown;
  /** The CPU backend that ran it, "ts" or "wasm" (with --cpu both). */
  backend?: string;
  /** PyTorch's median time for the same call (with --peers). */
  torchMs?: number | null;
  /** PyTorch's time ÷ ours: above 1, convnet is faster (with --peers). */
  speedup?: number | null;
}

function conv(n: number, c: number, h: number, k: number, r: number, pad: number, stride = 1): Conv2dGeometry {
  return conv2dGeometry(n, c, h, h, k, r, r, { stride: [stride, stride], padding: [pad, pad] });
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

/** FP32 lanes per SM by compute capability (no tensor cores): 64 on 7.x and 8.0, 128 on 8.6 and later. */
function fp32LanesPerSm(cc: string): number {
  const [major, minor] = cc.split(".").map(Number);
  return major < 8 || (major === 8 && minor === 0) ? 64 : 128;
}

/** The card's FP32 GFLOP/s and memory GB/s from what cn_device_info reports; null when it lacks a field. */
export function cardCeilings(info: CudaDeviceInfo): { gflops: number; gbps: number } | null {
  const { cc, sms } = info;
  const clock = info.clockKHz, memClock = info.memoryClockKHz, bus = info.memoryBusBits;
  if (typeof cc !== "string" || typeof sms !== "number" || typeof clock !== "number") return null;
  if (typeof memClock !== "number" || typeof bus !== "number") return null;
  return {
    gflops: sms * fp32LanesPerSm(cc) * 2 * clock / 1e6,
    gbps: 2 * memClock * 1e3 * (bus / 8) / 1e9, // double data rate
  };
}

export function benchKernels(be: Backend, opts: { minTime: number; quick: boolean; sync?: () => void }): Row[] {
  const g = new Generator(0);
  const sync = opts.sync ?? (() => {});
  const rows: Row[] = [];
  const convs: [string, Conv2dGeometry][] = [
    ["seed conv1 (10×1×28×28 → 16, 3×3 p1)", conv(10, 1, 28, 16, 3, 1)],
    ["seed conv1, batch 64", conv(64, 1, 28, 16, 3, 1)],
    ["LeNet conv2 (64×6×14×14 → 16, 5×5)", conv(64, 6, 14, 16, 5, 0)],
  ];
  if (!opts.quick) convs.push(["ResNet 3×3 (1×64×56×56 → 64, p1)", conv(1, 64, 56, 64, 3, 1)]);
  for (const [name, c] of convs) {
    const x = random(be, c.n * c.c * c.h * c.w, g), w = random(be, c.k * c.c * c.kh * c.kw, g);
    const dy = random(be, c.n * c.k * c.oh * c.ow, g), b = random(be, c.k, g);
    const y = be.alloc("float32", c.n * c.k * c.oh * c.ow);
    const dx = be.alloc("float32", c.n * c.c * c.h * c.w), dw = be.alloc("float32", c.k * c.c * c.kh * c.kw);
    const flops = 2 * c.n * c.k * c.oh * c.ow * c.c * c.kh * c.kw;
    for (
      const [kernel, fn] of [
        ["conv2d forward", () => be.conv2dForward!(y, x, w, b, c)],
        ["conv2d backward-input", () => be.conv2dBackwardInput!(dx, dy, w, c)],
        ["conv2d backward-weight", () => be.conv2dBackwardWeight!(dw, dy, x, c)],
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
      const fwd = time(() => be.pool2dForward!(kind, y, kind === "max" ? idx : null, x, p), opts.minTime, sync);
      rows.push({ kernel: `${kind}Pool2d forward`, shape: name, ms: fwd, gbps: bytes / fwd / 1e6, args: p });
      const bwd = time(() => be.pool2dBackward!(kind, dx, y, kind === "max" ? idx : null, p), opts.minTime, sync);
      rows.push({ kernel: `${kind}Pool2d backward`, shape: name, ms: bwd, gbps: bytes / bwd / 1e6, args: p });
    }
  }
  const gemms: [number, number, number][] = [[10, 10, 3136], [512, 512, 512]];
  if (!opts.quick) gemms.push([2048, 2048, 2048]);
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

function printTable(rows: Row[], peers: boolean, cuda: boolean): void {
  const head = ["kernel", "shape", "ms", "GFLOP/s", "GB/s"];
  if (rows.some((r) => r.backend)) head.splice(2, 0, "cpu");
  if (cuda) head.push("% peak");
  if (peers) head.push("torch ms", "torch ÷ convnet");
  const f = (v: number | null | undefined, d: number) => v === null || v === undefined ? "" : v.toFixed(d);
  const cells = rows.map((r) => {
    const c = [r.kernel, r.shape, f(r.ms, 3), f(r.gflops, 2), f(r.gbps, 2)];
    if (head[2] === "cpu") c.splice(2, 0, r.backend ?? "");
    if (cuda) c.push(f(r.peakPercent, 1));
    if (peers) c.push(f(r.torchMs, 3), r.speedup ? `${r.speedup.toFixed(2)}×` : "");
    return c;
  });
  const widths = head.map((h, i) => Math.max(h.length, ...cells.map((c) => c[i].length)));
  const line = (c: string[]) => c.map((s, i) => (i < 2 ? s.padEnd(widths[i]) : s.padStart(widths[i]))).join("  ");
  console.log(line(head));
  for (const c of cells) console.log(line(c));
}

const USAGE = `Times convnet's kernels (conv2d, pooling, GEMM) on fixed shapes; prints a table and writes JSON.

Usage: deno run -A scripts/bench_kernels.ts [flags]     (or: deno task bench -- [flags])

  --device cpu|cuda|auto  backend to time (default cpu: the TypeScript backend)
  --threads N             threads of the CPU backend (default: all cores, ${navigator.hardwareConcurrency})
  --cpu ts|wasm|both      the CPU backend: TypeScript loops, WebAssembly SIMD, or both, each kernel
                          one after the other in this run (default: the CPU device's choice, CONVNET_CPU)
  --reference             time the reference loops (one thread, no fast paths) instead
  --peers                 also time the same calls in PyTorch (same device, same threads) and add the ratio
  --python PATH           Python that imports torch, for --peers (default /usr/bin/python3)
  --min-time S            seconds of repeats per call; the median is reported (default 0.3)
  --quick                 leave out ResNet 56×56 and GEMM 2048³ (seconds per call on the CPU)
  --json PATH             where to write the JSON (default bench_out/kernels.json)
  --help                  print this and exit`;

function fail(message: string): never {
  console.error(`bench_kernels: ${message}\nRun with --help to see every flag.`);
  Deno.exit(2);
}

if (import.meta.main) {
  let values;
  try {
    ({ values } = parseArgs({
      args: Deno.args.filter((a) => a !== "--"),
      strict: true,
      options: {
        json: { type: "string", default: "bench_out/kernels.json" },
        "min-time": { type: "string", default: "0.3" },
        quick: { type: "boolean", default: false },
        device: { type: "string", default: "cpu" },
        threads: { type: "string", default: String(navigator.hardwareConcurrency) },
        reference: { type: "boolean", default: false },
        cpu: { type: "string", default: "" },
        peers: { type: "boolean", default: false },
        python: { type: "string", default: "/usr/bin/python3" },
        help: { type: "boolean", short: "h", default: false },
      },
    }));
  } catch (e) {
    fail((e as Error).message);
  }
  if (values.help) {
    console.log(USAGE);
    Deno.exit(0);
  }
  const threads = Number(values.threads);
  if (!Number.isInteger(threads) || threads < 1) fail(`--threads must be a positive integer, got ${values.threads}`);
  if (!["cpu", "cuda", "auto"].includes(values.device)) {
    fail(`--device must be cpu, cuda or auto, got ${values.device}`);
  }
  const minTime = Number(values["min-time"]);
  if (!(minTime > 0)) fail(`--min-time must be a positive number of seconds, got ${values["min-time"]}`);

  let dev;
  try {
    dev = device(values.device as DeviceRequest);
  } catch (e) {
    console.error(`bench_kernels: error: ${(e as Error).message}`);
    Deno.exit(1);
  }
  if (dev.type === "cpu") setNumThreads(threads); // the TypeScript backend's threads, before it allocates anything
  const be = values.reference ? tsReferenceBackend as Backend : dev.backend;
  const cuda = dev.type === "cuda" && !values.reference;
  const sync = cuda ? () => (be as CudaBackend).synchronize() : undefined;
  const info = cuda ? (be as CudaBackend).deviceInfo() : null;
  const ceilings = info && !/emulator/i.test(info.name) ? cardCeilings(info) : null;
  const ourThreads = be.name === "ts" || be.name === "wasm" ? getNumThreads() : 1;
  if (values.cpu !== "" && !["ts", "wasm", "both"].includes(values.cpu)) {
    fail(`--cpu must be ts, wasm or both, got ${values.cpu}`);
  }
  const cpuBackends = dev.type !== "cpu" || values.reference || values.cpu === ""
    ? [be]
    : (values.cpu === "both" ? ["ts", "wasm"] as const : [values.cpu as "ts" | "wasm"]).map((c) =>
      chooseCpuBackend(c).backend
    );
  const m = machine();
  const where = cuda ? dev.description : `${ourThreads} thread${ourThreads === 1 ? "" : "s"}`;
  const names = cpuBackends.map((b) => b.name).join(" and ");
  console.log(`convnet kernel benchmark: backend ${names} (${where}); ${m.cpu}, ${m.cores} cores, Deno ${m.deno}`);
  if (ceilings) {
    console.log(
      `ceilings of ${info!.name}: ${(ceilings.gflops / 1e3).toFixed(1)} TFLOP/s FP32, ` +
        `${ceilings.gbps.toFixed(0)} GB/s (from its SMs, clocks and bus width)`,
    );
  }
  const started = new Date();
  // With two CPU backends, the whole list runs on one, then on the other, in this one run; rows interleave.
  const perBackend = cpuBackends.map((b) => benchKernels(b, { minTime, quick: values.quick, sync }));
  const rows = perBackend.length === 1
    ? perBackend[0]
    : perBackend[0].flatMap((_, i) => perBackend.map((rs, j) => ({ ...rs[i], backend: cpuBackends[j].name })));
  if (ceilings) {
    for (const r of rows) {
      r.peakPercent = r.gflops !== undefined ? 100 * r.gflops / ceilings.gflops : 100 * r.gbps! / ceilings.gbps;
    }
  }

  let torch: Record<string, unknown> | null = null;
  if (values.peers) torch = runTorchTwin(rows, values.python, cuda ? "cuda" : "cpu", ourThreads, minTime);
  console.log("");
  printTable(rows, torch !== null, ceilings !== null);
  if (torch) {
    console.log(
      `torch ÷ convnet: PyTorch ${torch.torch} time ÷ convnet time for the same call ` +
        `(above 1: convnet is faster); PyTorch on ${
          cuda ? torch.card : `${torch.threads} thread(s), BLAS ${torch.blas}`
        }`,
    );
  }
  Deno.mkdirSync(dirname(values.json) || ".", { recursive: true });
  Deno.writeTextFileSync(
    values.json,
    JSON.stringify(
      {
        date: started.toISOString(),
        command: `deno run -A scripts/bench_kernels.ts ${Deno.args.join(" ")}`.trim(),
        machine: m,
        backend: be.name,
        device: dev.description,
        card: info,
        ceilings,
        threads: ourThreads,
        torch: torch && {
          version: torch.torch,
          device: torch.device,
          card: torch.card,
          threads: torch.threads,
          blas: torch.blas,
        },
        rows,
      },
      null,
      2,
    ),
  );
  console.log(`wrote ${values.json}`);
}

/** Runs scripts/bench_kernels_torch.py on these rows; fills `torchMs` and `speedup`; null if it cannot. */
function runTorchTwin(
  rows: Row[],
  python: string,
  dev: "cpu" | "cuda",
  threads: number,
  minTime: number,
): Record<string, unknown> | null {
  const available = pythonWithTorch(python);
  if (available === null) {
    console.error(`bench_kernels: ${python} cannot import torch; no PyTorch column (try --python PATH)`);
    return null;
  }
  if (dev === "cuda" && available !== "True") {
    console.error(`bench_kernels: the PyTorch of ${python} has no CUDA; no PyTorch column`);
    return null;
  }
  const dir = Deno.makeTempDirSync({ prefix: "convnet_bench_kernels_" });
  try {
    const ours = join(dir, "convnet.json"), theirs = join(dir, "torch.json");
    Deno.writeTextFileSync(ours, JSON.stringify({ rows }));
    const script = join(dirname(fromFileUrl(import.meta.url)), "bench_kernels_torch.py");
    const args = [script, ours, theirs, "--device", dev, "--min-time", String(minTime)];
    if (dev === "cpu") args.push("--threads", String(threads));
    console.log(`\nPyTorch: ${python} ${args.join(" ")}`);
    const r = new Deno.Command(python, { args, stdout: "inherit", stderr: "inherit" }).outputSync();
    if (!r.success) {
      console.error(`bench_kernels: the PyTorch twin failed (exit ${r.code}); no PyTorch column`);
      return null;
    }
    const out = JSON.parse(Deno.readTextFileSync(theirs));
    for (const row of rows) {
      const t = out.rows.find((x: Row) => x.kernel === row.kernel && x.shape === row.shape);
      row.torchMs = t?.ms ?? null;
      row.speedup = row.torchMs ? row.torchMs / row.ms : null;
    }
    return out;
  } finally {
    Deno.removeSync(dir, { recursive: true });
  }
}
