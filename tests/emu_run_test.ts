/**
 * `deno task emu:run` (scripts/emu_run.ts) and the emulator's memcheck and initcheck
 * (native/emu/sanitize.cpp): each broken program of native/tests/sanitizer/ is reported with its
 * kind, kernel, block and thread, address and nearest allocation, and a non-zero exit; its -DFIXED
 * version runs clean with exit 0. Then the library's CUDA tests run on the sanitizer build of the
 * library (CONVNET_EMU_LIB) with both tools on, and must pass with no report; a raw call with a
 * wrong size shows that the build under test does report.
 *
 * Cost: the emulator's objects and each program are compiled once (cached under native/build/);
 * a program's run takes milliseconds.
 */
import { assertEquals, assertOk as assert, join } from "./_std.ts";
import { countReports, emuRun } from "../scripts/emu_run.ts";
import { buildEmuVariantLibrary } from "../scripts/native/emu_run_build.ts";
import { SANITIZE } from "../scripts/native/emu_run_tools.ts";
import { findCxx } from "../scripts/build_native.ts";

const root = join(import.meta.dirname!, "..");
const prog = (name: string) => join(root, "native", "tests", "sanitizer", name);
const ignore = findCxx() === null; // no g++: nothing can be built
const quiet = () => {};

/** The 1-based line of `name` holding `text` (the line a report must point at). */
function lineOf(name: string, text: string): number {
  const i = Deno.readTextFileSync(prog(name)).split("\n").findIndex((l) => l.includes(text));
  assert(i >= 0, `${text} not in ${name}`);
  return i + 1;
}

/** Fails unless `re` matches `text`, showing the text. */
function assertMatch(text: string, re: RegExp): void {
  assert(re.test(text), `expected ${re} in:\n${text}`);
}

/** Runs a broken program and its fixed twin under `tool`; returns the broken run's output. */
async function brokenAndFixed(name: string, tool: "memcheck" | "initcheck", errors: number): Promise<string> {
  const broken = await emuRun(prog(name), { tools: [tool], log: quiet });
  assertEquals(broken.errors, errors, broken.output);
  assertEquals(broken.code, 1, broken.output);
  assertMatch(broken.output, new RegExp(`^========= ERROR SUMMARY: ${errors} errors?$`, "m"));
  const fixed = await emuRun(prog(name), { tools: ["memcheck", "initcheck"], defines: ["FIXED"], log: quiet });
  assertEquals(fixed.errors, 0, fixed.output);
  assertEquals(fixed.code, 0, fixed.output);
  assertEquals(fixed.output.match(/^========= ERROR SUMMARY: 0 errors$/gm)?.length, 2, fixed.output);
  assert(!/^========= (Invalid|Uninitialized|Program hit)/m.test(fixed.output), fixed.output);
  return broken.output;
}

Deno.test({
  name: "emu:run memcheck reports a write one element past a buffer (kernel, thread, block, allocation)",
  ignore,
  fn: async () => {
    const out = await brokenAndFixed("oob_write.cu", "memcheck", 1);
    assertMatch(out, /^========= Invalid __global__ write of size 4 bytes$/m);
    const line = lineOf("oob_write.cu", "if (i <= n) y[i] = (float)i;");
    assertMatch(out, new RegExp(`^========= {5}at iota_kernel\\(float\\*, int\\) in \\S*oob_write\\.cu:${line}$`, "m"));
    assertMatch(out, /^========= {5}by thread \(232,0,0\) in block \(3,0,0\)$/m);
    assertMatch(out, /^========= {5}Address 0x[0-9a-f]+ is out of bounds$/m);
    assertMatch(out, /^========= {5}and is 0 bytes after the nearest allocation at 0x[0-9a-f]+ of size 4000 bytes$/m);
    assertMatch(
      out,
      /^========= {5}in kernel iota_kernel launched at \S*oob_write\.cu:\d+, grid \(4,1,1\) block \(256,1,1\)$/m,
    );
    // The launch fails as on a card, and the program says so.
    assertMatch(out, /^iota_kernel failed: an illegal memory access was encountered$/m);
    // The address is the allocation's base + 4000.
    const [, addr, base] = /Address (0x[0-9a-f]+)[\s\S]*allocation at (0x[0-9a-f]+)/.exec(out)!;
    assertEquals(BigInt(addr) - BigInt(base), 4000n);
  },
});

