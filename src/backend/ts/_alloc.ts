/**
 * Storage of the TypeScript backend: typed arrays, recycled.
 *
 * A training loop asks for the same sizes every step. Fresh typed arrays cost a page fault
 * per 4 KiB on first touch (about 0.25 ms per step for the seed's network at batch 10), so
 * freed arrays go on free lists and come back zeroed. Two kinds of memory:
 *
 * - one thread: plain typed arrays, kept by type and length (at most `POOL_BYTES` in all);
 * - worker threads: views of the shared heap, one growable `SharedArrayBuffer` that every
 *   worker maps once at start, carved by a bump pointer and recycled by size class.
 *   Workers then need only byte offsets to find an operand.
 *
 * Where the runtime has WebAssembly threads, the heap is the buffer of a shared
 * `WebAssembly.Memory` (its growable view, `toResizableBuffer()`): a view's `byteOffset` is then
 * the address the WebAssembly SIMD kernels (src/backend/wasm) read and write, with no copy. Its
 * first `WASM_RESERVED` bytes belong to the module, and wasm32 caps it at 4 GiB: past that,
 * allocation falls back to plain arrays (which the wasm kernels copy in and out).
 *
 * The heap never shrinks (like a GPU caching allocator); tensors that are disposed or
 * garbage-collected return their block to it.
 *
 * Zeroing is lazy. Most kernels overwrite their outputs completely, so a recycled block is
 * handed out as it is and marked: the backend calls {@linkcode overwritten} on outputs a
 * kernel writes in full (the mark goes) and {@linkcode readable} on everything it reads
 * (a marked block is zeroed then). Zeroing every recycled block up front cost 13–20% of a
 * training step (four activation-sized buffers per step).
 *
 * @module
 */
import type { DType } from "../backend.ts";

/** Typed arrays that allocation hands out. */
export type Allocated = Float32Array | Float64Array | Int32Array | BigInt64Array;

/** A `dtype` view of `size` elements of `buffer` from byte `offset`. */
export function view(dtype: DType, buffer: ArrayBufferLike, offset: number, size: number): Allocated {
  switch (dtype) {
    case "float32":
      return new Float32Array(buffer, offset, size);
    case "float64":
      return new Float64Array(buffer, offset, size);
    case "int32":
      return new Int32Array(buffer, offset, size);
    case "int64":
      return new BigInt64Array(buffer, offset, size);
  }
}

/** At most this many bytes wait on the one-thread free lists; beyond, freed arrays go to the GC. */
const POOL_BYTES = 256 * 2 ** 20;
/** The shared heap starts at this size and doubles as needed, up to `HEAP_MAX`. */
const HEAP_START = 64 * 2 ** 20;
/** Address space reserved for the heap (committed only as it grows). */
const HEAP_MAX = 16 * 2 ** 30;
/** A WebAssembly page; the heap grows by whole pages. */
const PAGE = 65536;
/** The most a wasm32 memory holds: 65536 pages, 4 GiB. */
const WASM_HEAP_MAX = 4 * 2 ** 30;
/** Bytes at the start of the WebAssembly heap kept for the module (its __heap_base must not pass this). */
export const WASM_RESERVED = 1 * 2 ** 20;
/** Blocks start on a cache line (so two threads never write the same line of different tensors) and span whole lines. */
const ALIGN = 64;

const CTORS = { float32: Float32Array, float64: Float64Array, int32: Int32Array, int64: BigInt64Array } as const;

// ---- one thread: plain arrays on free lists ----

const pool = new Map<string, Allocated[]>();
const pooled = new Set<Allocated>(); // catches a double free
let pooledBytes = 0;

function poolKey(a: Allocated): string {
  return `${a.constructor.name}:${a.length}`;
}

// ---- worker threads: the shared heap ----

let heap: SharedArrayBuffer | null = null;
let heapWasm: WebAssembly.Memory | null = null;
let top = 0;
const heapFree = new Map<number, number[]>(); // size class in bytes -> free offsets
const heapFreeSet = new Set<number>(); // catches a double free

/** Size classes: multiples of 64 bytes up to 4 KiB, then 8 per doubling (at most 12.5% slack). */
export function sizeClass(bytes: number): number {
  if (bytes <= 4096) return Math.max(ALIGN, Math.ceil(bytes / ALIGN) * ALIGN);
  const step = 2 ** (Math.floor(Math.log2(bytes)) - 3);
  return Math.ceil(bytes / step) * step;
}

/** A shared WebAssembly.Memory and its growable buffer, or null where the runtime lacks either. */
function wasmHeap(): { memory: WebAssembly.Memory; buffer: SharedArrayBuffer } | null {
  try {
    const memory = new WebAssembly.Memory({ initial: HEAP_START / PAGE, maximum: WASM_HEAP_MAX / PAGE, shared: true });
    const buffer = (memory as { toResizableBuffer?(): ArrayBufferLike }).toResizableBuffer?.();
    if (buffer instanceof SharedArrayBuffer && buffer.growable) return { memory, buffer };
  } catch {
    // No shared WebAssembly memory here (or no address space for it): a plain SharedArrayBuffer.
  }
  return null;
}

/**
 * The shared WebAssembly.Memory behind the heap (creating the heap), or null when the heap is a plain
 * SharedArrayBuffer (no WebAssembly threads in this runtime).
 */
