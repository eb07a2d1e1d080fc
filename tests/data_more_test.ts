import { assertEquals, assertOk, assertRejects, assertThrows, join } from "./_std.ts";
import {
  CIFAR10_CLASSES,
  Compose,
  DataLoader,
  type Dataset,
  type ImageDataset,
  type ImageSample,
  loadCifar10,
  Normalize,
  normalize,
  parseCifar10,
  RandomCrop,
  RandomHorizontalFlip,
  randomSplit,
  Subset,
  TensorDataset,
} from "../src/data/mod.ts";
import { Generator } from "../src/tensor/random.ts";
import { memory, type Tensor, tensor, tidy } from "../src/tensor/mod.ts";
import type { BatchLoader } from "../src/train/loop.ts";

/** `n` images of `channels`×`rows`×`cols`; byte p of image i is (i * 7 + p) & 255, label i % 10. */
function images(n: number, channels: number, rows: number, cols: number): ImageDataset {
  const size = channels * rows * cols;
  const bytes = new Uint8Array(n * size).map((_, k) => ((Math.floor(k / size) * 7 + (k % size)) & 255));
  const labels = new Uint8Array(n).map((_, i) => i % 10);
  return { name: "rgb", images: bytes, labels, length: n, rows, cols, channels };
}

/** A dataset whose label is the sample index (n ≤ 256). */
function indexed(ds: ImageDataset): ImageDataset {
  return { ...ds, labels: new Uint8Array(ds.length).map((_, i) => i) };
}

function labelsOf<B extends Tensor[]>(loader: Iterable<B>, at = 1): number[] {
  const out: number[] = [];
  for (const batch of loader) out.push(...batch[at].toArray() as Iterable<number>);
  return out;
}

const range = (n: number) => Array.from({ length: n }, (_, i) => i);

// ---- images with channels ----

Deno.test("DataLoader yields [B, C, H, W] batches of multi-channel images, CHW as stored", () => {
  const ds = images(5, 3, 2, 4);
  const [[x, y], [x2]] = new DataLoader(ds, { batchSize: 3 });
  assertEquals([x.shape, y.shape, x2.shape], [[3, 3, 2, 4], [3], [2, 3, 2, 4]]);
  // image 1, channel 2, row 1, col 3 is byte 1*7 + (2*8 + 1*4 + 3)
  assertEquals(x.toArray()[1 * 24 + 2 * 8 + 1 * 4 + 3], Math.fround((7 + 23) / 255));
  assertEquals(Array.from(y.toArray()), [0, 1, 2]);
  assertThrows(
    () => new DataLoader({ ...ds, channels: 2 }, { batchSize: 2 }),
    "dataset rgb is inconsistent",
    "5×2×2×4 bytes",
  );
  assertThrows(() => new DataLoader({ ...ds, channels: 0 }, { batchSize: 2 }), "channels must be a positive integer");
});

// ---- Dataset protocol ----

/** A map-style dataset of [x, label]: x = [i, i + 0.5] (fresh each get), label = 2i. */
function pairs(n: number, gets: { count: number } = { count: 0 }): Dataset<[Tensor, number]> {
  return {
    length: n,
    get(i) {
      gets.count++;
      return [tensor([i, i + 0.5]), 2 * i];
    },
  };
}

Deno.test("DataLoader batches any Dataset of [Tensor, number] items: stack and int32 labels", () => {
  const gets = { count: 0 };
  const loader = new DataLoader(pairs(5, gets), { batchSize: 2 });
  const batches = [...loader];
  assertEquals(batches.length, 3);
  const [x, y] = batches[1];
  assertEquals([x.shape, x.dtype, y.shape, y.dtype], [[2, 2], "float32", [2], "int32"]);
  assertEquals(Array.from(x.toArray()), [2, 2.5, 3, 3.5]);
  assertEquals(Array.from(y.toArray()), [4, 6]);
  assertEquals(gets.count, 5);
  for (const b of batches) b.forEach((t) => t.dispose());
  // The items get() made are freed once batched: only the batches stay alive.
  const before = memory().tensors;
  const again = [...loader];
  assertEquals(memory().tensors - before, 2 * again.length);
  // a BatchLoader for the training loops, like the image loader
  const asTrainLoader: BatchLoader = loader;
  assertEquals(asTrainLoader.dataset.length, 5);
});

