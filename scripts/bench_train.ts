/**
 * Training throughput of the seed's network (examples/mnist/net.ts) on real MNIST, and with
 * `--peers` the same model and loop in TensorFlow.js and PyTorch, in one table:
 *
 *   deno run -A scripts/bench_train.ts [--peers] [--threads N] [--device auto|cpu|cuda]
 *     [--batch-sizes 10,64,256] [--samples 6000] [--warmup 20] [--json PATH] ...
 *
 * Each measurement trains a fresh `Net` with Adadelta (lr 1.0) on normalized MNIST batches
 * (DataLoader, shuffled): `warmup` untimed steps, then `ceil(samples / batch)` timed steps
 * (zero_grad, forward, cross-entropy, backward, step), ending with a read of the loss (which
 * synchronizes a GPU). On CUDA the native library's counters give each row its launches, graph
 * launches, stream operations (launches + copies + memsets), syncs and bytes copied per step. Rows:
 *
 * - convnet's CPU backends (`--cpu`: WebAssembly SIMD and the TypeScript loops) on 1 thread and on
 *   `--threads` (default: all cores);
 * - convnet on CUDA when `device("auto")` finds it (or `--device cuda`);
 * - with `--peers`: TensorFlow.js 4.22 WASM SIMD (one thread) and pure-JS `cpu` (about 25
 *   samples/s, so only `--tfjs-cpu-samples`), from scripts/bench_train_tfjs.ts; PyTorch on 1
 *   thread and on all cores (CUDA too when torch sees a GPU), from scripts/bench_train_torch.py
 *   run with `--python` (default: /usr/bin/python3, Debian's python3-torch, when it imports torch).
 *   On CUDA the twin prints three rows per batch size: eager, torch.cuda.graph capture ("… cuda graph") and the
 *   seed's per-sample DataLoader path ("… cuda DataLoader").
 *
 * The last column is convnet's samples/s (the CPU device's backend, `--threads` threads, same batch
 * size) divided by the row's. The table is also written as JSON with the machine's description
 * and the load average before and after (other processes make every number noisy).
 *
 * @module
 */
import { parseArgs } from "node:util";
import { Net } from "../examples/mnist/net.ts";
import { Adadelta } from "../src/optim/mod.ts";
import { DataLoader, type ImageDataset, loadMnist } from "../src/data/mod.ts";
import { crossEntropy } from "../src/tensor/functional.ts";
import { type Tensor, tidy } from "../src/tensor/mod.ts";
import { manualSeed } from "../src/tensor/random.ts";
import { cpu, type Device, device } from "../src/backend/device.ts";
import { getNumThreads, setNumThreads } from "../src/backend/ts/mod.ts";
import { chooseCpuBackend } from "../src/backend/wasm/select.ts";
import { dirname, fromFileUrl, join } from "../src/_path.ts";
import type { CudaStats } from "../src/backend/cuda/mod.ts";
import { compileStep } from "../src/train/compile_step.ts";

/** One measurement: a system at a batch size. */
export interface BenchRow {
  /** What ran, e.g. "convnet ts" or "PyTorch 1.13.0 cpu". */
  system: string;
  /** Threads it ran on (null on a GPU). */
  threads: number | null;
  /** Training batch size. */
  batchSize: number;
  /** Timed steps. */
  steps: number;
  /** Seconds of the timed steps. */
  seconds: number;
  /** Training throughput. */
  samplesPerSec: number;
  /** Milliseconds per step. */
  msPerStep: number;
  /** convnet's samples/s at this batch size (the CPU device's backend on `--threads`; CUDA when only it ran) ÷ this row's. */
  convnetRatio: number | null;
  /** Anything worth knowing (SIMD, BLAS, ...). */
  notes?: string;
  /** CUDA rows: kernel launches per timed step (the native library's counters, `cn_stats`). */
  launchesPerStep?: number;
  /** CUDA rows: CUDA graph launches per step. */
  graphLaunchesPerStep?: number;
  /** CUDA rows: waits for the stream per step (the window's final loss read counts one). */
  syncsPerStep?: number;
  /** CUDA rows: launches + copies + memsets per step: what the host asks of the card. */
  streamOpsPerStep?: number;
  /** CUDA rows: host-to-device bytes per step. */
  h2dBytesPerStep?: number;
  /** CUDA rows: device-to-host bytes per step. */
  d2hBytesPerStep?: number;
  /** CUDA rows: device-to-device bytes per step. */
  d2dBytesPerStep?: number;
  /** CUDA rows: driver allocations (`cudaMalloc`) per step: 0 once the caching allocator is warm. */
  driverAllocsPerStep?: number;
}

