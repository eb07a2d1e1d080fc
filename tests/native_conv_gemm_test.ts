/**
 * Over 500 lines: the GEMM and convolution variants, each selected by its shapes, in one table-driven file.
 * The native GEMM and convolution kernels (native/src/gemm.cu, conv2d.cu) against the TypeScript
 * reference backend, on the CPU emulation build of the library: awkward sizes (1s, primes, sizes
 * that are not multiples of the tiles), every transpose, stride, padding, dilation, groups,
 * non-square kernels, batched products (shared operands, gaps between c matrices), and the shapes
 * that select each kernel variant (direct kernels for small channel counts, 64x64 and 128x128
 * tiles, split-K with its reduction, with and without room for its workspace).
 *
 * The reference runs in float64 on the same float32 inputs; the tolerance is atol + rtol * scale,
 * where scale is the same computation on absolute values (the sum of |terms| of each output).
 */
import { assertEquals, assertOk, join } from "./_std.ts";
import { ensureEmuLibrary, findCxx } from "../scripts/build_native.ts";
import {
  conv2dBackwardBias,
  conv2dBackwardInput,
  conv2dBackwardWeight,
  conv2dForward,
} from "../src/backend/ts/conv2d.ts";
import { gemm } from "../src/backend/ts/gemm.ts";
import type { Conv2dGeometry } from "../src/backend/backend.ts";

const root = join(import.meta.dirname!, "..");
// The library links only once every ABI symbol exists (runtime.cu holds cn_alloc and friends).
const ignore = findCxx() === null || !exists(join(root, "native", "src", "runtime.cu"));

const SYMBOLS = {
  cn_init: { parameters: [], result: "i32" },
  cn_last_error: { parameters: [], result: "pointer" },
  cn_alloc: { parameters: ["buffer", "i64"], result: "i32" }, // void **ptr, int64_t bytes
  cn_free: { parameters: ["pointer"], result: "i32" }, // void *ptr
  cn_memory_stats: { parameters: ["buffer"], result: "i32" }, // int64_t *stats (4)
  cn_thread_launches: { parameters: ["buffer", "i32"], result: "i32" }, // char *buf, int32_t buf_len
  cn_set_memory_limit: { parameters: ["i64"], result: "i32" }, // int64_t bytes
  cn_memcpy_h2d: { parameters: ["pointer", "buffer", "i64"], result: "i32" }, // void *dst, const void *src, bytes
  cn_memcpy_d2h: { parameters: ["buffer", "pointer", "i64"], result: "i32" }, // void *dst, const void *src, bytes
  cn_gemm: {
    // float *c, const float *a, const float *b, m, n, k, trans_a, trans_b, float alpha, float beta,
    // int32_t batch, int64_t stride_a, int64_t stride_b, int64_t stride_c
    parameters: [
      "pointer",
      "pointer",
      "pointer",
      "i32",
      "i32",
      "i32",
      "i32",
      "i32",
      "f32",
      "f32",
      "i32",
      "i64",
      "i64",
      "i64",
    ],
    result: "i32",
  },
  // float *y, const float *x, const float *w, const float *bias, const cn_conv2d_geom *g
  cn_conv2d_forward: { parameters: ["pointer", "pointer", "pointer", "pointer", "buffer"], result: "i32" },
  // float *dx, const float *dy, const float *w, const cn_conv2d_geom *g
  cn_conv2d_backward_input: { parameters: ["pointer", "pointer", "pointer", "buffer"], result: "i32" },
  // float *dw, const float *dy, const float *x, const cn_conv2d_geom *g
  cn_conv2d_backward_weight: { parameters: ["pointer", "pointer", "pointer", "buffer"], result: "i32" },
  // float *db, const float *dy, const cn_conv2d_geom *g
  cn_conv2d_backward_bias: { parameters: ["pointer", "pointer", "buffer"], result: "i32" },
} as const;

type Lib = Deno.DynamicLibrary<typeof SYMBOLS>;
type Ptr = Deno.PointerValue;