Deno.test("DataLoader over a Dataset shuffles reproducibly from the seed and the epoch", () => {
  const a = new DataLoader(pairs(23), { batchSize: 4, shuffle: true, seed: 5 });
  const b = new DataLoader(pairs(23), { batchSize: 4, shuffle: true, seed: 5 });
  const a0 = labelsOf(a), a1 = labelsOf(a);
  assertEquals(labelsOf(b), a0);
  assertOk(a0.join() !== a1.join(), "epochs differ");
  assertEquals([...a0].sort((p, q) => p - q), range(23).map((i) => 2 * i));
  b.setEpoch(1);
  assertEquals(labelsOf(b), a1);
  const limited = new DataLoader(pairs(23), { batchSize: 4, limit: 6 });
  assertEquals([limited.length, labelsOf(limited)], [2, [0, 2, 4, 6, 8, 10]]);
});

Deno.test("DataLoader rejects Dataset items it cannot batch, naming the item", () => {
  const bad = (item: (i: number) => unknown) =>
    new DataLoader({ length: 3, get: item } as Dataset<[Tensor]>, { batchSize: 3 });
  assertThrows(() => [...bad(() => 7)], "dataset.get(0) returned the number 7", "expected a non-empty array");
  assertThrows(
    () => [...bad((i) => [tensor([1, 2].slice(0, 1 + (i % 2)))])],
    "value 0 of dataset.get(1) has shape [2]",
    "dataset.get(0) has [1]",
  );
  assertThrows(() => [...bad((i) => [tensor([1]), i / 2])], "value 1 of dataset.get(1) is 0.5", "class labels");
  assertThrows(() => [...bad((i) => i === 2 ? [tensor([1])] : [tensor([1]), 1])], "dataset.get(2) returned 1 values");
  assertThrows(
    () => [...bad((i) => [i === 1 ? tensor([1]) : 1])],
    "value 0 of dataset.get(1) is a tensor of shape [1]",
  );
  assertThrows(
    () => new DataLoader(pairs(3), { batchSize: 2, transform: { mean: 0, std: 1 } }),
    "options.transform applies to image datasets only",
  );
  assertThrows(
    () => new DataLoader(pairs(3), { batchSize: 2, limit: 4 }),
    "options.limit is 4 but the dataset has only 3",
  );
  assertThrows(
    () => new DataLoader({ length: 3 } as unknown as ImageDataset, { batchSize: 2 }),
    "dataset must be an ImageDataset",
  );
});

// ---- TensorDataset ----

Deno.test("TensorDataset items are tuples of rows; its tensors must share the first dimension", () => {
  const x = tensor(range(12), [4, 3]);
  const y = tensor([3, 1, 4, 1], [4], { dtype: "int32" });
  const ds = new TensorDataset(x, y);
  assertEquals(ds.length, 4);
  const [row, label] = ds.get(2);
  assertEquals([row.shape, Array.from(row.toArray()), label.shape, label.toArray()[0]], [[3], [6, 7, 8], [], 4]);
  assertThrows(() => ds.get(4), "TensorDataset.get: index 4 is out of range for 4 items");
  assertThrows(
    () => new TensorDataset(x, tensor([1, 2, 3])),
    "tensors[1] has shape [3] but tensors[0] has [4, 3]; expected equal first dimensions",
  );
  assertThrows(() => new TensorDataset(), "expected at least one tensor");
  assertThrows(() => new TensorDataset(tensor(1, [])), "tensors[0] is a scalar");
});