const USAGE = `usage: deno run -A scripts/bench_train.ts [options]
  --peers                 also run TensorFlow.js (WASM SIMD and cpu) and PyTorch (1 thread, all threads)
  --threads N             threads of the TypeScript backend's second row (default: all cores, ${navigator.hardwareConcurrency})
  --device auto|cpu|cuda  auto adds CUDA rows when CUDA works; cuda requires it (default auto)
  --cpu ts|wasm|both      convnet's CPU backend rows: TypeScript loops, WebAssembly SIMD, or both (default both)
  --batch-sizes LIST      comma-separated batch sizes (default 10,64,256)
  --samples N             samples per timed window; steps = ceil(N / batch) (default 10000)
  --warmup N              untimed steps before each window (default 20)
  --tfjs-cpu-samples N    samples per window for TensorFlow.js's pure-JS backend, 0 to skip (default 200)
  --python PATH           Python with torch for the PyTorch rows (default /usr/bin/python3)
  --torch-blas PATH       a BLAS library to LD_PRELOAD into PyTorch (Debian's links the reference BLAS)
  --unfused               also time the Net with conv1, relu and maxpool run one by one (no fused pass)
  --json PATH             where the JSON goes (default bench_out/train.json)
  --help                  this text`;

const OPTIONS = {
  peers: { type: "boolean", default: false },
  threads: { type: "string", default: String(navigator.hardwareConcurrency) },
  device: { type: "string", default: "auto" },
  "batch-sizes": { type: "string", default: "10,64,256" },
  samples: { type: "string", default: "10000" },
  warmup: { type: "string", default: "20" },
  "tfjs-cpu-samples": { type: "string", default: "200" },
  python: { type: "string", default: "/usr/bin/python3" },
  "torch-blas": { type: "string" },
  unfused: { type: "boolean", default: false },
  json: { type: "string", default: "bench_out/train.json" },
  cpu: { type: "string", default: "both" },
  help: { type: "boolean", default: false },
} as const;

function parse() {
  let values;
  try {
    ({ values } = parseArgs({ args: Deno.args, options: OPTIONS }));
  } catch (e) {
    console.error(`bench_train: ${(e as Error).message}\n${USAGE}`);
    Deno.exit(2);
  }
  if (values.help) {
    console.log(USAGE);
    Deno.exit(0);
  }
  const int = (name: string, v: string, min: number) => {
    const n = Number(v);
    if (!Number.isInteger(n) || n < min) {
      console.error(`bench_train: --${name} must be an integer ≥ ${min}, got ${JSON.stringify(v)}\n${USAGE}`);
      Deno.exit(2);
    }
    return n;
  };
  if (!["auto", "cpu", "cuda"].includes(values.device)) {
    console.error(`bench_train: --device must be auto, cpu or cuda, got ${JSON.stringify(values.device)}`);
    Deno.exit(2);
  }
  if (!["ts", "wasm", "both"].includes(values.cpu)) {
    console.error(`bench_train: --cpu must be ts, wasm or both, got ${JSON.stringify(values.cpu)}`);
    Deno.exit(2);
  }
  return {
    cpu: values.cpu === "both" ? ["ts", "wasm"] as const : [values.cpu as "ts" | "wasm"],
    peers: values.peers,
    threads: int("threads", values.threads, 1),
    device: values.device as "auto" | "cpu" | "cuda",
    batchSizes: values["batch-sizes"].split(",").map((b) => int("batch-sizes", b, 1)),
    samples: int("samples", values.samples, 1),
    warmup: int("warmup", values.warmup, 0),
    tfjsCpuSamples: int("tfjs-cpu-samples", values["tfjs-cpu-samples"], 0),
    python: values.python,
    torchBlas: values["torch-blas"],
    json: values.json,
    unfused: values.unfused,
  };
}

