/**
 * The one table of op codes (native/ops.def): the generated TypeScript module is current, codes are
 * unique and dense per family, the TypeScript types are the table's, and every op of the table runs
 * through the native library (the CPU emulation build) with the TypeScript expression's result.
 */
import { assertEquals, assertOk, assertRejects, join } from "./_std.ts";
import {
  generateOpsTable,
  main,
  type OpFamily,
  OPS_DEF_PATH,
  OPS_TABLE_PATH,
  parseOpsDef,
} from "../scripts/gen_ops_table.ts";
import * as table from "../src/backend/_ops_table.ts";
import type * as contract from "../src/backend/backend.ts";
import { STATUS } from "../src/backend/cuda/mod.ts";
import { dev, near, test } from "./_cuda.ts";

const opsDef = Deno.readTextFileSync(OPS_DEF_PATH);
const rows = parseOpsDef(opsDef);
const family = (f: OpFamily) => rows.filter((r) => r.family === f);
const asObject = (f: OpFamily) => Object.fromEntries(family(f).map((r) => [r.tsName, r.code]));

Deno.test("ops table: src/backend/_ops_table.ts is the generator's output for native/ops.def, formatted", async () => {
  const want = await generateOpsTable(opsDef);
  const got = Deno.readTextFileSync(OPS_TABLE_PATH);
  assertOk(got === want, "src/backend/_ops_table.ts is stale: run deno run -A scripts/gen_ops_table.ts");
  assertOk(
    got.startsWith("// Generated from native/ops.def by scripts/gen_ops_table.ts: do not edit"),
    got.slice(0, 80),
  );
  assertEquals(await main(["--check"]), 0);
});

Deno.test("ops table: gen_ops_table --check exits 1 for a stale or missing file, and the generator rejects bad rows", async () => {
  const dir = Deno.makeTempDirSync({ prefix: "convnet_ops_table_" });
  const [log, error] = [console.log, console.error];
  console.log = console.error = () => {};
  try {
    const stale = join(dir, "_ops_table.ts");
    Deno.writeTextFileSync(stale, Deno.readTextFileSync(OPS_TABLE_PATH).replace("tanh: 7", "tanh: 8"));
    assertEquals(await main(["--check"], { table: stale }), 1);
    assertEquals(await main(["--check"], { table: join(dir, "missing.ts") }), 1);
    assertEquals(await main([], { table: stale }), 0, "writes the file");
    assertEquals(await main(["--check"], { table: stale }), 0, "now current");
  } finally {
    [console.log, console.error] = [log, error];
    Deno.removeSync(dir, { recursive: true });
  }
  const bad = (text: string, ...includes: string[]) =>
    assertRejects(() => generateOpsTable(opsDef + text), ...includes);
  await bad("CN_UNARY_OP(COPY, copy, 7, x, x)\n", "unary code 7 is already used", "native/ops.def:");
  await bad("CN_UNARY_OP(TANH, tanh2, 9, x, x)\n", "unary cName TANH is already used");
  await bad("CN_SCALAR_CMP(EQ2, eq, 99, x == s, 1)\n", "scalar tsName eq is already used");
  await bad("CN_BINARY_OP(POW, pow, 10, a)\n", "CN_BINARY_OP takes 5 arguments, got 4");
  await bad("CN_UNARY_OP(SIN, sin, -1, sin(x), Math.sin(x))\n", "the code must be an integer >= 0, got -1");
  await bad("CN_TERNARY_OP(FMA, fma, 0, a, b)\n", "a row must be one of");
});

Deno.test("ops table: codes are unique and dense from 0 in every family, and the module's objects are the table", () => {
  const families: OpFamily[] = ["unary", "binary", "scalar", "reduce", "dtype", "distribution", "poolKind"];
  for (const f of families) {
    const codes = family(f).map((r) => r.code).sort((a, b) => a - b);
    assertEquals(codes, codes.map((_, i) => i), `${f} codes`);
    assertEquals(new Set(family(f).map((r) => r.tsName)).size, codes.length, `${f} names`);
  }
  assertEquals({ ...table.UNARY_OPS }, asObject("unary"));
  assertEquals({ ...table.BINARY_OPS }, asObject("binary"));
  assertEquals({ ...table.SCALAR_OPS }, asObject("scalar"));
  assertEquals({ ...table.REDUCE_OPS }, asObject("reduce"));
  assertEquals({ ...table.DTYPE_CODES }, asObject("dtype"));
  assertEquals({ ...table.DISTRIBUTION_CODES }, asObject("distribution"));
  assertEquals({ ...table.POOL_KIND_CODES }, asObject("poolKind"));
  assertEquals({ ...table.STATUS_CODES }, asObject("status"));
  const cmp = rows.filter((r) => r.comparison).map((r) => r.tsName);
  assertEquals([...table.COMPARISONS].sort(), [...new Set(cmp)].sort());
  assertEquals([...table.COMPARISONS].sort(), ["eq", "ge", "gt", "le", "lt", "ne"]);
});

