import { assertEquals, assertOk, assertRejects, assertThrows, join } from "./_std.ts";
import { load, loadBytes, parseSafetensors, save, saveBytes } from "../src/io/mod.ts";
import { tensor } from "../src/tensor/mod.ts";

/** Builds a safetensors file from a header object and a data section, unpadded. */
function rawFile(header: unknown, data = new Uint8Array(), headerText?: string): Uint8Array {
  const json = new TextEncoder().encode(headerText ?? JSON.stringify(header));
  const out = new Uint8Array(8 + json.length + data.length);
  new DataView(out.buffer).setBigUint64(0, BigInt(json.length), true);
  out.set(json, 8);
  out.set(data, 8 + json.length);
  return out;
}

Deno.test("saveBytes/loadBytes round-trip float32 and int32 tensors bit for bit", () => {
  const w = new Float32Array([1.5, -0, NaN, Infinity, 1e-45, -3.4028234663852886e38]);
  const bits = new Uint32Array(w.buffer.slice(0));
  const dict = {
    "conv1.weight": tensor(w.slice(), [2, 3]),
    "fc.bias": tensor([0.1], [1]),
    "steps": tensor(new Int32Array([-7, 2147483647]), [2], { dtype: "int32" }),
    "empty": tensor(new Float32Array(0), [0, 3]),
  };
  const back = loadBytes(saveBytes(dict));
  assertEquals(Object.keys(back), ["conv1.weight", "fc.bias", "steps", "empty"]);
  const cw = back["conv1.weight"];
  assertEquals([cw.shape, cw.dtype], [[2, 3], "float32"]);
  assertEquals(Array.from(new Uint32Array((cw.toArray() as Float32Array).slice().buffer)), [
    ...bits,
  ]);
  assertEquals(back["fc.bias"].toArray()[0], Math.fround(0.1));
  assertEquals([back.steps.dtype, Array.from(back.steps.toArray())], ["int32", [
    -7,
    2147483647,
  ]]);
  assertEquals(back.empty.shape, [0, 3]);
});

Deno.test("saveBytes writes the reference layout: u64 length, space-padded JSON, data", () => {
  const bytes = saveBytes({ a: tensor([1, 2], [2]) }, { metadata: { format: "pt" } });
  const n = Number(new DataView(bytes.buffer).getBigUint64(0, true));
  assertEquals(n % 8, 0);
  const text = new TextDecoder().decode(bytes.subarray(8, 8 + n));
  assertEquals(
    text.trimEnd(),
    '{"__metadata__":{"format":"pt"},"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}}',
  );
  assertOk(/^ *$/.test(text.slice(text.trimEnd().length)));
  assertEquals(bytes.length, 8 + n + 8);
  assertEquals(Array.from(new Float32Array(bytes.slice(8 + n).buffer)), [1, 2]);
  assertEquals(parseSafetensors(bytes).metadata, { format: "pt" });
});

Deno.test("save writes atomically and load reads it back", async () => {
  const dir = await Deno.makeTempDir();
  const path = join(dir, "model.safetensors");
  await save({ w: tensor([1, 2, 3, 4], [2, 2]) }, path);
  await save({ w: tensor([5, 6, 7, 8], [2, 2]) }, path);
  const names = [];
  for await (const e of Deno.readDir(dir)) names.push(e.name);
  assertEquals(names, ["model.safetensors"]);
  const back = await load(path);
  assertEquals(Array.from(back.w.toArray()), [5, 6, 7, 8]);
  await assertRejects(() => load(join(dir, "missing.safetensors")), "load: cannot read");
  await assertRejects(
    () => save({ w: tensor([1], [1]) }, join(dir, "no", "such", "dir", "m.safetensors")),
    "save: cannot write",
  );
  await Deno.remove(dir, { recursive: true });
});

Deno.test("load rejects a file shorter than 8 bytes, naming the file", async () => {
  const dir = await Deno.makeTempDir();
  const path = join(dir, "short.safetensors");
  await Deno.writeFile(path, new Uint8Array(5));
  await assertRejects(() => load(path), `load: ${path}: file has 5 bytes`);
  await Deno.remove(dir, { recursive: true });
});

Deno.test("loadBytes rejects header lengths beyond the limit or the file", () => {
  const big = new Uint8Array(16);
  new DataView(big.buffer).setBigUint64(0, 200_000_000n, true);
  assertThrows(() => loadBytes(big, "f"), "load: f: header length 200000000 exceeds the limit");
  const over = new Uint8Array(16);
  new DataView(over.buffer).setBigUint64(0, 9n, true);
  assertThrows(() => loadBytes(over, "f"), "header length 9 exceeds the 8 bytes after");
});

