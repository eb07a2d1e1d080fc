import { assertClose, assertEquals, assertOk } from "./_std.ts";
import { cardCeilings } from "../scripts/bench_kernels.ts";

// The published FP32 (no tensor cores) and memory-bandwidth numbers of these cards, from the
// attributes CUDA reports for them: the "% peak" column of bench_kernels.ts depends on this.
Deno.test("cardCeilings: FP32 and bandwidth ceilings of known cards from SMs, clocks and bus width", () => {
  const a100 = cardCeilings({
    name: "NVIDIA A100-SXM4-40GB",
    cc: "8.0",
    sms: 108,
    clockKHz: 1_410_000,
    memoryClockKHz: 1_215_000,
    memoryBusBits: 5120,
  });
  assertOk(a100 !== null);
  assertClose([a100.gflops], [19_492], { atol: 1, rtol: 0, label: "a100 gflops" }); // 19.5 TFLOP/s: 64 FP32 lanes per SM on cc 8.0
  assertClose([a100.gbps], [1555], { atol: 1, rtol: 0, label: "a100 gbps" }); // 1.555 TB/s
  const h100 = cardCeilings({
    name: "NVIDIA H100 80GB HBM3",
    cc: "9.0",
    sms: 132,
    clockKHz: 1_980_000,
    memoryClockKHz: 2_619_000,
    memoryBusBits: 5120,
  });
  assertOk(h100 !== null);
  assertClose([h100.gflops], [66_908], { atol: 1, rtol: 0, label: "h100 gflops" }); // ~67 TFLOP/s: 128 lanes per SM
  assertClose([h100.gbps], [3352], { atol: 1, rtol: 0, label: "h100 gbps" }); // 3.35 TB/s
  const rtx4090 = cardCeilings({
    name: "RTX 4090",
    cc: "8.9",
    sms: 128,
    clockKHz: 2_520_000,
    memoryClockKHz: 10_501_000,
    memoryBusBits: 384,
  });
  assertOk(rtx4090 !== null);
  assertClose([rtx4090.gflops], [82_575], { atol: 1, rtol: 0, label: "rtx4090 gflops" }); // 82.6 TFLOP/s
  assertClose([rtx4090.gbps], [1008], { atol: 1, rtol: 0, label: "rtx4090 gbps" }); // 1.008 TB/s
});

Deno.test("cardCeilings: null when the library did not report the clocks (an older build)", () => {
  assertEquals(cardCeilings({ name: "old", cc: "9.0", sms: 132 }), null);
});

// The PyTorch twin (scripts/bench_train_torch.py) on the CPU, with /usr/bin/python3's torch when it has one.
const PYTHON = "/usr/bin/python3";
const TWIN = new URL("../scripts/bench_train_torch.py", import.meta.url).pathname;
const hasTorch = (() => {
  try {
    // find_spec does not import torch (which takes seconds)
    const probe = "import importlib.util, sys; sys.exit(importlib.util.find_spec('torch') is None)";
    return new Deno.Command(PYTHON, { args: ["-c", probe], stdout: "null", stderr: "null" }).outputSync().success;
  } catch {
    return false;
  }
})();

async function twin(args: string[]): Promise<{ code: number; rows: Record<string, unknown>[]; stderr: string }> {
  const out = await new Deno.Command(PYTHON, { args: [TWIN, ...args], stdout: "piped", stderr: "piped" }).output();
  const text = new TextDecoder().decode(out.stdout);
  const rows = text.split("\n").filter((l) => l.startsWith("{")).map((l) => JSON.parse(l));
  return { code: out.code, rows, stderr: new TextDecoder().decode(out.stderr) };
}

Deno.test({
  name: "bench_train_torch: eager, graph body and DataLoader rows in bench_train's JSON shape; graph body = eager; " +
    "an unknown --modes entry is an error naming the flag and the known modes",
  ignore: !hasTorch,
  async fn() {
    // Both runs at once: each spends most of its time importing torch.
    const [r, bad] = await Promise.all([
      twin([
        ...["--synthetic", "64", "--modes", "eager,graph,loader", "--batch-sizes", "10"],
        ...["--samples", "25", "--warmup", "2"],
      ]),
      twin(["--synthetic", "16", "--modes", "eager,replay"]),
    ]);
    assertEquals(r.code, 0, r.stderr);
    assertEquals(r.rows.map((x) => [x.mode, x.batchSize, x.steps, x.threads]), [
      ["eager", 10, 3, 1],
      ["graph", 10, 3, 1],
      ["loader", 10, 3, 1],
    ]);
    const systems = r.rows.map((x) => String(x.system));
    assertOk(/^PyTorch \S+ cpu$/.test(systems[0]), systems[0]);
    assertOk(/^PyTorch \S+ cpu graph$/.test(systems[1]), systems[1]);
    assertOk(/^PyTorch \S+ cpu DataLoader$/.test(systems[2]), systems[2]);
    for (const x of r.rows) {
      assertOk(typeof x.seconds === "number" && x.seconds > 0, `seconds ${x.seconds}`);
      assertClose([x.samplesPerSec as number], [30 / (x.seconds as number)], {
        atol: 0,
        rtol: 1e-9,
        label: "samples/s",
      });
      assertOk(Number.isFinite(x.lastLoss) && (x.lastLoss as number) > 0, `lastLoss ${x.lastLoss}`);
    }
    assertOk(String(r.rows[1].notes).includes("no capture on cpu"), String(r.rows[1].notes));
    // The graph mode's step body (static indices, gradients set to None, the optimizer after) trains
    // exactly as the eager step does: the same last loss, bit for bit.
    assertEquals(r.rows[1].lastLoss, r.rows[0].lastLoss);
    assertEquals(bad.code, 2);
    assertOk(
      bad.stderr.includes("--modes: replay not known; expected a comma-separated list of eager, graph, loader"),
      bad.stderr,
    );
  },
});

