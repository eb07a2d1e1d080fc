/**
 * A float32 CPU backend's convolution and GEMM kernels against the float64 reference loops, within
 * float32 rounding: |got − want| ≤ atol + rtol · (the same sums over |terms|). Shared by the
 * TypeScript backend's and the WebAssembly backend's tests (tests/ts_backend_test.ts,
 * tests/wasm_backend_test.ts), each with its inputs, storage and tolerance.
 */
import { near } from "./_std.ts";
import type { Backend, Conv2dGeometry } from "../src/backend/backend.ts";
import { tsReferenceBackend } from "../src/backend/ts/mod.ts";

const ref = tsReferenceBackend as Required<Backend<Float64Array>>;
const f64 = (a: ArrayLike<number>) => Float64Array.from(a);
const abs64 = (a: ArrayLike<number>) => Float64Array.from(a, Math.abs);

/** The backend under test and how its operands are made. */
export interface Float32Kernels {
  /** The backend. */
  be: Required<Backend<Float32Array>>;
  /** `size` seeded normal numbers, as a plain array (a stream: each call continues the last). */
  randn(size: number): Float32Array;
  /** `values` as the backend is handed them (its own storage, or the array itself). */
  input(values: Float32Array): Float32Array;
  /** A forward output of `size` elements (the backend's storage, or a plain array). */
  out(size: number): Float32Array;
  /** The tolerance. */
  atol: number;
  rtol: number;
}

/** The four convolution kernels on every case (forward with and without bias, the three gradients). */
export function checkConvs(k: Float32Kernels, cases: [string, Conv2dGeometry][], label: string): void {
  const { be } = k, tol = { atol: k.atol, rtol: k.rtol };
  const randn = (size: number) => k.input(k.randn(size));
  for (const [name, g] of cases) {
    const cg = g.c / g.groups;
    const x = randn(g.n * g.c * g.h * g.w), w = randn(g.k * cg * g.kh * g.kw);
    const bias = randn(g.k), dy = randn(g.n * g.k * g.oh * g.ow);
    const y = k.out(dy.length);
    be.conv2dForward(y, x, w, bias, g);
    const want = new Float64Array(y.length), scale = new Float64Array(y.length);
    ref.conv2dForward(want, f64(x), f64(w), f64(bias), g);
    ref.conv2dForward(scale, abs64(x), abs64(w), abs64(bias), g);
    near(`${label} ${name}: forward`, y, want, { ...tol, scale });
    be.conv2dForward(y, x, w, null, g);
    ref.conv2dForward(want, f64(x), f64(w), null, g);
    ref.conv2dForward(scale, abs64(x), abs64(w), null, g);
    near(`${label} ${name}: forward without bias`, y, want, { ...tol, scale });

    const dx = be.alloc("float32", x.length);
    dx.fill(7); // must be overwritten everywhere
    be.conv2dBackwardInput(dx, dy, w, g);
    const dxWant = new Float64Array(x.length), dxScale = new Float64Array(x.length);
    ref.conv2dBackwardInput(dxWant, f64(dy), f64(w), g);
    ref.conv2dBackwardInput(dxScale, abs64(dy), abs64(w), g);
    near(`${label} ${name}: backward input`, dx, dxWant, { ...tol, scale: dxScale });

    const dw = be.alloc("float32", w.length);
    dw.fill(7);
    be.conv2dBackwardWeight(dw, dy, x, g);
    const dwWant = new Float64Array(w.length), dwScale = new Float64Array(w.length);
    ref.conv2dBackwardWeight(dwWant, f64(dy), f64(x), g);
    ref.conv2dBackwardWeight(dwScale, abs64(dy), abs64(x), g);
    near(`${label} ${name}: backward weight`, dw, dwWant, { ...tol, scale: dwScale });

    const db = be.alloc("float32", g.k);
    be.conv2dBackwardBias(db, dy, g);
    const dbWant = new Float64Array(g.k), dbScale = new Float64Array(g.k);
    ref.conv2dBackwardBias(dbWant, f64(dy), g);
    ref.conv2dBackwardBias(dbScale, abs64(dy), g);
    near(`${label} ${name}: backward bias`, db, dbWant, { ...tol, scale: dbScale });
    for (const t of [y, dx, dw, db, x, w, bias, dy]) be.free(t);
  }
}

/** GEMM on every shape, transpose pair and (alpha, beta), then a strided batch of 3. */
export function checkGemms(k: Float32Kernels, shapes: [number, number, number][], label: string): void {
  const { be } = k, tol = { atol: k.atol, rtol: k.rtol };
  const randn = (size: number) => k.input(k.randn(size));
  for (const [m, n, kk] of shapes) {
    for (const [transA, transB] of [[false, false], [false, true], [true, false], [true, true]]) {
      for (const [alpha, beta] of [[1, 0], [0.5, -2]]) {
        const a = randn(m * kk), b = randn(kk * n), c0 = k.randn(m * n);
        const o = { m, n, k: kk, transA, transB, alpha, beta };
        const c = k.input(c0.slice());
        be.gemm(c, a, b, o);
        const want = f64(c0), scale = abs64(c0);
        ref.gemm(want, f64(a), f64(b), o);
        ref.gemm(scale, abs64(a), abs64(b), { ...o, alpha: Math.abs(alpha), beta: Math.abs(beta) });
        const tag = `${transA ? "T" : "N"}${transB ? "T" : "N"} alpha ${alpha} beta ${beta}`;
        near(`${label} gemm ${m}×${n}×${kk} ${tag}`, c, want, { ...tol, scale });
        for (const t of [a, b, c]) be.free(t);
      }
    }
  }
  // A batch of 3 with strides (the matrices 2 elements apart beyond their size).
  const [m, n, kk] = [9, 11, 13], batch = 3;
  const o = { m, n, k: kk, transA: false, transB: true, alpha: 1, beta: 0, batch };
  const strides = { strideA: m * kk + 2, strideB: kk * n + 2, strideC: m * n + 2 };
  const a = randn(batch * strides.strideA), b = randn(batch * strides.strideB);
  const c = be.alloc("float32", batch * strides.strideC), want = new Float64Array(c.length);
  const scale = new Float64Array(c.length);
  be.gemm(c, a, b, { ...o, ...strides });
  ref.gemm(want, f64(a), f64(b), { ...o, ...strides });
  ref.gemm(scale, abs64(a), abs64(b), { ...o, ...strides });
  for (let t = 0; t < batch; t++) { // the gaps between matrices are never written: compare the matrices
    const at = (s: ArrayLike<number>) => Array.from({ length: m * n }, (_, j) => s[t * strides.strideC + j]);
    near(`${label} batched gemm, matrix ${t}`, at(c), at(want), { ...tol, scale: at(scale) });
  }
  for (const s of [a, b, c]) be.free(s);
}
