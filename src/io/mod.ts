/**
 * Saving and loading: state dicts in the safetensors format, checkpoints that resume a run
 * bit-identically, and atomic, durable file writes.
 *
 * @example
 * ```ts
 * import { io, tensor } from "@convnet/convnet";
 * await io.save({ w: tensor([1, 2], [2]) }, "model.safetensors");
 * const dict = await io.load("model.safetensors");
 * ```
 *
 * @module
 */
export * from "./safetensors.ts";
export * from "./checkpoint.ts";
export * from "./atomic.ts";
