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
export {
  load,
  loadBytes,
  parseSafetensors,
  type Safetensors,
  save,
  saveBytes,
  type SaveOptions,
} from "./safetensors.ts";
export {
  type CheckpointInfo,
  type CheckpointLoader,
  type CheckpointScheduler,
  loadCheckpoint,
  type LoadCheckpointOptions,
  saveCheckpoint,
  type SaveCheckpointOptions,
} from "./checkpoint.ts";
export { checkWritable, type CheckWritableOptions, writeFileAtomic } from "./atomic.ts";
