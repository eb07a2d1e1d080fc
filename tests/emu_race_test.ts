/**
 * The emulator's racecheck, synccheck, __shared__ initcheck and thread/block orders, through
 * `deno task emu:run` (scripts/emu_run.ts) on the broken programs of native/tests/sanitizer/ and
 * their -DFIXED twins:
 * - race_shared_neighbor.cu: a missing __syncthreads() before reading a neighbour's shared write
 *   (racecheck reports both accesses; in reverse order the values come out wrong);
 * - race_global_blocks.cu: block b reads what block b - 1 wrote (wrong totals in reverse and random
 *   orders: found by the order comparison);
 * - shared_uninit_stale.cu: shared memory only block 0 filled (initcheck; poisoned values otherwise);
 * - sync_divergent_shfl.cu: lanes of a warp at two different shuffles (synccheck names both sites).
 *
 * Cost: each program and the racecheck build of the emulator compile once (cached under
 * native/build/); a run takes milliseconds.
 */
import { assertEquals, assertOk as assert, join } from "./_std.ts";
import { emuRun } from "../scripts/emu_run.ts";
import { buildEmuProgram } from "../scripts/native/emu_run_build.ts";
import { SANITIZE } from "../scripts/native/emu_run_tools.ts";
import { findCxx } from "../scripts/build_native.ts";

const root = join(import.meta.dirname!, "..");
const prog = (name: string) => join(root, "native", "tests", "sanitizer", name);
const ignore = findCxx() === null; // no g++: nothing can be built
const quiet = () => {};

/** Fails unless `re` matches `text`, showing the text. */
function assertMatch(text: string, re: RegExp): void {
  assert(re.test(text), `expected ${re} in:\n${text}`);
}

/** The -DFIXED program runs clean under `tool` in forward, reverse and random:7 order. */
async function fixedIsClean(name: string, tool: "racecheck" | "synccheck"): Promise<void> {
  for (const order of ["forward", "reverse", "random:7"]) {
    const r = await emuRun(prog(name), { tools: [tool], order, defines: ["FIXED"], log: quiet });
    assertEquals([r.errors, r.code], [0, 0], `${name} -D FIXED --tool ${tool} --order ${order}:\n${r.output}`);
    assertMatch(r.output, /^ok$/m);
  }
}

Deno.test({
  name: "racecheck reports a shared-memory read of a neighbour's write with no __syncthreads() between",
  ignore,
  async fn() {
    const broken = await emuRun(prog("race_shared_neighbor.cu"), { tools: ["racecheck"], log: quiet });
    assertEquals([broken.errors, broken.code], [1, 1], broken.output);
    const o = broken.output;
    assertMatch(
      o,
      /^========= Error: Race reported between Write access by thread \(0,0,0\) at race_shared_neighbor\.cu:20 in left_diff_kernel \(racecheck, read-after-write\)$/m,
    );
    assertMatch(
      o,
      /^========= {5}and Read access by thread \(1,0,0\) at race_shared_neighbor\.cu:24 in left_diff_kernel/m,
    );
    assertMatch(
      o,
      /^========= {5}Address 0x[0-9a-f]+ is __shared__ left_diff_kernel\(float\*, float const\*, int\)::tile \+ 0, 4 bytes$/m,
    );
    assertMatch(o, /^========= {5}in kernel left_diff_kernel .* in block \(0,0,0\)$/m);
    assertMatch(o, /^ok$/m); // forward order hides the bug: the values are right

    // In reverse order the neighbour has not stored yet: the program sees the poisoned value.
    const reverse = await emuRun(prog("race_shared_neighbor.cu"), {
      tools: ["synccheck"],
      order: "reverse",
      log: quiet,
    });
    assertEquals([reverse.errors, reverse.code], [0, 1], reverse.output);
    assertMatch(reverse.output, /^y\[\d+\] = -?nan, expected \d+$/m);
    await fixedIsClean("race_shared_neighbor.cu", "racecheck");
  },
});