/** Device buffers of one test, freed together. */
class Dev {
  #live: Ptr[] = [];
  /** When set, kernel calls run with the memory limit at the bytes in use: no workspace can be had. */
  tight = false;
  constructor(readonly lib: Lib) {}
  /** Runs one library call (under the tight limit when asked) and checks its status. */
  call(what: string, fn: () => number): void {
    if (!this.tight) return this.check(fn(), what);
    const stats = new BigInt64Array(4);
    this.check(this.lib.symbols.cn_memory_stats(stats), "cn_memory_stats");
    this.check(this.lib.symbols.cn_set_memory_limit(stats[0]), "cn_set_memory_limit");
    try {
      this.check(fn(), what);
    } finally {
      this.lib.symbols.cn_set_memory_limit(0n);
    }
  }
  check(status: number, what: string): void {
    if (status !== 0) throw new Error(`${what}: status ${status}: ${this.lastError()}`);
  }
  /** The names of this thread's last 16 launches, oldest first. */
  launches(): string[] {
    const buf = new Uint8Array(4096);
    this.check(this.lib.symbols.cn_thread_launches(buf, buf.length), "cn_thread_launches");
    return JSON.parse(new TextDecoder().decode(buf.subarray(0, buf.indexOf(0))));
  }
  lastError(): string {
    return Deno.UnsafePointerView.getCString(this.lib.symbols.cn_last_error()!);
  }
  alloc(n: number): Ptr {
    const out = new BigUint64Array(1);
    this.check(this.lib.symbols.cn_alloc(out, BigInt(Math.max(1, n) * 4)), "cn_alloc");
    const p = Deno.UnsafePointer.create(out[0]);
    this.#live.push(p);
    return p;
  }
  upload(a: Float32Array): Ptr {
    const p = this.alloc(a.length);
    if (a.length) this.check(this.lib.symbols.cn_memcpy_h2d(p, a, BigInt(a.length * 4)), "cn_memcpy_h2d");
    return p;
  }
  /** A buffer of n floats that all read NaN: outputs must be written, never read. */
  nan(n: number): Ptr {
    return this.upload(new Float32Array(n).fill(NaN));
  }
  download(p: Ptr, n: number): Float32Array {
    const out = new Float32Array(n);
    if (n) this.check(this.lib.symbols.cn_memcpy_d2h(out, p, BigInt(n * 4)), "cn_memcpy_d2h");
    return out;
  }
  free(): void {
    for (const p of this.#live) this.lib.symbols.cn_free(p);
    this.#live = [];
  }
}

/**
 * A private copy of the emulation library: loaded from its own path it is a separate instance with
 * its own allocator, so the memory limits the "tight" tests set cannot reach the other test files
 * that load the library in this process (deno test --parallel).
 */
let privateCopy: Promise<string> | undefined;
function privateLibrary(): Promise<string> {
  privateCopy ??= ensureEmuLibrary({ log: () => {} }).then((path) => {
    const dir = Deno.makeTempDirSync({ prefix: "convnet_native_test_" });
    const copy = join(dir, "libconvnet_emu_private.so");
    Deno.copyFileSync(path, copy);
    globalThis.addEventListener("unload", () => Deno.removeSync(dir, { recursive: true }));
    return copy;
  });
  return privateCopy;
}

async function withLib(fn: (dev: Dev) => void): Promise<void> {
  const lib = Deno.dlopen(await privateLibrary(), SYMBOLS);
  const dev = new Dev(lib);
  try {
    dev.check(lib.symbols.cn_init(), "cn_init");
    fn(dev);
  } finally {
    dev.free();
    lib.close();
  }
}

let seed = 0x2545f491;
function rand(n: number): Float32Array {
  const a = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    seed ^= seed << 13, seed ^= seed >>> 17, seed ^= seed << 5;
    a[i] = ((seed >>> 0) / 4294967296) * 2 - 1;
  }
  return a;
}
const f64 = (a: Float32Array) => Float64Array.from(a);
const abs64 = (a: Float32Array) => Float64Array.from(a, Math.abs);

/** Mismatches of got vs want (tolerance 1e-6 + 1e-5 * scale), as lines naming the first few. */
function mismatches(what: string, got: Float32Array, want: Float64Array, scale: Float64Array): string[] {
  const lines: string[] = [];
  let bad = 0;
  for (let i = 0; i < want.length; i++) {
    const tol = 1e-6 + 1e-5 * scale[i];
    if (!(Math.abs(got[i] - want[i]) <= tol)) {
      if (bad < 4) lines.push(`  [${i}] got ${got[i]}, want ${want[i]} (tolerance ${tol.toExponential(2)})`);
      bad++;
    }
  }
  return bad ? [`${what}: ${bad} of ${want.length} mismatched`, ...lines] : [];
}

