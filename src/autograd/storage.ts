/**
 * Storage lifetime: reference-counted backend buffers shared by a tensor and its views, the
 * counters behind `memory()`, and the FinalizationRegistry that frees storage of tensors the
 * program dropped without `dispose()` (a safety net: `backward()`, `tidy` and `dispose` free
 * memory deterministically).
 *
 * @module
 */
import type { Backend, DeviceMemoryInfo } from "../backend/backend.ts";
import { openedCudaDevice } from "../backend/device.ts";

/** Live tensors and the bytes their storage holds, over every device. */
export const stats = { bytes: 0, tensors: 0 };

/** Reference-counted backend storage, shared by a tensor and its views. */
export class Storage {
  /** Tensors holding this storage. */
  refs = 1;
  constructor(
    /** The backend that allocated `handle`. */
    readonly backend: Backend,
    /** The backend's handle (null once freed). */
    public handle: unknown,
    /** Bytes held, for `memory()`. */
    readonly bytes: number,
  ) {
    stats.bytes += bytes;
  }
  /** One more holder. */
  retain(): this {
    this.refs++;
    return this;
  }
  /** One holder less; the last one frees the backend buffer. */
  release(): void {
    if (--this.refs === 0) {
      this.backend.free(this.handle);
      this.handle = null;
      stats.bytes -= this.bytes;
    }
  }
}

/** Releases the storage of a tensor the garbage collector took. */
export const finalizer: FinalizationRegistry<Storage> = new FinalizationRegistry<Storage>((s) => {
  stats.tensors--;
  s.release();
});

/** Memory held by tensors, as reported by {@linkcode memory}. */
export interface MemoryInfo {
  /** Tensors created and neither disposed nor garbage-collected. */
  tensors: number;
  /** Bytes of storage those tensors hold (on every device). */
  bytes: number;
  /** The CUDA allocator, once `device()` has opened CUDA: bytes in use and cached, peak, blocks. */
  cuda?: DeviceMemoryInfo;
}

/**
 * Live tensors and the bytes they hold; with CUDA in use, also what its allocator holds.
 *
 * @example
 * ```ts
 * import { memory, tensor } from "@convnet/convnet";
 * const before = memory().tensors;
 * const t = tensor([1, 2, 3]);
 * t.dispose();
 * console.log(memory().tensors === before); // true
 * ```
 */
export function memory(): MemoryInfo {
  const cuda = openedCudaDevice()?.memory?.();
  return cuda ? { tensors: stats.tensors, bytes: stats.bytes, cuda } : { tensors: stats.tensors, bytes: stats.bytes };
}