/** The Net's forward with conv1, relu and maxpool run one by one: what `--unfused` times. */
function forwardUnfused(m: Net, x: Tensor): Tensor {
  const h = m.maxpool.forward(m.relu.forward(m.conv1.forward(x)));
  return m.fc.forward(h.view([h.shape[0], -1]));
}

/** Trains a fresh Net on `dev` and times `steps` steps after `warmup`. */
function timeTraining(
  dev: Device,
  ds: ImageDataset,
  batchSize: number,
  o: { samples: number; warmup: number; unfused?: boolean; graph?: boolean },
): { steps: number; seconds: number; lastLoss: number; counts: Partial<BenchRow> } {
  manualSeed(1);
  const model = new Net().to(dev);
  const opt = new Adadelta(model.parameters(), { lr: 1.0 });
  const steps = Math.ceil(o.samples / batchSize);
  const loader = new DataLoader(ds, {
    batchSize,
    shuffle: true,
    seed: 1,
    transform: { mean: 0.1307, std: 0.3081 },
    dropLast: true,
    ...(dev.type === "cuda" ? { device: dev } : {}), // batches gathered on the GPU, as trainMnist does
  });
  // --device cuda's graph row: the same step replayed as a CUDA graph (its first two calls, an eager
  // warm-up and the capture, fall in the warm-up).
  const step = compileStep((x: Tensor, y: Tensor) => {
    opt.zeroGrad();
    const loss = crossEntropy(o.unfused ? forwardUnfused(model, x) : model.forward(x), y);
    loss.backward();
    opt.step();
    return loss;
  }, { graph: o.graph ?? false });
  let batches = loader[Symbol.iterator]();
  let last: Tensor | null = null;
  let start = 0;
  const readStats = (dev as { stats?: () => CudaStats }).stats;
  let before: CudaStats | null = null;
  for (let i = 0; i < o.warmup + steps; i++) {
    if (i === o.warmup) {
      last?.item(); // wait for the warm-up (on a GPU)
      before = readStats ? readStats() : null;
      start = performance.now();
    }
    let next = batches.next();
    if (next.done) next = (batches = loader[Symbol.iterator]()).next();
    const [images, labels] = next.value!;
    last?.dispose();
    last = tidy(() => {
      const x = dev === images.device ? images : images.to(dev), y = dev === labels.device ? labels : labels.to(dev);
      return step(x, y).detach(); // a graph's output is reused by the next replay: dispose a view of it only
    });
    images.dispose();
    labels.dispose();
  }
  const lastLoss = last!.item();
  const seconds = (performance.now() - start) / 1000;
  last!.dispose();
  step.dispose();
  return { steps, seconds, lastLoss, counts: before && readStats ? perStep(before, readStats(), steps) : {} };
}

/** The CUDA counters' difference over `steps` steps, per step. */
function perStep(a: CudaStats, b: CudaStats, steps: number): Partial<BenchRow> {
  const d = (k: keyof CudaStats) => (b[k] - a[k]) / steps;
  return {
    launchesPerStep: d("launches"),
    graphLaunchesPerStep: d("graphLaunches"),
    syncsPerStep: d("syncs"),
    streamOpsPerStep: d("launches") + d("graphLaunches") + d("h2dCopies") + d("d2hCopies") + d("d2dCopies") +
      d("memsets"),
    h2dBytesPerStep: d("h2dBytes"),
    d2hBytesPerStep: d("d2hBytes"),
    d2dBytesPerStep: d("d2dBytes"),
    driverAllocsPerStep: d("driverAllocs"),
  };
}