Deno.test("DataLoader over a TensorDataset gathers rows, as batching its items one by one would", () => {
  const x = tensor(range(30).map((v) => v / 4), [10, 3]);
  const y = tensor(range(10), [10], { dtype: "int32" });
  const w = tensor(range(20), [10, 2, 1]);
  const ds = new TensorDataset(x, y, w);
  const fast = new DataLoader(ds, { batchSize: 4, shuffle: true, seed: 9 });
  // The same dataset hidden behind a plain Dataset goes through get() and stack.
  const slow = new DataLoader({ length: ds.length, get: (i: number) => ds.get(i) }, {
    batchSize: 4,
    shuffle: true,
    seed: 9,
  });
  for (let epoch = 0; epoch < 2; epoch++) {
    const f = [...fast], s = [...slow];
    assertEquals(f.length, 3);
    for (const [b, batch] of f.entries()) {
      assertEquals(batch.length, 3);
      for (const k of [0, 1, 2]) {
        assertEquals([batch[k].shape, batch[k].dtype], [s[b][k].shape, s[b][k].dtype]);
        assertEquals(Array.from(batch[k].toArray()), Array.from(s[b][k].toArray()));
      }
    }
  }
  assertEquals(labelsOf(new DataLoader(ds, { batchSize: 3, limit: 5 })), [0, 1, 2, 3, 4]);
  fast.dispose();
  assertEquals(x.toArray()[5], 1.25); // the dataset's own tensors stay usable
  assertThrows(() => new DataLoader(ds, { batchSize: 2, transform: new RandomHorizontalFlip() }), "a TensorDataset");
});

// ---- Subset, randomSplit ----

Deno.test("Subset gives the items at its indices, and checks them", () => {
  const base = pairs(6);
  const s = new Subset(base, [4, 0, 4]);
  assertEquals(s.length, 3);
  assertEquals(s.get(0)[1], 8);
  assertEquals(new Subset(s, [2, 1]).get(1)[1], 0);
  assertThrows(() => new Subset(base, [1, 6]), "indices[1] is 6, out of range for a dataset of 6 items");
  assertThrows(() => new Subset(base, [0.5]), "indices[0] is 0.5");
  assertThrows(() => s.get(3), "Subset.get: index 3 is out of range for a subset of 3 items");
  const [image, label] = new Subset(images(4, 3, 2, 2), [3]).get(0);
  assertEquals([image.shape, label, image.toArray()[5]], [[3, 2, 2], 3, Math.fround((21 + 5) / 255)]);
});

Deno.test("DataLoader over a Subset of images equals the images at those indices, on every path", () => {
  const ds = indexed(images(20, 3, 4, 4));
  const picks = [7, 3, 19, 0, 11, 3];
  const viaSubset = new Subset(new Subset(ds, [...picks, 5].reverse()), range(7).reverse());
  for (const transform of [undefined, new Normalize([0.5], [0.2]), new RandomHorizontalFlip({ p: 0 })]) {
    const batches = [...new DataLoader(viaSubset, { batchSize: 4, transform })];
    const labels = batches.flatMap(([, y]) => Array.from(y.toArray()));
    assertEquals(labels, [...picks, 5]);
    const x = batches[0][0].toArray();
    const want = ds.images.subarray(19 * 48, 20 * 48); // the third pick
    const scale = (b: number) =>
      transform instanceof Normalize ? Math.fround(Math.fround(b / 255) - 0.5) / Math.fround(0.2) : b / 255;
    assertEquals(Array.from(x.subarray(2 * 48, 3 * 48)), Array.from(want, (b) => Math.fround(scale(b))));
  }
  const tensors = new TensorDataset(tensor(range(8), [8]));
  const rows = new DataLoader(new Subset(tensors, [6, 1, 1]), { batchSize: 2 });
  // The loader's copy of the rows outlives a tidy around the first epoch.
  assertEquals(tidy(() => labelsOf(rows, 0)), [6, 1, 1]);
  assertEquals(labelsOf(rows, 0), [6, 1, 1]);
});

