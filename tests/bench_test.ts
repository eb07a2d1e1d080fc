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
    return new Deno.Command(PYTHON, { args: ["-c", "import torch"], stdout: "null", stderr: "null" }).outputSync()
      .success;
  } catch {
    return false;
  }
})();

function twin(args: string[]): { code: number; rows: Record<string, unknown>[]; stderr: string } {
  const out = new Deno.Command(PYTHON, { args: [TWIN, ...args], stdout: "piped", stderr: "piped" }).outputSync();
  const text = new TextDecoder().decode(out.stdout);
  const rows = text.split("\n").filter((l) => l.startsWith("{")).map((l) => JSON.parse(l));
  return { code: out.code, rows, stderr: new TextDecoder().decode(out.stderr) };
}

Deno.test({
  name: "bench_train_torch: eager, graph body and DataLoader rows in bench_train's JSON shape; graph body = eager",
  ignore: !hasTorch,
  fn() {
    const r = twin([
      ...["--synthetic", "64", "--modes", "eager,graph,loader", "--batch-sizes", "10"],
      ...["--samples", "25", "--warmup", "2"],
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
  },
});

Deno.test({
  name: "bench_train_torch: an unknown --modes entry is an error naming the flag and the known modes",
  ignore: !hasTorch,
  fn() {
    const r = twin(["--synthetic", "16", "--modes", "eager,replay"]);
    assertEquals(r.code, 2);
    assertOk(
      r.stderr.includes("--modes: replay not known; expected a comma-separated list of eager, graph, loader"),
      r.stderr,
    );
  },
});
