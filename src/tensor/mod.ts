/**
 * Everything tensor-level in one import for the layers above (nn, optim, data, io, train):
 * the `Tensor` class and its ops as functions, creation, grad mode, tidy and memory.
 *
 * @module
 */
export * from "./tensor.ts";
export * from "./creation.ts";
export { PhiloxGenerator, philoxGenerator, type PhiloxOptions } from "./philox.ts";
export { type GradNode, TensorBase } from "../autograd/tensor_base.ts";
export { isGradEnabled, noGrad } from "../autograd/mode.ts";
export { keep, tidy } from "../autograd/tidy.ts";
export { defineOp, type OpDefinition } from "./custom_op.ts";
export { memory, type MemoryInfo } from "../autograd/storage.ts";