Deno.test("randomSplit gives PyTorch 1.13's split sizes, for fractions and lengths", () => {
  // torch.utils.data.random_split(range(n), lengths) sizes, PyTorch 1.13
  const cases: [number, number[], number[]][] = [
    [10, [0.3, 0.3, 0.4], [3, 3, 4]],
    [7, [0.5, 0.5], [4, 3]],
    [5, Array(10).fill(0.1), [1, 1, 1, 1, 1, 0, 0, 0, 0, 0]],
    [11, [0.7, 0.2, 0.1], [8, 2, 1]],
    [3, [0.25, 0.25, 0.25, 0.25], [1, 1, 1, 0]],
    [100, [1 / 3, 1 / 3, 1 / 3], [34, 33, 33]],
    [10, [3, 7], [3, 7]],
    [1, [1], [1]],
  ];
  for (const [n, lengths, want] of cases) {
    const parts = randomSplit(pairs(n), lengths, { generator: new Generator(0) });
    assertEquals(parts.map((p) => p.length), want, `n ${n}, lengths ${lengths}`);
    const all = parts.flatMap((p) => Array.from(p.indices)).sort((a, b) => a - b);
    assertEquals(all, range(n), "the parts cover the dataset once");
  }
});

Deno.test("randomSplit is reproducible from its generator and checks its arguments", () => {
  const ds = images(50, 1, 2, 2);
  const [a, b] = randomSplit(ds, [0.8, 0.2], { generator: new Generator(3) });
  const [c] = randomSplit(ds, [40, 10], { generator: new Generator(3) });
  assertEquals(Array.from(a.indices), Array.from(c.indices));
  assertEquals(Array.from(a.indices), Array.from(new Generator(3).permutation(50).subarray(0, 40)));
  assertEquals(b.length, 10);
  assertOk(Array.from(a.indices).join() !== range(40).join(), "shuffled");
  assertThrows(() => randomSplit(ds, [30, 10]), "lengths [30, 10] sum to 40 but the dataset has 50 items");
  assertThrows(() => randomSplit(ds, [1.5, -0.5]), "fraction at index 0 is 1.5");
  assertThrows(() => randomSplit(ds, [51, -1]), "lengths[1] is -1");
  assertThrows(() => randomSplit(ds, []), "lengths must be a non-empty array");
  assertThrows(() => randomSplit(ds, [50], { seed: 1 } as never), 'randomSplit: unknown option "seed"');
});

// ---- image transforms ----

const sample = (data: number[], channels: number, height: number, width: number): ImageSample => ({
  data: Float32Array.from(data),
  channels,
  height,
  width,
});

Deno.test("Normalize rounds per channel as torchvision's Normalize in float32", () => {
  const bytes = [0, 1, 2, 127, 128, 254, 255];
  const t = new Normalize([0.4914, 0.4822, 0.4465], [0.2470, 0.2435, 0.2616]);
  const img = sample([...bytes, ...bytes, ...bytes].map((b) => b / 255), 3, 1, 7);
  // torch 1.13: (torch.tensor(bytes).float() / 255 - mean[c]) / std[c]
  const want = [
    [
      -1.9894737005233765,
      -1.9735969305038452,
      -1.957720160484314,
      0.026879403740167618,
      0.04275631904602051,
      2.0432324409484863,
      2.0591094493865967,
    ],
    [
      -1.9802875518798828,
      -1.9641824960708618,
      -1.9480774402618408,
      0.06504812836647034,
      0.0811532586812973,
      2.110383987426758,
      2.12648868560791,
    ],
    [
      -1.7068043947219849,
      -1.6918137073516846,
      -1.6768230199813843,
      0.19701534509658813,
      0.21200616657733917,
      2.100835084915161,
      2.115825891494751,
    ],
  ];
  assertEquals(Array.from(t.apply(img).data), want.flat());
  // one mean and std for every channel: the byte table of normalize()
  const one = new Normalize([0.1307], [0.3081]).apply(sample(range(256).map((b) => b / 255), 1, 16, 16));
  assertEquals(Array.from(one.data), Array.from(normalize(0.1307, 0.3081).table));
  assertThrows(() => t.apply(sample([0, 0], 2, 1, 1)), "mean and std have 3 values but the image has 2 channels");
  assertThrows(() => new Normalize([0, 0], [1]), "mean has 2 values but std has 1");
  assertThrows(() => new Normalize([0], [0]), "std[0] must be a finite non-zero number, got 0");
  assertThrows(() => new Normalize([], []), "mean must be a non-empty array");
});

