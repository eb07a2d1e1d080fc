/**
 * The CUDA backend's per-thread counters: `threadStats()` counts this thread's launches, and
 * `threadLaunches()` names its last 16, oldest first (what a step test prints when a step queues
 * more than it should).
 *
 * @module
 */
import { assertEquals } from "./_std.ts";
import { dev, test } from "./_cuda.ts";
import { noGrad, tensor } from "../src/tensor/mod.ts";

test("cuda threadLaunches names this thread's last 16 launches in order, as threadStats counts them", () => {
  const d = dev();
  noGrad(() => {
    const a = tensor([1, 2, 3], [3], { device: d });
    const before = d.threadStats().launches;
    const s = a.add(a).mul(a).sum();
    assertEquals(d.threadStats().launches - before, 3, "three launches");
    assertEquals(d.threadLaunches().slice(-3), ["cn_binary: ADD", "cn_binary: MUL", "cn_reduce: SUM"]);
    // 20 launches more: only the last 16 are kept, the oldest first.
    const made = [];
    for (let i = 0; i < 10; i++) made.push(a.neg(), a.exp());
    const names = d.threadLaunches();
    assertEquals(names.length, 16);
    assertEquals(names, Array.from({ length: 16 }, (_, i) => i % 2 === 0 ? "cn_unary: NEG" : "cn_unary: EXP"));
    assertEquals(d.threadStats().launches - before, 23, "3 + 20 launches");
    for (const t of [a, s, ...made]) t.dispose();
  });
});
