/**
 * Image geometry helpers shared by the datasets and the DataLoader (kept out of the public `data` namespace).
 *
 * @module
 */
/** What these helpers read of an `ImageDataset`. */
type ImageShape = { name: string; channels?: number; rows: number; cols: number };

/** The bytes one image of `dataset` takes, `channels * rows * cols`. */
export function imageSize(dataset: ImageShape): number {
  return channelsOf(dataset) * dataset.rows * dataset.cols;
}

/** `dataset.channels`, 1 when absent; throws unless it is a positive integer. */
export function channelsOf(dataset: ImageShape): number {
  const c = dataset.channels ?? 1;
  if (!Number.isInteger(c) || c < 1) {
    throw new Error(`${dataset.name}: channels must be a positive integer, got ${String(dataset.channels)}`);
  }
  return c;
}