function row(system: string, threads: number | null, batchSize: number, steps: number, seconds: number): BenchRow {
  return {
    system,
    threads,
    batchSize,
    steps,
    seconds,
    samplesPerSec: steps * batchSize / seconds,
    msPerStep: 1000 * seconds / steps,
    convnetRatio: null,
  };
}

/** Runs a peer script and collects the JSON lines it prints (its stderr passes through). */
async function runPeer(cmd: string, args: string[], env: Record<string, string> = {}): Promise<BenchRow[]> {
  const out = await new Deno.Command(cmd, { args, env, stdout: "piped", stderr: "inherit" }).output();
  const text = new TextDecoder().decode(out.stdout);
  if (!out.success) {
    console.error(`bench_train: ${cmd} ${args.join(" ")} failed (exit ${out.code}); its rows are missing`);
  }
  return text.split("\n").filter((l) => l.startsWith("{")).map((l) => {
    const r = JSON.parse(l);
    return { ...row(r.system, r.threads, r.batchSize, r.steps, r.seconds), notes: r.notes || undefined };
  });
}

/** Writes the first `count` training samples as uncompressed IDX files for the Python twin. */
function writeIdx(ds: ImageDataset, count: number): string {
  const dir = Deno.makeTempDirSync({ prefix: "convnet_bench_" });
  const header = (magic: number, dims: number[]) => {
    const h = new DataView(new ArrayBuffer(4 + 4 * dims.length));
    h.setUint32(0, magic);
    dims.forEach((d, i) => h.setUint32(4 + 4 * i, d));
    return new Uint8Array(h.buffer);
  };
  const pixels = ds.rows * ds.cols;
  const images = join(dir, "train-images-idx3-ubyte"), labels = join(dir, "train-labels-idx1-ubyte");
  Deno.writeFileSync(images, header(0x803, [count, ds.rows, ds.cols]));
  Deno.writeFileSync(images, ds.images.subarray(0, count * pixels), { append: true });
  Deno.writeFileSync(labels, header(0x801, [count]));
  Deno.writeFileSync(labels, ds.labels.subarray(0, count), { append: true });
  return dir;
}

export function pythonWithTorch(python: string): string | null {
  try {
    const r = new Deno.Command(python, { args: ["-c", "import torch; print(torch.cuda.is_available())"] })
      .outputSync();
    return r.success ? new TextDecoder().decode(r.stdout).trim() : null;
  } catch {
    return null;
  }
}

function readText(path: string): string {
  try {
    return Deno.readTextFileSync(path);
  } catch {
    return "";
  }
}

/** CPU model, cores, OS, Deno and V8: what the numbers were measured on. */
export function machine(): Record<string, string | number> {
  const cpuModel = readText("/proc/cpuinfo").match(/^model name\s*:\s*(.+)$/m)?.[1] ?? "unknown";
  const os = readText("/etc/os-release").match(/^PRETTY_NAME="?([^"\n]+)"?$/m)?.[1] ?? Deno.build.os;
  return {
    cpu: cpuModel,
    cores: navigator.hardwareConcurrency,
    os: `${os} (kernel ${Deno.osRelease()}, ${Deno.build.arch})`,
    deno: Deno.version.deno,
    v8: Deno.version.v8,
  };
}

const loadAvg = () => readText("/proc/loadavg").split(" ").slice(0, 3).join(" ");

