/**
 * conv2dBackwardWeightBias on the CUDA backend (the emulation build here): the weight and bias
 * gradients of conv2dBackwardWeight and conv2dBackwardBias bit for bit, in one launch where neither
 * reduction splits (R <= 32, N*oh*ow <= 16384: the seed's layer), through the two calls otherwise.
 */
import { assertEquals } from "./_std.ts";
import { Buffers, dev, Generator, test, uniform } from "./_cuda.ts";
import { conv2dGeometry } from "../src/backend/geometry.ts";
import type { Conv2dGeometry } from "../src/backend/backend.ts";

const bits = (a: Float32Array | Int32Array) => Array.from(new Uint32Array(a.buffer, a.byteOffset, a.length));

const CASES: [string, Conv2dGeometry, number][] = [
  ["the seed's layer (1->16, 3x3 p1, batch 10)", conv2dGeometry(10, 1, 28, 28, 16, 3, 3, { padding: [1, 1] }), 1],
  ["R = 27, k = 19 (a partial channel chunk)", conv2dGeometry(2, 3, 11, 13, 19, 3, 3, { padding: [1, 1] }), 1],
  [
    "2 groups, stride and dilation, R = 18 (MC = 2)",
    conv2dGeometry(2, 4, 11, 9, 6, 3, 3, { stride: [2, 1], dilation: [1, 2], padding: [1, 2], groups: 2 }),
    1,
  ],
  ["R = 50 (the tiled weight kernel: two calls)", conv2dGeometry(2, 2, 12, 9, 5, 5, 5, { padding: [2, 2] }), 2],
  ["P = 19200 (split sums: two calls)", conv2dGeometry(3, 1, 80, 80, 4, 3, 3, { padding: [1, 1] }), 4],
];

for (const [name, c, most] of CASES) {
  test(`cuda conv2dBackwardWeightBias equals the two kernels bit for bit: ${name}`, () => {
    const g = new Generator(c.k * 31 + c.c);
    const x = uniform(g, c.n * c.c * c.h * c.w), dy = uniform(g, c.n * c.k * c.oh * c.ow);
    const wSize = c.k * (c.c / c.groups) * c.kh * c.kw;
    const b = new Buffers();
    try {
      const X = b.put(x), DY = b.put(dy);
      const dw = b.out("float32", wSize), db = b.out("float32", c.k);
      b.be.conv2dBackwardWeight(dw, DY, X, c);
      b.be.conv2dBackwardBias(db, DY, c);
      const dw2 = b.out("float32", wSize), db2 = b.out("float32", c.k);
      const before = dev().threadStats().launches;
      b.be.conv2dBackwardWeightBias(dw2, db2, DY, X, c);
      const launches = dev().threadStats().launches - before;
      assertEquals(bits(b.get(dw2)), bits(b.get(dw)), `${name}: dw`);
      assertEquals(bits(b.get(db2)), bits(b.get(db)), `${name}: db`);
      if (most === 1) assertEquals(launches, 1, `${name}: one launch`);
      else assertEquals(launches > 1 && launches <= most, true, `${name}: ${launches} launches, the two calls'`);
    } finally {
      b.free();
    }
  });
}