Deno.test("loadBytes rejects headers that are not UTF-8 JSON objects", () => {
  const bad = rawFile(null, undefined, "xx");
  bad[8] = 0xff;
  assertThrows(() => loadBytes(bad, "f"), "f: header is not valid UTF-8");
  assertThrows(() => loadBytes(rawFile(null, undefined, "{nope"), "f"), "header is not valid JSON");
  assertThrows(() => loadBytes(rawFile([1, 2]), "f"), "header is not a JSON object (got array)");
  assertThrows(
    () => loadBytes(rawFile({ __metadata__: { a: 1 } }), "f"),
    '__metadata__["a"] must be a string',
  );
});

Deno.test("loadBytes rejects bad entries, naming the tensor key", () => {
  const f32 = (shape: unknown, offsets: unknown, dtype: unknown = "F32") => ({
    w: { dtype, shape, data_offsets: offsets },
  });
  assertThrows(
    () => loadBytes(rawFile(f32([1], [0, 2], "F16"), new Uint8Array(2)), "f"),
    'f: tensor "w": dtype "F16" is not supported; expected one of F32, F64, I32',
  );
  assertThrows(
    () => loadBytes(rawFile(f32([-1], [0, 4]), new Uint8Array(4)), "f"),
    'tensor "w": shape [-1] must be an array of non-negative integers',
  );
  assertThrows(
    () => loadBytes(rawFile(f32([1.5], [0, 4]), new Uint8Array(4)), "f"),
    'tensor "w": shape [1.5]',
  );
  assertThrows(
    () => loadBytes(rawFile(f32([1], [0]), new Uint8Array(4)), "f"),
    'tensor "w": data_offsets [0] must be two non-negative integers',
  );
  assertThrows(
    () => loadBytes(rawFile(f32([2], [0, 4]), new Uint8Array(4)), "f"),
    'tensor "w": data_offsets [0, 4] span 4 bytes but F32 shape [2] needs 8',
  );
  assertThrows(
    () => loadBytes(rawFile(f32([1], [4, 0]), new Uint8Array(4)), "f"),
    'tensor "w": data_offsets [4, 0] end before they begin',
  );
  assertThrows(
    () => loadBytes(rawFile({ w: 3 }), "f"),
    'tensor "w": entry must be an object',
  );
});

Deno.test("loadBytes requires offsets that tile the data section exactly", () => {
  const e = (begin: number, end: number) => ({
    dtype: "F32",
    shape: [(end - begin) / 4],
    data_offsets: [begin, end],
  });
  assertThrows(
    () => loadBytes(rawFile({ a: e(0, 4), b: e(8, 12) }, new Uint8Array(12)), "f"),
    'tensor "b": data_offsets begin at 8 but tensor "a" ends at 4: a gap of 4 bytes',
  );
  assertThrows(
    () => loadBytes(rawFile({ a: e(4, 8) }, new Uint8Array(8)), "f"),
    'tensor "a": data_offsets begin at 4 but the data section starts at 0',
  );
  assertThrows(
    () => loadBytes(rawFile({ a: e(0, 8), b: e(4, 12) }, new Uint8Array(12)), "f"),
    'tensor "b": data_offsets begin at 4, overlapping tensor "a" which ends at 8',
  );
  assertThrows(
    () => loadBytes(rawFile({ a: e(0, 4) }, new Uint8Array(8)), "f"),
    "data section has 8 bytes but the tensors end at 4: 4 trailing bytes",
  );
  assertThrows(
    () => loadBytes(rawFile({ a: e(0, 8) }, new Uint8Array(4)), "f"),
    'tensor "a": data_offsets end at 8 but the data section has only 4 bytes',
  );
  // Out-of-order offsets that still tile the data are fine; keys keep header order.
  const data = new Uint8Array(new Float32Array([1, 2]).buffer);
  const ok = loadBytes(rawFile({ b: e(4, 8), a: e(0, 4) }, data));
  assertEquals(Object.keys(ok), ["b", "a"]);
  assertEquals([ok.a.toArray()[0], ok.b.toArray()[0]], [1, 2]);
});

Deno.test("saveBytes rejects non-tensors and the reserved key", () => {
  assertThrows(
    () => saveBytes({ w: [1, 2] as unknown as ReturnType<typeof tensor> }),
    'saveBytes: stateDict["w"] is not a Tensor',
  );
  assertThrows(
    () => saveBytes({ __metadata__: tensor([1], [1]) }),
    '"__metadata__" is reserved',
  );
});