function printTable(rows: BenchRow[]): void {
  const head = ["system", "threads", "batch", "samples/s", "ms/step", "convnet ÷ this"];
  // The CUDA counters per step, when a row has them.
  const counted = rows.some((r) => r.launchesPerStep !== undefined);
  const num = (v: number | undefined, digits = 2) => v === undefined ? "" : String(Number(v.toFixed(digits)));
  if (counted) head.push("launches", "graphs", "stream ops", "syncs", "H2D B", "D2H B", "D2D B");
  const cells = rows.map((r) => [
    r.system,
    r.threads === null ? "gpu" : String(r.threads),
    String(r.batchSize),
    r.samplesPerSec.toFixed(0),
    r.msPerStep.toFixed(2),
    r.convnetRatio === null ? "" : `${r.convnetRatio.toFixed(2)}×`,
    ...(counted
      ? [
        num(r.launchesPerStep),
        num(r.graphLaunchesPerStep),
        num(r.streamOpsPerStep),
        num(r.syncsPerStep, 3),
        num(r.h2dBytesPerStep, 1),
        num(r.d2hBytesPerStep, 1),
        num(r.d2dBytesPerStep, 1),
      ]
      : []),
  ]);
  const widths = head.map((h, i) => Math.max(h.length, ...cells.map((c) => c[i].length)));
  const line = (c: string[]) => c.map((s, i) => (i === 0 ? s.padEnd(widths[i]) : s.padStart(widths[i]))).join("  ");
  console.log(line(head));
  for (const c of cells) console.log(line(c));
}