Deno.test("RandomCrop pads with fill, then cuts a window drawn top first, then left", () => {
  // 1 channel 2×3: 1..6; padding 1 → 4×5; a 2×2 window at (i, j) = (int(3), int(4)) draws
  const img = sample([1, 2, 3, 4, 5, 6], 1, 2, 3);
  const crop = new RandomCrop(2, { padding: 1, fill: -1 });
  const g = new Generator(11), ref = new Generator(11);
  const seen = new Set<string>();
  for (let n = 0; n < 200; n++) {
    const out = crop.apply(img, g);
    const i = ref.int(3), j = ref.int(4);
    const padded = (y: number, x: number) => y >= 1 && y <= 2 && x >= 1 && x <= 3 ? (y - 1) * 3 + x : -1;
    assertEquals([out.height, out.width, out.channels], [2, 2, 1]);
    assertEquals(Array.from(out.data), [padded(i, j), padded(i, j + 1), padded(i + 1, j), padded(i + 1, j + 1)]);
    seen.add(`${i},${j}`);
  }
  assertEquals(seen.size, 12, "every window place occurs");
  // A window as big as the padded image draws nothing.
  const whole = new RandomCrop([2, 3]), g2 = new Generator(1);
  assertEquals(Array.from(whole.apply(img, g2).data), [1, 2, 3, 4, 5, 6]);
  assertEquals(g2.nextUint32(), new Generator(1).nextUint32());
  // [left, top, right, bottom] padding, per channel
  const rgb = sample([1, 2, 3, 4], 2, 1, 2);
  const out = new RandomCrop([1, 3], { padding: [1, 0, 0, 0] }).apply(rgb, new Generator(0));
  assertEquals(Array.from(out.data), [0, 1, 2, 0, 3, 4]);
  assertThrows(() => new RandomCrop(4).apply(img, g), "size [4, 4] is larger than the padded image [2, 3]");
  assertThrows(() => new RandomCrop(0), "size must be a positive integer");
  assertThrows(() => new RandomCrop(2, { padding: [1, 2, 3] as never }), "options.padding must be");
  assertThrows(() => new RandomCrop(2, { pad: 1 } as never), 'RandomCrop: unknown option "pad"');
});

Deno.test("RandomHorizontalFlip mirrors each row when a draw is below p, one draw per image", () => {
  const img = sample([1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12], 2, 2, 3);
  const mirrored = [3, 2, 1, 6, 5, 4, 9, 8, 7, 12, 11, 10];
  assertEquals(Array.from(new RandomHorizontalFlip({ p: 1 }).apply(img, new Generator(0)).data), mirrored);
  assertEquals(Array.from(new RandomHorizontalFlip({ p: 0 }).apply(img, new Generator(0)).data), Array.from(img.data));
  const flip = new RandomHorizontalFlip();
  const g = new Generator(4), ref = new Generator(4);
  let flips = 0;
  for (let n = 0; n < 400; n++) {
    const want = ref.random() < 0.5 ? mirrored : Array.from(img.data);
    const got = Array.from(flip.apply(img, g).data);
    assertEquals(got, want);
    if (got[0] === 3) flips++;
  }
  assertOk(flips > 150 && flips < 250, `about half flipped, got ${flips}`);
  assertThrows(() => new RandomHorizontalFlip({ p: 2 }), "options.p must be a probability in [0, 1], got 2");
});

Deno.test("Compose runs its transforms in order and is random when one of them is", () => {
  const norm = new Normalize([0.5], [0.5]);
  const flip = new RandomHorizontalFlip({ p: 1 });
  const both = new Compose([flip, norm]);
  assertEquals([new Compose([norm]).random, both.random], [false, true]);
  const out = both.apply(sample([0, 1], 1, 1, 2), new Generator(0));
  assertEquals(Array.from(out.data), [1, -1]);
  assertThrows(() => new Compose([norm, {} as never]), "transforms[1] is not an image transform");
});