// ------------------------------------------------------------------------------------------ GEMM

function checkGemm(
  dev: Dev,
  m: number,
  n: number,
  k: number,
  ta: boolean,
  tb: boolean,
  alpha: number,
  beta: number,
): string[] {
  const a = rand(m * k), b = rand(k * n), c = rand(m * n);
  const want = f64(c), scale = abs64(c);
  gemm(want, f64(a), f64(b), { m, n, k, transA: ta, transB: tb, alpha, beta });
  gemm(scale, abs64(a), abs64(b), { m, n, k, transA: ta, transB: tb, alpha: Math.abs(alpha), beta: Math.abs(beta) });
  const dc = beta === 0 ? dev.nan(m * n) : dev.upload(c);
  const s = dev.lib.symbols;
  const da = dev.upload(a), db = dev.upload(b);
  const [sa, sb, sc] = [m * k, k * n, m * n].map(BigInt);
  dev.call("cn_gemm", () => s.cn_gemm(dc, da, db, m, n, k, +ta, +tb, alpha, beta, 1, sa, sb, sc));
  const what = `gemm m=${m} n=${n} k=${k} transA=${ta} transB=${tb} alpha=${alpha} beta=${beta}`;
  return mismatches(what, dev.download(dc, m * n), want, scale);
}

const GEMM_SHAPES: [number, number, number][] = [
  [1, 1, 1],
  [1, 7, 3],
  [5, 1, 9],
  [7, 13, 5],
  [64, 64, 8],
  [65, 129, 17],
  [31, 67, 1],
  [3, 5, 0], // k = 0: c = beta * c
  [130, 2, 300],
  [10, 20, 3136], // dot products, a block per output (the seed's Linear layer, transposed)
  [3, 7, 1501], // dot products: k not a multiple of the block's 128 threads
  [40, 30, 2000], // split-K, one tile
  [256, 10, 1100], // split-K with several M tiles
  [1300, 1700, 3], // 128x128 tiles (11 x 14 tiles >= 132 SMs)
];

Deno.test({
  name: "cn_gemm matches the reference for every transpose, awkward sizes, alpha/beta, split-K and big tiles",
  ignore,
  async fn() {
    await withLib((dev) => {
      const errors: string[] = [];
      for (const [m, n, k] of GEMM_SHAPES) {
        for (let t = 0; t < 4; t++) {
          errors.push(...checkGemm(dev, m, n, k, (t & 1) === 1, (t & 2) === 2, 1, 0));
          if (m * n * k < 1e6) errors.push(...checkGemm(dev, m, n, k, (t & 1) === 1, (t & 2) === 2, -0.5, 0.75));
        }
      }
      assertEquals(errors, []);
    });
  },
});

/** This process runs with CONVNET_GEMM=naive (the child that the test below starts). */
const naiveProcess = (() => {
  try {
    return Deno.env.get("CONVNET_GEMM") === "naive";
  } catch {
    return false;
  }
})();
const NAIVE_TEST = "cn_gemm with CONVNET_GEMM=naive runs the reference kernel, with the same results";

/**
 * The library reads CONVNET_GEMM once, and the environment is the process's, shared with the test
 * files beside this one (deno test --parallel): setting it here would turn their GEMMs naive too. So
 * the check runs in a child process started with it set.
 */