if (import.meta.main) {
  const o = parse();
  const started = new Date();
  const loadBefore = loadAvg();
  const m = machine();
  console.log(
    `seed Net on MNIST, Adadelta lr 1.0; ${o.samples} samples per window after ${o.warmup} warm-up steps\n` +
      `${m.cpu}, ${m.cores} cores, ${m.os}, Deno ${m.deno}; load average ${loadBefore}`,
  );
  const ds = await loadMnist({ train: true });
  const rows: BenchRow[] = [];
  const add = (r: BenchRow) => {
    rows.push(r);
    console.error(
      `  ${r.system} (${r.threads ?? "gpu"} threads) batch ${r.batchSize}: ${r.samplesPerSec.toFixed(0)} samples/s`,
    );
  };

  const ours = `convnet ${cpu.backend.name}`;
  // Each CPU backend as a device (the default one is `cpu` itself); at each batch size they run back to back.
  const cpus = o.cpu.map((c) => chooseCpuBackend(c)).map((c): Device =>
    c.backend === cpu.backend ? cpu : { type: "cpu", backend: c.backend, description: c.description }
  );
  if (o.device !== "cuda") {
    for (const threads of o.threads === 1 ? [1] : [1, o.threads]) {
      setNumThreads(threads);
      for (const bs of o.batchSizes) {
        for (const dev of cpus) {
          const t = timeTraining(dev, ds, bs, o);
          add(row(`convnet ${dev.backend.name}`, getNumThreads(), bs, t.steps, t.seconds));
          if (!o.unfused) continue;
          const u = timeTraining(dev, ds, bs, { ...o, unfused: true });
          add(row(`convnet ${dev.backend.name} unfused`, getNumThreads(), bs, u.steps, u.seconds));
        }
      }
    }
    setNumThreads(1);
  }
  let gpu = null;
  try {
    if (o.device !== "cpu") gpu = o.device === "cuda" ? device("cuda") : device("auto", { onNotice: () => {} });
  } catch (e) {
    console.error(`bench_train: error: ${(e as Error).message}`);
    Deno.exit(1);
  }
  if (gpu && gpu !== cpu) {
    for (const bs of o.batchSizes) {
      const t = timeTraining(gpu, ds, bs, o);
      add({ ...row(`convnet ${gpu.backend.name}`, null, bs, t.steps, t.seconds), ...t.counts });
      const g = timeTraining(gpu, ds, bs, { ...o, warmup: Math.max(o.warmup, 2), graph: true });
      add({ ...row(`convnet ${gpu.backend.name} graph`, null, bs, g.steps, g.seconds), ...g.counts });
    }
  }

  if (o.peers) {
    const here = dirname(fromFileUrl(import.meta.url));
    const sizes = ["--batch-sizes", o.batchSizes.join(",")];
    const tfjs = (backend: string, samples: number, warmup: number) =>
      runPeer(Deno.execPath(), [
        "run",
        "-A",
        join(here, "bench_train_tfjs.ts"),
        ...["--backend", backend, ...sizes, "--samples", String(samples), "--warmup", String(warmup)],
      ]);
    for (const r of await tfjs("wasm", o.samples, o.warmup)) add(r);
    if (o.tfjsCpuSamples > 0) { for (const r of await tfjs("cpu", o.tfjsCpuSamples, 1)) add(r); }

    const cuda = pythonWithTorch(o.python);
    if (cuda === null) console.error(`bench_train: ${o.python} cannot import torch; skipping the PyTorch rows`);
    else {
      // Batches wrap around these samples (the order does not change the cost of a step).
      const dir = writeIdx(ds, Math.min(ds.length, 20_000));
      // glibc returns freed blocks of 128 KiB and more to the OS at once; PyTorch allocates each op's output
      // anew, so every step pays page faults, which on this machine's VM made a step 5-40x slower run to
      // run (a 10x32x28x28 conv: 0.15 ms or 5-9 ms). Raising the thresholds keeps freed memory in the process,
      // as jemalloc or tcmalloc would: the fair, fast configuration of the peer.
      const env: Record<string, string> = {
        MALLOC_MMAP_THRESHOLD_: String(2 ** 28),
        MALLOC_TRIM_THRESHOLD_: String(2 ** 28),
        ...(o.torchBlas ? { LD_PRELOAD: o.torchBlas } : {}),
      };
      const torch = (args: string[]) =>
        runPeer(o.python, [
          join(here, "bench_train_torch.py"),
          ...["--data", dir, ...sizes, "--samples", String(o.samples), "--warmup", String(o.warmup), ...args],
        ], env);
      for (const threads of [...new Set([1, navigator.hardwareConcurrency])]) {
        for (const r of await torch(["--threads", String(threads)])) add(r);
      }
      if (cuda === "True") { for (const r of await torch(["--device", "cuda"])) add(r); }
      Deno.removeSync(dir, { recursive: true });
    }
  }

  // The yardstick: the CPU device's backend on --threads threads, or convnet on CUDA when only it ran.
  const yardstick = rows.some((r) => r.system === ours) ? ours : rows.find((r) => r.threads === null)?.system;
  for (const r of rows) {
    const ref = rows.find((x) =>
      x.system === yardstick && (x.threads === o.threads || x.threads === null) && x.batchSize === r.batchSize
    );
    r.convnetRatio = ref ? ref.samplesPerSec / r.samplesPerSec : null;
  }
  const loadAfter = loadAvg();
  console.log("");
  printTable(rows);
  if (yardstick) {
    const on = yardstick === ours ? `${o.threads} thread${o.threads > 1 ? "s" : ""}` : "the GPU";
    console.log(`convnet ÷ this: ${yardstick} on ${on}, samples/s at the same batch size, over the row's`);
  }
  console.log(`load average before ${loadBefore}, after ${loadAfter}`);
  const command = `deno run -A scripts/bench_train.ts ${Deno.args.join(" ")}`.trim();
  Deno.mkdirSync(dirname(o.json) || ".", { recursive: true });
  Deno.writeTextFileSync(
    o.json,
    JSON.stringify(
      {
        date: started.toISOString(),
        command,
        machine: m,
        loadAverage: { before: loadBefore, after: loadAfter },
        options: o,
        rows,
      },
      null,
      2,
    ),
  );
  console.log(`wrote ${o.json}`);
}
