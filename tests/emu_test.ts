import { assertEquals, assertOk, join } from "./_std.ts";
import { ensureEmuLibrary, findCxx, parsePtxas, runSelftest } from "../scripts/build_native.ts";

const noCxx = findCxx() === null;
const quiet = () => {};

Deno.test({
  name: "CUDA emulator runs the selftest kernels: barriers, warp shuffles, atomics, 3-D grids, deadlock reports",
  ignore: noCxx,
  async fn() {
    const { ok, output } = await runSelftest({ log: quiet });
    const failed = output.split("\n").filter((l) => l.startsWith("FAIL"));
    assertOk(ok && failed.length === 0, `emu_selftest failed:\n${output}`);
    assertOk(/^PASS: \d+ passed, 0 failed$/m.test(output), `no summary line in:\n${output}`);
  },
});

Deno.test({
  name: "CUDA emulator build is incremental: a second build of the selftest compiles nothing",
  ignore: noCxx,
  async fn() {
    await runSelftest({ log: quiet });
    const lines: string[] = [];
    const { ok } = await runSelftest({ log: (l) => lines.push(l) });
    assertOk(ok);
    assertOk(lines.some((l) => /emu_selftest is up to date/.test(l)), lines.join("\n"));
  },
});

Deno.test({
  name: "ensureEmuLibrary builds libconvnet_emu.so, which loads and describes itself as CPU emulation",
  // The library needs every ABI symbol; until runtime.cu exists there is nothing to link.
  ignore: noCxx || !exists(join(import.meta.dirname!, "..", "native", "src", "runtime.cu")),
  async fn() {
    const path = await ensureEmuLibrary({ log: quiet });
    const lib = Deno.dlopen(path, { cn_build_info: { parameters: [], result: "pointer" } });
    try {
      const info = Deno.UnsafePointerView.getCString(lib.symbols.cn_build_info()!);
      assertOk(/CPU emulation \(g\+\+ \d+/.test(info), `cn_build_info() = ${JSON.stringify(info)}`);
    } finally {
      lib.close();
    }
  },
});

Deno.test("parsePtxas reads registers and spills per kernel and architecture", () => {
  const text = `ptxas info    : 0 bytes gmem
ptxas info    : Compiling entry function '_Z1kPf' for 'sm_90'
ptxas info    : Function properties for _Z1kPf
    8 bytes stack frame, 12 bytes spill stores, 16 bytes spill loads
ptxas info    : Used 255 registers, used 1 barriers, 360 bytes cmem[0]
ptxas info    : Compiling entry function '_Z1gv' for 'sm_80'
ptxas info    : Function properties for _Z1gv
    0 bytes stack frame, 0 bytes spill stores, 0 bytes spill loads
ptxas info    : Used 10 registers, used 0 barriers`;
  assertEquals(parsePtxas(text, "x.cu"), [
    { kernel: "_Z1kPf", arch: "sm_90", registers: 255, stackBytes: 8, spillStores: 12, spillLoads: 16, source: "x.cu" },
    { kernel: "_Z1gv", arch: "sm_80", registers: 10, stackBytes: 0, spillStores: 0, spillLoads: 0, source: "x.cu" },
  ]);
});

function exists(path: string): boolean {
  try {
    Deno.statSync(path);
    return true;
  } catch {
    return false;
  }
}