Deno.test({
  name: NAIVE_TEST,
  ignore,
  async fn() {
    if (!naiveProcess) {
      const out = await new Deno.Command(Deno.execPath(), {
        args: ["test", "-A", "--no-check", "--filter", NAIVE_TEST, import.meta.filename!],
        env: { CONVNET_GEMM: "naive" },
        stdout: "piped",
        stderr: "piped",
      }).output();
      const text = new TextDecoder().decode(out.stdout) + new TextDecoder().decode(out.stderr);
      assertOk(out.success && /1 passed/.test(text), `the child process with CONVNET_GEMM=naive failed:\n${text}`);
      return;
    }
    await withLib((dev) => {
      const errors: string[] = [];
      for (let t = 0; t < 4; t++) errors.push(...checkGemm(dev, 37, 19, 23, (t & 1) === 1, (t & 2) === 2, 2, -1));
      errors.push(...checkBatch(dev, { m: 7, n: 13, k: 5, batch: 3, strides: [0, 65, 100] }, true, false, 2, -1));
      // ... and it was the naive kernel that ran (a batch of 3: 1 launch).
      assertEquals(dev.launches().slice(-5), Array(5).fill("cn_gemm: naive kernel"));
      assertEquals(errors, []);
    });
  },
});

Deno.test({
  name: "cn_gemm rejects bad arguments with a message naming gemm and the argument",
  ignore,
  async fn() {
    await withLib((dev) => {
      const s = dev.lib.symbols, p = dev.alloc(4);
      assertEquals(s.cn_gemm(p, p, p, -1, 2, 2, 0, 0, 1, 0, 1, 0n, 0n, 0n), 1);
      assertOk(dev.lastError().includes("gemm: sizes must be >= 0, got m=-1"), dev.lastError());
      assertEquals(s.cn_gemm(p, null, p, 1, 1, 1, 0, 0, 1, 0, 1, 1n, 1n, 1n), 1);
      assertOk(dev.lastError().includes("gemm: a is NULL"), dev.lastError());
      assertEquals(s.cn_gemm(null, null, null, 0, 5, 5, 0, 0, 1, 0, 1, 0n, 25n, 0n), 0, "an empty product is a no-op");
      assertEquals(s.cn_gemm(null, null, null, 2, 2, 2, 0, 0, 1, 0, 0, 4n, 4n, 4n), 0, "an empty batch is a no-op");
      assertEquals(s.cn_gemm(p, p, p, 2, 3, 1, 0, 0, 1, 0, 2, 2n, 3n, 5n), 1);
      assertOk(dev.lastError().includes("stride_c=5 makes the 2 c matrices of 2 x 3 overlap"), dev.lastError());
      assertEquals(s.cn_gemm(p, p, p, 1, 1, 1, 0, 0, 1, 0, 2, -1n, 1n, 1n), 1);
      assertOk(dev.lastError().includes("gemm: strides must be >= 0, got stride_a=-1"), dev.lastError());
    });
  },
});

interface BatchCase {
  m: number;
  n: number;
  k: number;
  batch: number;
  /** Element strides; undefined: packed (m·k, k·n, m·n). */
  strides?: [number, number, number];
}

/** One batched product against the reference; c's gaps between matrices (strideC > m·n) must stay untouched. */
function checkBatch(dev: Dev, bc: BatchCase, ta: boolean, tb: boolean, alpha: number, beta: number): string[] {
  const { m, n, k, batch } = bc;
  const [strideA, strideB, strideC] = bc.strides ?? [m * k, k * n, m * n];
  const span = (stride: number, size: number) => Math.max(1, (batch - 1) * stride + size);
  const a = rand(span(strideA, m * k)), b = rand(span(strideB, k * n)), c = rand(span(strideC, m * n));
  const opts = { m, n, k, transA: ta, transB: tb, alpha, beta, batch, strideA, strideB, strideC };
  const want = f64(c), scale = abs64(c);
  gemm(want, f64(a), f64(b), opts);
  gemm(scale, abs64(a), abs64(b), { ...opts, alpha: Math.abs(alpha), beta: Math.abs(beta) });
  const dc = dev.upload(c), da = dev.upload(a), db = dev.upload(b);
  const s = dev.lib.symbols;
  const [sa, sb, sc] = [strideA, strideB, strideC].map(BigInt);
  dev.call("cn_gemm", () => s.cn_gemm(dc, da, db, m, n, k, +ta, +tb, alpha, beta, batch, sa, sb, sc));
  const what = `gemm batch=${batch} m=${m} n=${n} k=${k} strides=[${strideA}, ${strideB}, ${strideC}] ` +
    `transA=${ta} transB=${tb} alpha=${alpha} beta=${beta}${dev.tight ? " (no workspace)" : ""}`;
  return mismatches(what, dev.download(dc, c.length), want, scale);
}