Deno.test({
  name: "emu:run memcheck reports every read of an allocation after cudaFree",
  ignore,
  fn: async () => {
    const out = await brokenAndFixed("use_after_free.cu", "memcheck", 64); // one per thread
    assertMatch(out, /^========= Invalid __global__ read of size 4 bytes$/m);
    const line = lineOf("use_after_free.cu", "y[i] = 2.0f * x[i];");
    assertMatch(
      out,
      new RegExp(
        `^========= {5}at double_kernel\\(float\\*, float const\\*, int\\) in \\S*use_after_free\\.cu:${line}$`,
        "m",
      ),
    );
    assertMatch(out, /^========= {5}by thread \(63,0,0\) in block \(0,0,0\)$/m);
    assertMatch(
      out,
      /^========= {5}and is 252 bytes inside the allocation at 0x[0-9a-f]+ of size 256 bytes, which cudaFree released \(a use after free\)$/m,
    );
  },
});

Deno.test({
  name: "emu:run memcheck reports host code dereferencing a device pointer",
  ignore,
  fn: async () => {
    const out = await brokenAndFixed("host_deref.cu", "memcheck", 1);
    assertMatch(out, /^========= Invalid host read of size 4 bytes$/m);
    const line = lineOf("host_deref.cu", "s = d[2];");
    assertMatch(out, new RegExp(`^========= {5}at main in \\S*host_deref\\.cu:${line}$`, "m"));
    assertMatch(
      out,
      /^========= {5}Address 0x[0-9a-f]+ is device memory: 8 bytes inside the allocation at 0x[0-9a-f]+ of size 16 bytes$/m,
    );
    assert(!/by thread/.test(out), out); // not a kernel
  },
});

Deno.test({
  name: "emu:run initcheck reports kernel reads of device memory nothing wrote; memcheck does not",
  ignore,
  fn: async () => {
    const out = await brokenAndFixed("uninit_read.cu", "initcheck", 32); // threads 32..63
    assertMatch(out, /^========= Uninitialized __global__ memory read of size 4 bytes$/m);
    const line = lineOf("uninit_read.cu", "y[i] = x[i] * x[i];");
    assertMatch(
      out,
      new RegExp(
        `^========= {5}at square_kernel\\(float\\*, float const\\*, int\\) in \\S*uninit_read\\.cu:${line}$`,
        "m",
      ),
    );
    assertMatch(out, /^========= {5}by thread \(32,0,0\) in block \(0,0,0\)$/m);
    assertMatch(
      out,
      /^========= {5}Address 0x[0-9a-f]+ is 128 bytes inside the allocation at 0x[0-9a-f]+ of size 256 bytes: nothing wrote it since it was allocated$/m,
    );
    assert(!/by thread \(31,0,0\)/.test(out), "thread 31 read bytes the upload wrote");
    const mem = await emuRun(prog("uninit_read.cu"), { tools: ["memcheck"], log: quiet });
    assertEquals(mem.errors, 0, mem.output);
    assertEquals(mem.code, 1, mem.output); // the program's own check fails: it read 0xff bytes (NaN)
  },
});

Deno.test({
  name: "emu:run prints the first CN_EMU_PRINT_LIMIT errors and counts them all",
  ignore,
  fn: async () => {
    const r = await emuRun(prog("use_after_free.cu"), { tools: ["memcheck"], printLimit: 3, log: quiet });
    assertEquals(r.errors, 64, r.output);
    assertEquals(r.output.match(/^========= Invalid __global__ read/gm)?.length, 3, r.output);
    assertMatch(r.output, /^========= ERROR SUMMARY: 64 errors$/m);
    assertEquals(countReports("========= Invalid x\n=========     detail\n========= (note)\n"), 1);
  },
});