Deno.test({
  name: "a race between blocks on global values gives wrong results in reverse and random orders only",
  ignore,
  async fn() {
    const forward = await emuRun(prog("race_global_blocks.cu"), { tools: ["synccheck"], log: quiet });
    assertEquals([forward.errors, forward.code], [0, 0], forward.output);
    for (const order of ["reverse", "random:7"]) {
      const r = await emuRun(prog("race_global_blocks.cu"), { tools: ["synccheck"], order, log: quiet });
      assertEquals(r.code, 1, `--order ${order}:\n${r.output}`);
      assertMatch(r.output, /^totals\[\d+\] = \d+, expected \d+: blocks ran in an order the kernel did not expect$/m);
    }
    await fixedIsClean("race_global_blocks.cu", "synccheck");
  },
});

Deno.test({
  name: "initcheck reports a read of __shared__ memory no thread of the block wrote; poisoning makes it wrong",
  ignore,
  async fn() {
    const broken = await emuRun(prog("shared_uninit_stale.cu"), { tools: ["racecheck"], log: quiet });
    assertEquals([broken.errors, broken.code], [1, 1], broken.output);
    const o = broken.output;
    assertMatch(o, /^========= Uninitialized __shared__ memory read of size 4 bytes \(initcheck\)$/m);
    assertMatch(o, /^========= {5}at shared_uninit_stale\.cu:28 in scale_kernel$/m);
    assertMatch(
      o,
      /^========= {5}Address 0x[0-9a-f]+ is __shared__ scale_kernel\(float\*, float const\*, int\)::scale \+ \d+, 4 bytes$/m,
    );
    assertMatch(o, /^========= {5}in kernel scale_kernel .* in block \(1,0,0\)$/m);
    // Without the checker the poison pattern (NaN) shows in the values, where block 0's stale table used to hide it.
    const plain = await emuRun(prog("shared_uninit_stale.cu"), { tools: ["synccheck"], log: quiet });
    assertEquals([plain.errors, plain.code], [0, 1], plain.output);
    assertMatch(plain.output, /^y\[64\] = -?nan, expected -?\d+$/m);
    await fixedIsClean("shared_uninit_stale.cu", "racecheck");
  },
});

Deno.test({
  name: "synccheck reports lanes of a warp at different warp ops, with the warp and each lane's call site",
  ignore,
  async fn() {
    const broken = await emuRun(prog("sync_divergent_shfl.cu"), { tools: ["synccheck"], log: quiet });
    assertEquals([broken.errors, broken.code], [1, 1], broken.output);
    const o = broken.output;
    assertMatch(
      o,
      /^========= Barrier error detected: divergent lanes in a warp wait at different warp ops \(synccheck\)$/m,
    );
    assertMatch(o, /^========= {5}in kernel warp_sum_kernel .* in block \(0,0,0\)$/m);
    assertMatch(o, /^========= {5}warp 0 \(linear thread ids 0-31, first threadIdx \(0,0,0\)\):$/m);
    assertMatch(o, /^========= {7}16 lanes at __shfl_xor_sync\(\) \(\S*sync_divergent_shfl\.cu:21\): lanes 0-15$/m);
    assertMatch(o, /^========= {7}16 lanes at __shfl_xor_sync\(\) \(\S*sync_divergent_shfl\.cu:23\): lanes 16-31$/m);
    await fixedIsClean("sync_divergent_shfl.cu", "synccheck");
  },
});

Deno.test({
  name: "CN_EMU_ORDER is read at launch: a bad value stops the program with a message naming the choices",
  ignore,
  async fn() {
    const exe = (await buildEmuProgram(prog("race_global_blocks.cu"), SANITIZE, { log: quiet })).path;
    const run = async (order: string) => {
      const out = await new Deno.Command(exe, { env: { CN_EMU_ORDER: order }, stdout: "piped", stderr: "piped" })
        .output();
      return { code: out.code, text: new TextDecoder().decode(out.stdout) + new TextDecoder().decode(out.stderr) };
    };
    const bad = await run("sideways");
    assert(bad.code !== 0, bad.text);
    assertMatch(
      bad.text,
      /CN_EMU_ORDER must be forward, reverse or random:SEED \(SEED a decimal integer\), got "sideways"/,
    );
    assertEquals((await run("forward")).code, 0);
    assertEquals((await run("reverse")).code, 1);
  },
});