const BATCH_CASES: BatchCase[] = [
  { m: 1, n: 1, k: 1, batch: 1 },
  { m: 3, n: 5, k: 7, batch: 4 },
  { m: 7, n: 13, k: 5, batch: 3, strides: [0, 65, 100] }, // one a for every product; gaps in c
  { m: 5, n: 9, k: 11, batch: 5, strides: [55, 0, 45] }, // one b for every product (a Linear layer)
  { m: 17, n: 1, k: 3, batch: 2, strides: [60, 5, 31] }, // gaps everywhere
  { m: 10, n: 20, k: 3136, batch: 3 }, // split-K over the batch (packed c)
  { m: 10, n: 20, k: 2048, batch: 2, strides: [10 * 2048, 0, 250] }, // long k, c not packed: no split-K
  { m: 70, n: 130, k: 9, batch: 7 }, // several 64x64 tiles per product
];

Deno.test({
  name: "cn_gemm batched matches the reference (shared a or b, gaps in c, split-K, no workspace)",
  ignore,
  async fn() {
    await withLib((dev) => {
      const errors: string[] = [];
      for (const bc of BATCH_CASES) {
        for (let t = 0; t < 4; t++) {
          const ta = (t & 1) === 1, tb = (t & 2) === 2;
          errors.push(...checkBatch(dev, bc, ta, tb, 1, 0));
          errors.push(...checkBatch(dev, bc, ta, tb, 0.5, -1.5));
        }
      }
      dev.tight = true;
      errors.push(...checkBatch(dev, { m: 10, n: 20, k: 3136, batch: 3 }, false, true, 1, 0.5));
      dev.tight = false;
      assertEquals(errors, []);
    });
  },
});

// ------------------------------------------------------------------------------------------ conv2d

interface Case {
  n: number;
  c: number;
  h: number;
  w: number;
  k: number;
  kh: number;
  kw: number;
  stride?: [number, number];
  pad?: [number, number];
  dilation?: [number, number];
  groups?: number;
  note: string;
}

function geometry(t: Case): Conv2dGeometry {
  const [strideH, strideW] = t.stride ?? [1, 1], [padH, padW] = t.pad ?? [0, 0];
  const [dilationH, dilationW] = t.dilation ?? [1, 1];
  return {
    n: t.n,
    c: t.c,
    h: t.h,
    w: t.w,
    k: t.k,
    kh: t.kh,
    kw: t.kw,
    oh: Math.floor((t.h + 2 * padH - dilationH * (t.kh - 1) - 1) / strideH) + 1,
    ow: Math.floor((t.w + 2 * padW - dilationW * (t.kw - 1) - 1) / strideW) + 1,
    strideH,
    strideW,
    padH,
    padW,
    dilationH,
    dilationW,
    groups: t.groups ?? 1,
  };
}

/** cn_conv2d_geom, field by field (16 int32). */
function geomStruct(g: Conv2dGeometry): Int32Array {
  return Int32Array.from([
    g.n,
    g.c,
    g.h,
    g.w,
    g.k,
    g.kh,
    g.kw,
    g.oh,
    g.ow,
    g.strideH,
    g.strideW,
    g.padH,
    g.padW,
    g.dilationH,
    g.dilationW,
    g.groups,
  ]);
}