// gpu_check.sh's report (the heredoc it writes to $OUT/report.ts) on a card run's files: the GPU step table.
Deno.test("gpu_check report: the GPU step rows, PyTorch's three modes beside convnet, a missing graph row said so", async () => {
  const script = Deno.readTextFileSync(new URL("../scripts/gpu_check.sh", import.meta.url));
  const report = /cat >"\$OUT\/report\.ts" <<'TS'\n([\s\S]*?)\nTS\n/.exec(script);
  assertOk(report, "gpu_check.sh writes report.ts from a <<'TS' heredoc");
  const dir = Deno.makeTempDirSync({ prefix: "gpu_check_report_" });
  try {
    Deno.writeTextFileSync(`${dir}/report.ts`, report[1]);
    Deno.writeTextFileSync(`${dir}/facts.tsv`, "mode\tcard\ndate\t2026-11-30\ncommit\tabc1234\n");
    const rows = [
      { system: "convnet cuda", batchSize: 10, samplesPerSec: 200_000, launchesPerStep: 9, streamOpsPerStep: 10 },
      { system: "PyTorch 2.5.1 cpu", threads: 1, batchSize: 10, samplesPerSec: 5_000 },
      { system: "PyTorch 2.5.1 cuda", batchSize: 10, samplesPerSec: 30_000, notes: "eager note; python 3" },
      { system: "PyTorch 2.5.1 cuda graph", batchSize: 10, samplesPerSec: 250_000, notes: "whole step; python 3" },
      { system: "PyTorch 2.5.1 cuda DataLoader", batchSize: 10, samplesPerSec: 16_000, notes: "loader; python 3" },
      { system: "convnet cuda graph", batchSize: 64, samplesPerSec: 3_000_000, graphLaunchesPerStep: 1 },
    ];
    Deno.writeTextFileSync(`${dir}/train_bench.json`, JSON.stringify({ rows }));
    const out = await new Deno.Command(Deno.execPath(), {
      args: ["run", "--allow-read", "--allow-write", `${dir}/report.ts`, dir],
      stdout: "piped",
      stderr: "piped",
    }).output();
    assertEquals(out.code, 0, new TextDecoder().decode(out.stderr));
    const summary = JSON.parse(Deno.readTextFileSync(`${dir}/summary.json`));
    assertEquals(summary.gpuStep.length, 10); // 5 kinds × batch 10 and 64
    const graph64 = summary.gpuStep[6];
    assertEquals([graph64.kind, graph64.batchSize, graph64.graphLaunchesPerStep], ["convnet graph", 64, 1]);
    const step = summary.gpuStep.slice(0, 5).map((
      g: Record<string, unknown>,
    ) => [g.kind, g.samplesPerSec, g.launchesPerStep, g.note]);
    assertEquals(step, [
      ["convnet eager", 200_000, 9, ""],
      ["convnet graph", null, null, "not available in this build"],
      ["PyTorch eager", 30_000, null, "eager note"],
      ["PyTorch graph (torch.cuda.graph)", 250_000, null, "whole step"],
      ["PyTorch DataLoader (the seed's loop)", 16_000, null, "loader"],
    ]);
    assertClose([summary.gpuStep[0].usPerStep], [50], { atol: 1e-9, rtol: 0, label: "µs per step at 200k samples/s" });
    // The older training summary still pairs convnet with PyTorch's eager CUDA row, not the graph one.
    assertEquals(summary.training[0], { batchSize: 10, convnet: 200_000, torch: 30_000, ratio: 0.15 });
    const text = new TextDecoder().decode(out.stdout);
    assertOk(/convnet graph\s+10\s+-\s+-.*not available in this build/.test(text), text);
  } finally {
    Deno.removeSync(dir, { recursive: true });
  }
});