/** True when A and B are the same type (not merely assignable). */
type Same<A, B> = (<T>() => T extends A ? 1 : 2) extends (<T>() => T extends B ? 1 : 2) ? true : false;

Deno.test("ops table: the TypeScript types are the table's (op names, FNS records, the contract's re-exports)", () => {
  const checks: true[] = [
    true as Same<table.UnaryOp, keyof typeof table.UNARY_FNS>,
    true as Same<table.BinaryOp, keyof typeof table.BINARY_FNS>,
    true as Same<table.ScalarOp, keyof typeof table.SCALAR_FNS>,
    true as Same<contract.UnaryOp, table.UnaryOp>,
    true as Same<contract.BinaryOp, table.BinaryOp>,
    true as Same<contract.ScalarOp, table.ScalarOp>,
    true as Same<contract.ReduceOp, table.ReduceOp>,
    true as Same<keyof typeof table.DTYPE_CODES, Exclude<contract.DType, "float64">>,
    true as Same<keyof typeof table.DISTRIBUTION_CODES, contract.RandomFill["distribution"]>,
    true as Same<keyof typeof table.POOL_KIND_CODES, contract.PoolKind>,
  ];
  assertEquals(checks.length, 10);
  assertEquals(Object.keys(table.UNARY_FNS), Object.keys(table.UNARY_OPS));
  assertEquals(Object.keys(table.BINARY_FNS), Object.keys(table.BINARY_OPS));
  assertEquals(Object.keys(table.SCALAR_FNS), Object.keys(table.SCALAR_OPS));
  for (const r of rows.filter((r) => r.tsExpr)) {
    const fns = r.family === "unary" ? table.UNARY_FNS : r.family === "binary" ? table.BINARY_FNS : table.SCALAR_FNS;
    assertEquals(typeof (fns as Record<string, unknown>)[r.tsName], "function", `${r.family} ${r.tsName}`);
  }
});

// ------------------------------------------------------------------------------------------ the CUDA path

/** Inputs exercising each op: NaN, signs, zeros, values that compare equal. */
const A = Float32Array.from([NaN, -2.5, -1, -0, 0, 0.5, 1, 2, 3.75, 100]);
const B = Float32Array.from([1, NaN, -1, 0, 2, 0.5, -3, 2, 1.5, 0.25]);

test("ops table: every unary, binary, scalar and reduce code runs through the native library as its TS expression says", () => {
  const be = dev().backend;
  const sym = be.library.symbols, n = A.length, nn = BigInt(n);
  const a = be.fromHost("float32", A), b = be.fromHost("float32", B);
  const out = be.alloc("float32", n), outI = be.alloc("int32", n);
  be.fill(out, 0, n), be.fill(outI, 0, n); // written below by raw calls, which the deferred zero-fill cannot see
  const shape = BigInt64Array.from([nn]), one = BigInt64Array.from([1n]);
  const f32 = (v: number) => Math.fround(v);
  const read = (cmp: boolean) => (cmp ? be.toHost("int32", outI, n) : be.toHost("float32", out, n)) as Float32Array;
  try {
    for (const r of rows) {
      const cmp = r.comparison, o = cmp ? outI.ptr : out.ptr, label = `${r.family} ${r.cName} (code ${r.code})`;
      let status: number, want: number[];
      if (r.family === "unary") {
        status = sym.cn_unary(r.code, 0, o, a.ptr, nn);
        want = Array.from(A, (x) => f32(table.UNARY_FNS[r.tsName as table.UnaryOp](x)));
      } else if (r.family === "binary") {
        status = sym.cn_binary(r.code, 0, o, a.ptr, b.ptr, 1, shape, one, one);
        want = Array.from(A, (x, i) => f32(table.BINARY_FNS[r.tsName as table.BinaryOp](x, B[i])));
      } else if (r.family === "scalar") {
        status = sym.cn_scalar(r.code, 0, o, a.ptr, 0.5, nn);
        want = Array.from(A, (x) => f32(table.SCALAR_FNS[r.tsName as table.ScalarOp](x, 0.5)));
      } else if (r.family === "reduce") {
        const arg = r.tsName.startsWith("arg");
        status = sym.cn_reduce(r.code, 0, arg ? outI.ptr : out.ptr, b.ptr, 1n, nn, 1n);
        assertEquals(status, STATUS.OK, `${label}: ${be.library.error(status, "cn_reduce").message}`);
        const got = (arg ? be.toHost("int32", outI, 1) : be.toHost("float32", out, 1))[0];
        const want1 = { sum: NaN, max: NaN, argmax: 1, min: NaN, argmin: 1 }[r.tsName];
        assertOk(Object.is(got, want1) || (Number.isNaN(got) && Number.isNaN(want1)), `${label}: got ${got}`);
        continue;
      } else {
        continue; // dtype, distribution and pooling codes: exercised by every test of the backend
      }
      assertEquals(status, STATUS.OK, `${label}: ${be.library.error(status, r.family).message}`);
      near(label, read(cmp), want, { rtol: r.family === "unary" ? 3e-7 : 0 });
    }
  } finally {
    for (const s of [a, b, out, outI]) be.free(s);
  }
});