// ---- the DataLoader with image transforms ----

Deno.test("DataLoader random transforms change every epoch and are reproducible from the seed and epoch", () => {
  const ds = indexed(images(30, 3, 4, 4));
  const transform = new Compose([
    new RandomCrop(4, { padding: 2 }),
    new RandomHorizontalFlip(),
    new Normalize([0.4], [0.3]),
  ]);
  const opts = { batchSize: 8, shuffle: true, seed: 21, transform };
  const a = new DataLoader(ds, opts), b = new DataLoader(ds, opts);
  const pixels = (dl: DataLoader) => [...dl].flatMap(([x]) => Array.from(x.toArray()));
  const a0 = pixels(a), a1 = pixels(a);
  assertEquals(pixels(b), a0);
  assertOk(a0.join() !== a1.join(), "epoch 1's augmentations differ from epoch 0's");
  const c = new DataLoader(ds, opts);
  c.setEpoch(1);
  assertEquals(pixels(c), a1);
  // The shuffle is the one without random transforms, and images follow their labels.
  const plain = new DataLoader(ds, { batchSize: 8, shuffle: true, seed: 21 });
  const [[x, y]] = new DataLoader(ds, opts);
  assertEquals(Array.from(y.toArray()), Array.from([...plain][0][1].toArray()));
  assertEquals(x.shape, [8, 3, 4, 4]);
  // Each image is its source image cropped and maybe flipped: one of its values is in the source.
  const i0 = y.toArray()[0];
  const src = new Set(
    Array.from(
      ds.images.subarray(i0 * 48, (i0 + 1) * 48),
      (v) => Math.fround(Math.fround(v / 255) - Math.fround(0.4)) / Math.fround(0.3),
    ).map(Math.fround),
  );
  const pad = Math.fround(Math.fround(0 - Math.fround(0.4)) / Math.fround(0.3));
  assertOk(
    Array.from(x.toArray().subarray(0, 48)).every((v) => src.has(v) || v === pad),
    "pixels come from the image or the padding",
  );
  assertEquals(labelsOf(new DataLoader(ds, { ...opts, shuffle: false, limit: 5 })), [0, 1, 2, 3, 4]);
});

Deno.test("DataLoader applies a deterministic image transform once, to every image", () => {
  const ds = images(9, 1, 3, 3);
  const viaTransform = [...new DataLoader(ds, { batchSize: 4, transform: new Normalize([0.1307], [0.3081]) })];
  const viaTable = [...new DataLoader(ds, { batchSize: 4, transform: normalize(0.1307, 0.3081) })];
  for (const [b, [x]] of viaTransform.entries()) {
    assertEquals(Array.from(x.toArray()), Array.from(viaTable[b][0].toArray()));
  }
  // A transform may change the image size; the batch follows it.
  const crop = { random: false, apply: (s: ImageSample) => new RandomCrop(2).apply(s, new Generator(0)) };
  assertEquals([...new DataLoader(ds, { batchSize: 9, transform: crop })][0][0].shape, [9, 1, 2, 2]);
  const ragged = {
    random: false,
    apply: (s: ImageSample) => s.data[0] < 0.1 ? s : new RandomCrop(2).apply(s, new Generator(0)),
  };
  assertThrows(
    () => [...new DataLoader(ds, { batchSize: 9, transform: ragged })],
    "the transform made image 4 of rgb [1, 2, 2] (4 values) but the first image it made [1, 3, 3]",
  );
});

// ---- CIFAR-10 ----

/** `n` CIFAR-10 records: label (first + r) % 10, pixel p of record r is (first + r + p) & 255. */
function cifarBytes(n: number, first = 0): Uint8Array {
  const out = new Uint8Array(n * 3073);
  for (let r = 0; r < n; r++) {
    out[r * 3073] = (first + r) % 10;
    for (let p = 0; p < 3072; p++) out[r * 3073 + 1 + p] = (first + r + p) & 255;
  }
  return out;
}

