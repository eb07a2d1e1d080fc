/**
 * gatherRows on the CUDA backend (the emulation build here): one batch's rows of one or two
 * tensors, the indices passed in the launch (chunks of 768 rows), equal to the reference
 * backend's `gather` bit for bit; a bad index or bad sizes are errors naming them; the DataLoader
 * on CUDA yields the CPU loader's batches through it with no index upload.
 */
import { assertEquals, assertThrows } from "./_std.ts";
import { Buffers, dev, Generator, ints, ref, test, uniform } from "./_cuda.ts";
import type { TsStorage } from "../src/backend/ts/mod.ts";
import { DataLoader, type ImageDataset } from "../src/data/mod.ts";
import { cpu } from "../src/backend/device.ts";
import { noGrad } from "../src/tensor/mod.ts";

/** The reference backend's rows `index` of an [n, row] tensor, through its `gather`. */
function refRows(x: Float32Array | Int32Array, row: number, index: Int32Array): Float32Array | Int32Array {
  const out = x instanceof Float32Array ? new Float32Array(index.length * row) : new Int32Array(index.length * row);
  const full = new Int32Array(index.length * row).map((_, t) => index[Math.floor(t / row)]);
  ref.gather(out as unknown as TsStorage, x as unknown as TsStorage, full as unknown as TsStorage, {
    outer: 1,
    n: x.length / row,
    m: index.length,
    inner: row,
  });
  return out;
}

const bits = (a: Float32Array | Int32Array) => Array.from(new Uint32Array(a.buffer, a.byteOffset, a.length));

for (const count of [1, 10, 768, 769, 2000]) {
  test(`cuda gatherRows equals gather bit for bit: ${count} rows of 37 float32 (a NaN) and 1 int32`, () => {
    const g = new Generator(count);
    const n = 50, x = uniform(g, n * 37), y = ints(g, n, -9, 9);
    x[5 * 37 + 3] = NaN;
    const index = ints(g, count, 0, n - 1);
    index[0] = n - 1;
    const b = new Buffers();
    try {
      const outX = b.out("float32", count * 37), outY = b.out("int32", count);
      b.be.gatherRows([outX, outY], [b.put(x), b.put(y)], [37, 1], n, index);
      assertEquals(bits(b.get(outX) as Float32Array), bits(refRows(x, 37, index)), "x rows");
      assertEquals(bits(b.get(outY) as Int32Array), bits(refRows(y, 1, index)), "y rows");
      const only = b.out("int32", count * 2), y2 = ints(g, n * 2, -5, 5);
      b.be.gatherRows([only], [b.put(y2)], [2], n, index);
      assertEquals(bits(b.get(only) as Int32Array), bits(refRows(y2, 2, index)), "one source");
    } finally {
      b.free();
    }
  });
}

test("cuda gatherRows: an index out of range and bad sizes are errors naming them", () => {
  const b = new Buffers();
  try {
    const x = b.put(new Float32Array(12)), out = b.out("float32", 6);
    b.be.gatherRows([out], [x], [3], 4, Int32Array.of(1, 4));
    assertThrows(
      () => b.get(out),
      "gather: index 4 at position 1 of the index is out of range; expected an index in [0, 4)",
    );
    assertThrows(
      () => b.be.gatherRows([out], [x], [5], 4, Int32Array.of(0)),
      "source 0 holds 12 elements; expected 4 rows of 5",
    );
    assertThrows(
      () => b.be.gatherRows([out, out, out], [x, x, x], [3, 3, 3], 4, Int32Array.of(0)),
      "one or two sources",
    );
    const big = b.put(new BigInt64Array(4));
    assertThrows(
      () => b.be.gatherRows([big], [big], [1], 4, Int32Array.of(0)),
      "source 0 is int64; expected float32 or int32",
    );
  } finally {
    b.free();
  }
});

test("cuda DataLoader: the CPU loader's batches, gathered in one launch each with nothing uploaded", () => {
  const g = new Generator(3);
  const ds: ImageDataset = {
    name: "synthetic",
    images: Uint8Array.from(ints(g, 23 * 6 * 5, 0, 255)),
    labels: Uint8Array.from(ints(g, 23, 0, 9)),
    length: 23,
    rows: 6,
    cols: 5,
  };
  const d = dev();
  const opts = { batchSize: 4, shuffle: true, seed: 5, transform: { mean: 0.5, std: 0.25 } };
  const onCuda = new DataLoader(ds, { ...opts, device: d }), onCpu = new DataLoader(ds, { ...opts, device: cpu });
  // The first epoch uploads the dataset; the second (another shuffle) is compared.
  for (const l of [onCuda, onCpu]) [...l].forEach(([x, y]) => noGrad(() => [x.dispose(), y.dispose()]));
  const before = d.threadStats();
  const got = [...onCuda], want = [...onCpu];
  const after = d.threadStats();
  assertEquals(after.launches - before.launches, 6, "one launch per batch (6 batches)");
  assertEquals(after.h2dCopies - before.h2dCopies, 0, "no index upload");
  assertEquals(got.length, want.length);
  got.forEach(([x, y], i) => {
    assertEquals(x.shape, want[i][0].shape, `batch ${i}: x shape`);
    assertEquals(bits(x.toArray() as Float32Array), bits(want[i][0].toArray() as Float32Array), `batch ${i}: x`);
    assertEquals(
      Array.from(y.toArray() as Int32Array),
      Array.from(want[i][1].toArray() as Int32Array),
      `batch ${i}: y`,
    );
  });
  noGrad(() => [...got, ...want].forEach(([x, y]) => [x.dispose(), y.dispose()]));
  onCuda.dispose();
  onCpu.dispose();
});