function checkConv(dev: Dev, t: Case, withBias: boolean): string[] {
  const g = geometry(t), gs = geomStruct(g), s = dev.lib.symbols;
  const xs = g.n * g.c * g.h * g.w, ys = g.n * g.k * g.oh * g.ow, wsz = g.k * (g.c / g.groups) * g.kh * g.kw;
  const x = rand(xs), w = rand(wsz), b = rand(g.k), dy = rand(ys);
  const dX = dev.upload(x), dW = dev.upload(w), dB = dev.upload(b), dDy = dev.upload(dy);
  const label =
    `${t.note}: n=${g.n} c=${g.c} ${g.h}x${g.w} k=${g.k} ${g.kh}x${g.kw} stride=${g.strideH},${g.strideW} ` +
    `pad=${g.padH},${g.padW} dilation=${g.dilationH},${g.dilationW} groups=${g.groups}`;
  const errors: string[] = [];

  const y = new Float64Array(ys), yScale = new Float64Array(ys);
  conv2dForward(y, f64(x), f64(w), withBias ? f64(b) : null, g);
  conv2dForward(yScale, abs64(x), abs64(w), withBias ? abs64(b) : null, g);
  const outY = dev.nan(ys);
  dev.call(`forward ${label}`, () => s.cn_conv2d_forward(outY, dX, dW, withBias ? dB : null, gs));
  errors.push(...mismatches(`forward${withBias ? " (bias)" : ""} ${label}`, dev.download(outY, ys), y, yScale));
  if (!withBias) return errors;

  const dx = new Float64Array(xs), dxScale = new Float64Array(xs);
  conv2dBackwardInput(dx, f64(dy), f64(w), g);
  conv2dBackwardInput(dxScale, abs64(dy), abs64(w), g);
  const outDx = dev.nan(xs);
  dev.call(`backward_input ${label}`, () => s.cn_conv2d_backward_input(outDx, dDy, dW, gs));
  errors.push(...mismatches(`backward_input ${label}`, dev.download(outDx, xs), dx, dxScale));

  const dw = new Float64Array(wsz), dwScale = new Float64Array(wsz);
  conv2dBackwardWeight(dw, f64(dy), f64(x), g);
  conv2dBackwardWeight(dwScale, abs64(dy), abs64(x), g);
  const outDw = dev.nan(wsz);
  dev.call(`backward_weight ${label}`, () => s.cn_conv2d_backward_weight(outDw, dDy, dX, gs));
  errors.push(...mismatches(`backward_weight ${label}`, dev.download(outDw, wsz), dw, dwScale));

  const db = new Float64Array(g.k), dbScale = new Float64Array(g.k);
  conv2dBackwardBias(db, f64(dy), g);
  conv2dBackwardBias(dbScale, abs64(dy), g);
  const outDb = dev.nan(g.k);
  dev.call(`backward_bias ${label}`, () => s.cn_conv2d_backward_bias(outDb, dDy, gs));
  errors.push(...mismatches(`backward_bias ${label}`, dev.download(outDb, g.k), db, dbScale));
  return errors;
}

const CONV_CASES: Case[] = [
  { n: 2, c: 1, h: 28, w: 28, k: 16, kh: 3, kw: 3, pad: [1, 1], note: "the seed's layer (direct kernels)" },
  { n: 8, c: 1, h: 28, w: 28, k: 16, kh: 3, kw: 3, pad: [1, 1], note: "seed at batch 8 (split weight/bias sums)" },
  { n: 1, c: 3, h: 7, w: 5, k: 4, kh: 2, kw: 3, stride: [2, 3], pad: [1, 2], dilation: [2, 1], note: "R = 18" },
  {
    n: 1,
    c: 8,
    h: 9,
    w: 6,
    k: 12,
    kh: 3,
    kw: 3,
    stride: [2, 1],
    pad: [1, 0],
    dilation: [1, 2],
    groups: 4,
    note: "groups",
  },
  { n: 2, c: 64, h: 9, w: 9, k: 20, kh: 3, kw: 3, stride: [2, 2], pad: [1, 1], dilation: [2, 2], note: "tiled" },
  { n: 2, c: 40, h: 6, w: 11, k: 30, kh: 1, kw: 5, stride: [1, 2], pad: [0, 2], groups: 2, note: "tiled, groups, 1x5" },
  { n: 1, c: 128, h: 4, w: 4, k: 8, kh: 3, kw: 3, pad: [1, 1], note: "split-K forward (R = 1152)" },
  { n: 4, c: 9, h: 20, w: 20, k: 5, kh: 3, kw: 3, pad: [1, 1], note: "split-K weight gradient (P = 1600)" },
  { n: 3, c: 33, h: 7, w: 8, k: 17, kh: 1, kw: 1, stride: [2, 2], note: "1x1, stride 2" },
  { n: 3, c: 2, h: 1, w: 1, k: 3, kh: 1, kw: 1, note: "1x1 image" },
  { n: 1, c: 2, h: 3, w: 2, k: 5, kh: 3, kw: 3, pad: [1, 1], note: "kernel larger than the image" },
  {
    n: 2,
    c: 3,
    h: 10,
    w: 11,
    k: 4,
    kh: 3,
    kw: 2,
    stride: [2, 3],
    pad: [2, 1],
    dilation: [3, 4],
    note: "dilation gaps",
  },
  { n: 2, c: 6, h: 9, w: 7, k: 6, kh: 3, kw: 3, pad: [1, 1], groups: 6, note: "depthwise" },
  { n: 2, c: 10, h: 8, w: 8, k: 6, kh: 3, kw: 3, stride: [2, 2], pad: [1, 1], groups: 2, note: "cg = 5" },
  { n: 1, c: 27, h: 7, w: 9, k: 6, kh: 2, kw: 2, stride: [3, 2], pad: [1, 0], groups: 3, note: "cg = 9, tiled dx" },
  { n: 2, c: 70, h: 5, w: 5, k: 67, kh: 3, kw: 3, pad: [1, 1], note: "64+ channels" },
  { n: 1, c: 5, h: 4, w: 4, k: 3, kh: 4, kw: 1, pad: [3, 0], note: "padding = kernel - 1" },
  { n: 0, c: 3, h: 5, w: 5, k: 4, kh: 3, kw: 3, pad: [1, 1], note: "empty batch (zero gradients)" },
  { n: 2, c: 4, h: 96, w: 96, k: 128, kh: 3, kw: 3, pad: [1, 1], note: "128x128 tiles (forward)" },
  { n: 2, c: 16, h: 96, w: 96, k: 8, kh: 3, kw: 3, pad: [1, 1], note: "128x128 tiles (backward input)" },
];