export function heapMemory(): WebAssembly.Memory | null {
  sharedHeap();
  return heapWasm;
}

/** The shared heap, created on first use (null once reserving address space has failed). */
export function sharedHeap(): SharedArrayBuffer {
  if (heap === null) {
    const wasm = wasmHeap();
    if (wasm) {
      heapWasm = wasm.memory;
      top = WASM_RESERVED;
      return heap = wasm.buffer;
    }
    // Reserve generously; fall back to smaller reservations where address space is tight.
    for (let max = HEAP_MAX; heap === null; max /= 4) {
      try {
        heap = new SharedArrayBuffer(HEAP_START, { maxByteLength: max });
      } catch (e) {
        if (max <= HEAP_START) throw new Error("ts backend: cannot create the shared heap", { cause: e });
      }
    }
  }
  return heap;
}

/** `size` zeroed elements in the shared heap, or null when the heap is full. */
export function heapAllocOrNull(dtype: DType, size: number): Allocated | null {
  const h = sharedHeap();
  const bytes = sizeClass(size * CTORS[dtype].BYTES_PER_ELEMENT);
  const list = heapFree.get(bytes);
  if (list && list.length > 0) {
    const off = list.pop()!;
    heapFreeSet.delete(off);
    const a = view(dtype, h, off, size);
    unzeroed.add(a);
    return a;
  }
  if (top + bytes > h.byteLength) {
    const need = Math.ceil((top + bytes) / PAGE) * PAGE; // whole pages (a WebAssembly.Memory grows by pages)
    const want = Math.max(need, Math.min(2 * h.byteLength, h.maxByteLength));
    if (want > h.maxByteLength) return null; // full: the caller falls back to a plain array
    h.grow(want); // fresh pages are zero
  }
  const a = view(dtype, h, top, size);
  top += bytes;
  return a;
}

/** Whether `a` lives in the shared heap (so workers can reach it). */
export function inSharedHeap(a: ArrayBufferView): boolean {
  return heap !== null && a.buffer === heap;
}

// ---- the allocator ----

let useHeap = false;

/** Sends new allocations to the shared heap (true, when worker threads run) or to plain arrays. */
export function allocateShared(on: boolean): void {
  useHeap = on;
}

/**
 * `size` elements of `dtype`, recycled when possible. Logically zero: a recycled block is
 * zeroed by {@linkcode readable} before anything reads it (see the module notes).
 */
export function alloc(dtype: DType, size: number): Allocated {
  if (useHeap && size > 0) {
    const a = heapAllocOrNull(dtype, size);
    if (a) return a;
  }
  const list = pool.get(`${CTORS[dtype].name}:${size}`);
  if (list && list.length > 0) {
    const a = list.pop()!;
    pooled.delete(a);
    pooledBytes -= a.byteLength;
    unzeroed.add(a);
    return a;
  }
  return new CTORS[dtype](size);
}

/** Recycled blocks not yet zeroed nor overwritten. */
const unzeroed = new WeakSet<object>();

/** Makes `a` safe to read: zeroes it if it is a recycled block that nothing has written yet. */
export function readable(a: unknown): void {
  if (a === null || typeof a !== "object" || !unzeroed.delete(a)) return;
  const t = a as Allocated;
  // 8 bytes at a time where aligned: Float32Array.fill on shared memory goes element by element (2× slower).
  if (t.byteOffset % 8 === 0 && t.byteLength % 8 === 0) {
    new Float64Array(t.buffer, t.byteOffset, t.byteLength / 8).fill(0);
  } else if (t instanceof BigInt64Array) t.fill(0n);
  else t.fill(0);
}

/** Records that the first `count` elements of `a` were (or are about to be) written in full. */
export function overwritten(a: unknown, count: number): void {
  if (a === null || typeof a !== "object") return;
  if (count >= (a as Allocated).length) unzeroed.delete(a);
  else readable(a);
}

/** Takes `a` back. Freeing twice is ignored (the block must not be handed out twice). */
export function free(a: unknown): void {
  if (
    !(a instanceof Float32Array || a instanceof Float64Array || a instanceof Int32Array || a instanceof BigInt64Array)
  ) return;
  if (inSharedHeap(a)) {
    const off = a.byteOffset;
    if (a.length === 0 || heapFreeSet.has(off)) return;
    heapFreeSet.add(off);
    const bytes = sizeClass(a.byteLength);
    let list = heapFree.get(bytes);
    if (!list) heapFree.set(bytes, list = []);
    list.push(off);
    return;
  }
  if (a.buffer instanceof SharedArrayBuffer || pooled.has(a) || pooledBytes + a.byteLength > POOL_BYTES) return;
  if (a.byteOffset !== 0 || a.byteLength !== a.buffer.byteLength) return; // a view of someone else's buffer
  pooled.add(a);
  pooledBytes += a.byteLength;
  const key = poolKey(a);
  let list = pool.get(key);
  if (!list) pool.set(key, list = []);
  list.push(a);
}

/** Bytes the allocator holds: live plus cached, in the heap and on the free lists. */
export function allocatorStats(): { heapBytes: number; heapUsed: number; pooledBytes: number } {
  return { heapBytes: heap?.byteLength ?? 0, heapUsed: top, pooledBytes };
}