Deno.test({
  name: "deno task emu:run: the command line exits 1 on errors, 0 when clean, 2 on bad options",
  ignore,
  fn: async () => {
    const run = async (...args: string[]) => {
      const out = await new Deno.Command(Deno.execPath(), {
        args: ["run", "-A", join(root, "scripts", "emu_run.ts"), ...args],
        cwd: root,
        env: { NO_COLOR: "1" },
      }).output();
      const text = new TextDecoder().decode(out.stdout) + new TextDecoder().decode(out.stderr);
      return { code: out.code, text };
    };
    const bad = await run(prog("host_deref.cu"), "--tool", "memcheck");
    assertEquals(bad.code, 1, bad.text);
    assertMatch(bad.text, /^========= ERROR SUMMARY: 1 error$/m);
    const good = await run(prog("host_deref.cu"), "--tool", "memcheck", "-D", "FIXED", "--order", "random:7");
    assertEquals(good.code, 0, good.text);
    assertMatch(good.text, /^========= CN-EMU-SANITIZER memcheck: \S+host_deref\.cu -D FIXED \(order random:7\)$/m);
    const order = await run(prog("host_deref.cu"), "--order", "sideways");
    assertEquals(order.code, 2, order.text);
    assertMatch(order.text, /--order expects forward, reverse or random:SEED \(SEED an integer\), got "sideways"/);
    const tool = await run(prog("host_deref.cu"), "--tool", "leakcheck");
    assertEquals(tool.code, 2, tool.text);
    assertMatch(tool.text, /unknown tool "leakcheck" \(expected one of memcheck, initcheck/);
    const notCu = await run(join(root, "README.md"));
    assertEquals(notCu.code, 2, notCu.text);
    assertMatch(notCu.text, /expected a \.cu source, got /);
  },
});

/** The tests that run the CUDA backend through tests/_cuda.ts, on the sanitizer build of the library here. */
const SUITE = [
  "tests/cuda_backend_test.ts",
  "tests/cuda_primitives_test.ts",
  "tests/cuda_args_test.ts",
  "tests/cuda_faults_test.ts",
  "tests/native_conv_gemm_test.ts",
  "tests/ops_table_test.ts",
  "tests/philox_device_test.ts",
  "tests/nn_activations_test.ts",
  "tests/nn_losses_test.ts",
  "tests/optim_more_test.ts",
  "tests/silent_errors_test.ts",
  "tests/custom_op_test.ts",
  "tests/cuda_step_test.ts",
  "tests/cuda_gather_rows_test.ts",
  "tests/cuda_xent_unit_test.ts",
  "tests/cuda_conv_weight_bias_test.ts",
  "tests/cuda_linear_bias_test.ts",
  "tests/cuda_optim_hyper_test.ts",
];

Deno.test({
  name: "the CUDA test suite passes on the sanitizer build (memcheck + initcheck) with no report",
  ignore,
  fn: async () => {
    const lib = (await buildEmuVariantLibrary(SANITIZE, { log: quiet })).path;
    // random:2: the whole suite also runs in a random thread and block order (.ci/run adds reverse and random:1).
    const env = {
      NO_COLOR: "1",
      CONVNET_EMU_LIB: lib,
      CN_EMU_MEMCHECK: "1",
      CN_EMU_INITCHECK: "1",
      CN_EMU_ORDER: "random:2",
    };

    // The build under test reports: raw calls that read unwritten memory, write a block cn_free returned to the
    // cache, and write one element too far.
    const probe = await Deno.makeTempFile({ suffix: ".ts" });
    try {
      await Deno.writeTextFile(
        probe,
        `const s = Deno.dlopen(${JSON.stringify(lib)}, {
          cn_alloc: { parameters: ["buffer", "i64"], result: "i32" },
          cn_free: { parameters: ["pointer"], result: "i32" },
          cn_fill: { parameters: ["i32", "pointer", "f64", "i64"], result: "i32" },
          cn_unary: { parameters: ["i32", "i32", "pointer", "pointer", "i64"], result: "i32" },
        }).symbols;
        const alloc = () => { const b = new BigUint64Array(1); s.cn_alloc(b, 40n); return Deno.UnsafePointer.create(b[0]); };
        const x = alloc(), y = alloc();
        console.log("unary", s.cn_unary(3, 0, y, x, 10n)); // relu of 10 unwritten floats
        s.cn_free(x);
        console.log("cached", s.cn_fill(0, x, 1, 10n)); // x is in the allocator's cache
        console.log("fill", s.cn_fill(0, y, 1, 11n)); // 11 floats into 10`,
      );
      const out = await new Deno.Command(Deno.execPath(), { args: ["run", "-A", probe], env }).output();
      const text = new TextDecoder().decode(out.stdout) + new TextDecoder().decode(out.stderr);
      assertMatch(text, /^========= Uninitialized __global__ memory read of size 4 bytes$/m);
      assertMatch(text, /^========= {5}at void map1_f4_kernel<.*elementwise\.cu:\d+$/m);
      assertMatch(text, /^========= Invalid __global__ write of size 4 bytes$/m);
      assertMatch(text, /^========= {5}and is 0 bytes after the nearest allocation at 0x[0-9a-f]+ of size 40 bytes$/m);
      assertMatch(
        text,
        /^========= {5}and is 0 bytes inside the block at 0x[0-9a-f]+ of size 512 bytes that cn_free returned to the library's cache \(a use after free\)$/m,
      );
      assertMatch(text, /^unary 0$/m); // initcheck reports; the device goes on
      assertMatch(text, /^cached 3$/m); // CN_ERR_CUDA: an illegal memory access
      assertMatch(text, /^fill 3$/m);
    } finally {
      await Deno.remove(probe);
    }

    const out = await new Deno.Command(Deno.execPath(), {
      args: ["test", "-A", "--no-check", ...SUITE],
      cwd: root,
      env,
    }).output();
    const text = new TextDecoder().decode(out.stdout) + new TextDecoder().decode(out.stderr);
    const reports = text.split("\n").filter((l) => l.startsWith("=========")).slice(0, 40);
    assertEquals(reports, [], `sanitizer reports:\n${reports.join("\n")}`);
    assertEquals(out.code, 0, text.slice(-4000));
    assertMatch(text, /ok \| \d+ passed \| 0 failed/);
  },
});
