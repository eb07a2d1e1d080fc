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