Deno.test("loadCifar10 reads data_batch_1..5 or test_batch, CHW images and labels", async () => {
  const dir = await Deno.makeTempDir();
  const bin = join(dir, "cifar-10-batches-bin");
  await Deno.mkdir(bin);
  for (let k = 1; k <= 5; k++) await Deno.writeFile(join(bin, `data_batch_${k}.bin`), cifarBytes(k, 10 * k));
  await Deno.writeFile(join(dir, "test_batch.bin"), cifarBytes(2, 100));
  const train = await loadCifar10({ dir, train: true });
  assertEquals([train.name, train.length, train.channels, train.rows, train.cols], ["cifar10/train", 15, 3, 32, 32]);
  assertEquals(train.files, range(5).map((k) => join(bin, `data_batch_${k + 1}.bin`)));
  // records in file order: batch 1 (1 record from 10), batch 2 (2 from 20), ...
  assertEquals(Array.from(train.labels), [0, 0, 1, 0, 1, 2, 0, 1, 2, 3, 0, 1, 2, 3, 4]);
  assertEquals(train.images[3 * 3072 + 1025], (30 + 1025) & 255);
  const test = await loadCifar10({ dir, train: false });
  assertEquals([test.name, test.length, Array.from(test.labels), test.files], ["cifar10/test", 2, [0, 1], [
    join(dir, "test_batch.bin"),
  ]]);
  const [[x, y]] = new DataLoader(test, { batchSize: 2, transform: new Normalize([0.5, 0.5, 0.5], [0.5, 0.5, 0.5]) });
  assertEquals([x.shape, Array.from(y.toArray())], [[2, 3, 32, 32], [0, 1]]);
  assertEquals(
    x.toArray()[3072 + 2 * 1024 + 5],
    Math.fround(Math.fround(Math.fround(((101 + 2053) & 255) / 255) - 0.5) / 0.5),
  );
  assertEquals(CIFAR10_CLASSES[test.labels[1]], "automobile");
  await Deno.remove(dir, { recursive: true });
});

Deno.test("loadCifar10 names the missing file, a size not a multiple of 3073, a label above 9", async () => {
  const dir = await Deno.makeTempDir();
  for (const k of [1, 2, 4, 5]) await Deno.writeFile(join(dir, `data_batch_${k}.bin`), cifarBytes(1));
  await assertRejects(
    () => loadCifar10({ dir, train: true }),
    `${join(dir, "data_batch_3.bin")} not found`,
    "cifar-10-batches-bin",
  );
  await assertRejects(() => loadCifar10({ dir, train: false }), join(dir, "test_batch.bin"));
  await Deno.writeFile(join(dir, "data_batch_3.bin"), cifarBytes(2).subarray(0, 5000));
  await assertRejects(
    () => loadCifar10({ dir, train: true }),
    `${join(dir, "data_batch_3.bin")} has 5000 bytes, not a multiple of 3073`,
  );
  const bad = cifarBytes(3);
  bad[2 * 3073] = 10;
  await Deno.writeFile(join(dir, "data_batch_3.bin"), bad);
  await assertRejects(
    () => loadCifar10({ dir, train: true }),
    `${join(dir, "data_batch_3.bin")} has label 10 in record 2 (byte 6146); expected labels 0-9`,
  );
  await Deno.writeFile(join(dir, "test_batch.bin"), new Uint8Array(0));
  await assertRejects(() => loadCifar10({ dir, train: false }), "has 0 bytes, none of 3073");
  await assertRejects(
    () => loadCifar10({ dir, train: "yes" as never }),
    "options.train must be true or false, got yes",
  );
  await assertRejects(() => loadCifar10({ train: true } as never), "options.dir must be the folder");
  assertThrows(() => parseCifar10(new Uint8Array(3074), { name: "x.bin" }), "x.bin has 3074 bytes");
  assertEquals(parseCifar10(cifarBytes(2)).labels, new Uint8Array([0, 1]));
  await Deno.remove(dir, { recursive: true });
});
