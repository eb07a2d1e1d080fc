/**
 * Data: the `Dataset` protocol, `TensorDataset`, `Subset` and `randomSplit`; IDX files, MNIST /
 * Fashion-MNIST and CIFAR-10; pixel and image transforms; the `DataLoader`.
 *
 * @example
 * ```ts
 * import { DataLoader, loadMnist } from "./mod.ts";
 * const test = new DataLoader(await loadMnist({ train: false }), {
 *   batchSize: 1000,
 *   transform: { mean: 0.1307, std: 0.3081 },
 * });
 * ```
 *
 * @module
 */
export * from "./idx.ts";
export * from "./dataset.ts";
export * from "./tensor_dataset.ts";
export * from "./subset.ts";
export * from "./cifar.ts";
export * from "./mnist.ts";
export * from "./transforms.ts";
export * from "./image_transforms.ts";
export * from "./loader.ts";