Deno.test({
  name: "cn_conv2d_* match the reference: strides, padding, dilation, groups, every kernel variant",
  ignore,
  async fn() {
    await withLib((dev) => {
      const errors: string[] = [];
      for (const t of CONV_CASES) errors.push(...checkConv(dev, t, true), ...checkConv(dev, t, false));
      assertEquals(errors, []);
    });
  },
});

Deno.test({
  name: "split sums run in one pass, with the same results, when their workspace cannot be allocated",
  ignore,
  async fn() {
    await withLib((dev) => {
      dev.tight = true;
      const errors = [
        ...checkGemm(dev, 10, 20, 3136, false, true, 1, 0),
        ...checkGemm(dev, 256, 10, 1100, true, false, 0.5, 2),
        ...checkConv(dev, CONV_CASES.find((c) => c.note.startsWith("seed at batch 8"))!, true),
        ...checkConv(dev, CONV_CASES.find((c) => c.note.startsWith("split-K forward"))!, true),
        ...checkConv(dev, CONV_CASES.find((c) => c.note.startsWith("split-K weight"))!, true),
      ];
      assertEquals(errors, []);
    });
  },
});

Deno.test({
  name: "cn_conv2d_* reject bad geometry with messages naming the op, the argument and the values",
  ignore,
  async fn() {
    await withLib((dev) => {
      const s = dev.lib.symbols, p = dev.alloc(1000);
      const g = geometry({ n: 1, c: 4, h: 5, w: 5, k: 6, kh: 3, kw: 3, pad: [1, 1], note: "" });
      const expect = (status: number, text: string) => {
        assertEquals(status, 1, text);
        assertOk(dev.lastError().includes(text), `${JSON.stringify(dev.lastError())} lacks ${JSON.stringify(text)}`);
      };
      expect(s.cn_conv2d_forward(null, p, p, null, geomStruct(g)), "conv2d_forward: y is NULL");
      expect(
        s.cn_conv2d_backward_input(p, p, p, geomStruct({ ...g, groups: 3 })),
        "conv2d_backward_input: groups must divide both channel counts, got groups=3 for c=4, k=6",
      );
      expect(
        s.cn_conv2d_backward_weight(p, p, p, geomStruct({ ...g, oh: 4 })),
        "conv2d_backward_weight: output size is 4x5 but the geometry gives 5x5",
      );
      expect(s.cn_conv2d_backward_bias(p, p, geomStruct({ ...g, strideW: 0 })), "stride must be positive, got (1, 0)");
    });
  },
});

function exists(path: string): boolean {
  try {
    Deno.statSync(path);
    return true;
  } catch {
    return false;
  }
}
