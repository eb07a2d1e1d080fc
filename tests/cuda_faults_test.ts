/**
 * How the native library reports what goes wrong on a card, simulated on the emulation build
 * (issue 11 part 6): a driver older than the runtime the library was built with
 * (CN_EMU_DRIVER_VERSION), a kernel that faults asynchronously (CN_EMU_FAULT_KERNEL: the launch is
 * accepted and the next wait fails, as an illegal address does), and CONVNET_CUDA_SYNC=1, which
 * waits after every launch so that the failing kernel is named. Each case runs in its own process:
 * the environment is read once, and a faulted context stays lost.
 *
 * @module
 */
import { assertEquals, assertOk } from "./_std.ts";
import { child, test } from "./_cuda.ts";

/** Opens the emulation build in a child process, runs `body` (which fills `r`) and returns `r`. */
async function run(body: string, env: Record<string, string>): Promise<Record<string, string>> {
  const script = `
import { cudaDevice, openLibrary } from "ROOT/src/backend/cuda/mod.ts";
const r: Record<string, string> = {};
const err = (f: () => unknown) => { try { f(); return "no error"; } catch (e) { return (e as Error).message; } };
r.open = err(() => {
  const dev = cudaDevice(openLibrary({ path: "ROOT/native/build/libconvnet_emu.so" }));
  const be = dev.backend;
  ${body}
});
console.log("RESULT " + JSON.stringify(r));`;
  const out = await child(script, env, ["-A"]);
  const m = /RESULT (.*)/.exec(out);
  assertOk(m, out);
  return JSON.parse(m[1]);
}

/** A gather with index 7 on a 5-element source (a data error the kernel records), then a read. */
const GATHER = `
const x = be.fromHost("float32", Float32Array.from([1, 2, 3, 4, 5]));
const i = be.fromHost("int32", Int32Array.from([0, 7]));
const out = be.alloc("float32", 2);
r.gather = err(() => be.gather(out, x, i, { outer: 1, n: 5, m: 2, inner: 1 }));
r.fill = err(() => be.fill(be.alloc("float32", 3), 1, 3));
r.read = err(() => be.toHost("float32", out, 2));`;

test("cuda driver floor (simulated): a driver older than the runtime says what the library needs and how to rebuild", async () => {
  const r = await run("", { CN_EMU_DRIVER_VERSION: "12020" });
  const msg = r.open;
  assertOk(msg.includes("the NVIDIA driver is too old for this library"), msg);
  assertOk(msg.includes("built with CUDA 13.0, whose runtime needs driver >= 580"), msg);
  assertOk(msg.includes("the installed driver supports CUDA 12.2"), msg);
  assertOk(msg.includes("(CUDA 11.8 to 12.x)"), msg);
  assertOk(msg.includes("deno task build:native") && msg.includes("deno run -A jsr:@convnet/convnet/build"), msg);
  const ok = await run("", { CN_EMU_DRIVER_VERSION: "13000" });
  assertEquals(ok.open, "no error");
});

test("cuda asynchronous fault (simulated): the next wait lists the launches since the last wait", async () => {
  const body = `
const a = be.alloc("float32", 4);
be.synchronize();
be.fill(a, 1, 4);
r.relu = err(() => be.unary("relu", a, a, 4));
be.fill(a, 2, 4);
r.read = err(() => be.toHost("float32", a, 4));
r.again = err(() => be.synchronize());`;
  const r = await run(body, { CN_EMU_FAULT_KERNEL: "cn_unary" });
  assertEquals(r.relu, "no error"); // accepted: the fault surfaces later, as on a card
  assertOk(r.read.includes("memcpy_d2h: an earlier kernel failed asynchronously: an illegal memory access"), r.read);
  assertOk(r.read.includes("launched since the last wait: cn_fill, cn_unary: RELU, cn_fill"), r.read);
  assertOk(r.read.includes("rerun with CONVNET_CUDA_SYNC=1 to name it"), r.read);
  // the context stays lost: later waits fail too, naming the same candidates
  assertOk(r.again.includes("synchronize: an earlier kernel failed asynchronously"), r.again);
  assertOk(r.again.includes("cn_fill, cn_unary: RELU, cn_fill;"), r.again);
});

test("cuda CONVNET_CUDA_SYNC=1 names the faulting launch and reports kernel data errors at their call", async () => {
  const body = `
const a = be.alloc("float32", 4);
be.fill(a, 1, 4);
r.relu = err(() => be.unary("relu", a, a, 4));`;
  const r = await run(body, { CN_EMU_FAULT_KERNEL: "cn_unary", CONVNET_CUDA_SYNC: "1" });
  assertOk(r.relu.includes("cn_unary"), r.relu);
  assertOk(r.relu.includes("the kernel failed: an illegal memory access was encountered"), r.relu);
  assertOk(r.relu.includes("found by CONVNET_CUDA_SYNC=1"), r.relu);

  const deferred = await run(GATHER, {});
  assertEquals(deferred.gather, "no error"); // by default the data error waits for the next wait
  assertEquals(deferred.fill, "no error");
  assertOk(deferred.read.includes("gather: index 7 at position 1 of the index is out of range"), deferred.read);
  const synced = await run(GATHER, { CONVNET_CUDA_SYNC: "1" });
  assertOk(synced.gather.includes("gather: index 7 at position 1 of the index is out of range"), synced.gather);
  assertOk(synced.gather.includes("expected an index in [0, 5)"), synced.gather);
  assertEquals(synced.fill, "no error");
  assertEquals(synced.read, "no error"); // reported once, at the gather
});
