/**
 * Image transforms for the `DataLoader`, after torchvision's: per-channel `Normalize`,
 * `RandomCrop`, `RandomHorizontalFlip` and `Compose`.
 *
 * A transform maps one float32 `[C, H, W]` image to another. The loader first turns bytes into
 * `byte / 255` (torchvision's `ToTensor()`), then runs the transform. Random transforms draw from
 * the generator the loader passes: one MT19937 stream per epoch, made from the loader's seed and
 * the epoch, drawn sample by sample in the epoch's visiting order. So an epoch's augmentations are
 * reproducible from the seed and the epoch, though not equal to torchvision's (which draws from
 * torch's global generator).
 *
 * @module
 */
import type { Generator } from "../tensor/random.ts";
import { checkOptionKeys } from "../ops/_util.ts";

/** One image in a transform: `data` holds `channels * height * width` floats, CHW. */
export interface ImageSample {
  /** The pixels, channel by channel, each channel row-major. */
  readonly data: Float32Array;
  /** Colour channels. */
  readonly channels: number;
  /** Height in pixels. */
  readonly height: number;
  /** Width in pixels. */
  readonly width: number;
}

/**
 * A transform of one image, as the `DataLoader`'s `transform` option takes it.
 *
 * @example
 * ```ts
 * import { data } from "@convnet/convnet";
 * // Inverts an image in [0, 1]; deterministic, so the loader applies it once to the whole dataset.
 * const invert: data.ImageTransform = {
 *   random: false,
 *   apply: (image) => ({ ...image, data: image.data.map((v) => 1 - v) }),
 * };
 * ```
 */
export interface ImageTransform {
  /**
   * Whether the result depends on the generator. The loader applies a deterministic transform once
   * to the whole dataset, and a random one to every sample of every epoch anew.
   */
  readonly random: boolean;
  /** The transformed image (a new one: `image` is left as it is); random draws come from `generator`. */
  apply(image: ImageSample, generator: Generator): ImageSample;
}

function checkImage(who: string, image: ImageSample): void {
  const { data, channels, height, width } = image;
  if (!(data instanceof Float32Array) || data.length !== channels * height * width) {
    throw new Error(
      `${who}: image data must be a Float32Array of channels×height×width = ` +
        `${channels}×${height}×${width} floats, got ${data instanceof Float32Array ? data.length : String(data)}`,
    );
  }
}

/**
 * torchvision's `Normalize(mean, std)`: channel `c` becomes `(x - mean[c]) / std[c]`, in float32
 * as PyTorch rounds it. A single mean and std apply to every channel.
 *
 * @example
 * ```ts
 * import { data } from "@convnet/convnet";
 * const cifarNormalize = new data.Normalize([0.4914, 0.4822, 0.4465], [0.2470, 0.2435, 0.2616]);
 * ```
 */
export class Normalize implements ImageTransform {
  /** The mean subtracted from each channel (one value: every channel). */
  readonly mean: readonly number[];
  /** The standard deviation each channel is divided by (one value: every channel). */
  readonly std: readonly number[];
  /** Always `false`. */
  readonly random = false;

  /** Checks `mean` and `std`: arrays of equal length, finite, `std` non-zero in float32. */
  constructor(mean: readonly number[], std: readonly number[]) {
    for (const [name, values] of [["mean", mean], ["std", std]] as const) {
      if (!Array.isArray(values) || values.length === 0) {
        throw new Error(`Normalize: ${name} must be a non-empty array of numbers, got ${JSON.stringify(values)}`);
      }
      for (const [i, v] of values.entries()) {
        if (typeof v !== "number" || !Number.isFinite(v) || (name === "std" && Math.fround(v) === 0)) {
          throw new Error(
            `Normalize: ${name}[${i}] must be a finite${name === "std" ? " non-zero" : ""} number, got ${String(v)}`,
          );
        }
      }
    }
    if (mean.length !== std.length) {
      throw new Error(
        `Normalize: mean has ${mean.length} values but std has ${std.length}; expected one per channel in both`,
      );
    }
    this.mean = [...mean];
    this.std = [...std];
  }

  /** `(x - mean[c]) / std[c]` for every pixel of channel `c`. */
  apply(image: ImageSample): ImageSample {
    checkImage("Normalize", image);
    const { data, channels, height, width } = image;
    const n = this.mean.length;
    if (n !== 1 && n !== channels) {
      throw new Error(
        `Normalize: mean and std have ${n} values but the image has ${channels} channels; ` +
          `expected ${channels === 1 ? "1 value" : `1 or ${channels} values`}`,
      );
    }
    const plane = height * width;
    const out = new Float32Array(data.length);
    for (let c = 0; c < channels; c++) {
      const m = Math.fround(this.mean[n === 1 ? 0 : c]);
      const s = Math.fround(this.std[n === 1 ? 0 : c]);
      for (let i = c * plane; i < (c + 1) * plane; i++) out[i] = Math.fround(data[i] - m) / s;
    }
    return { data: out, channels, height, width };
  }
}

/** Padding as torchvision takes it: all sides, `[leftRight, topBottom]`, or `[left, top, right, bottom]`. */
export type Padding = number | readonly [number, number] | readonly [number, number, number, number];

/** Options for {@linkcode RandomCrop}. */
export interface RandomCropOptions {
  /** Pixels added around the image before cropping; default 0. */
  padding?: Padding;
  /** The value padded pixels get, in the image's current scale (0 is a black byte); default 0. */
  fill?: number;
}

/**
 * torchvision's `RandomCrop(size, padding=...)`: pads the image (with `fill`), then cuts a
 * `size` window at a random place: top row first, then left column, each uniform over the
 * places that fit (no draw when the window is the whole padded image).
 *
 * @example
 * ```ts
 * import { data } from "@convnet/convnet";
 * const crop = new data.RandomCrop(32, { padding: 4 }); // CIFAR-10's usual augmentation
 * ```
 */
export class RandomCrop implements ImageTransform {
  /** The window's `[height, width]`. */
  readonly size: readonly [number, number];
  /** Padding `[left, top, right, bottom]`. */
  readonly padding: readonly [number, number, number, number];
  /** The value of padded pixels. */
  readonly fill: number;
  /** Always `true`. */
  readonly random = true;

  /** `size` is one integer (a square) or `[height, width]`. */
  constructor(size: number | readonly [number, number], opts: RandomCropOptions = {}) {
    if (opts === null || typeof opts !== "object") {
      throw new Error(`RandomCrop: options must be an object, got ${String(opts)}`);
    }
    checkOptionKeys("RandomCrop", opts, ["padding", "fill"]);
    const hw = typeof size === "number" ? [size, size] : size;
    if (!Array.isArray(hw) || hw.length !== 2 || !hw.every((v) => Number.isInteger(v) && v >= 1)) {
      throw new Error(
        `RandomCrop: size must be a positive integer or a pair [height, width] of them, got ${JSON.stringify(size)}`,
      );
    }
    this.size = [hw[0], hw[1]];
    const p = opts.padding ?? 0;
    const sides = typeof p === "number"
      ? [p, p, p, p]
      : Array.isArray(p) && p.length === 2
      ? [p[0], p[1], p[0], p[1]]
      : Array.isArray(p) && p.length === 4
      ? [...p]
      : null;
    if (sides === null || !sides.every((v) => Number.isInteger(v) && v >= 0)) {
      throw new Error(
        `RandomCrop: options.padding must be a non-negative integer, [leftRight, topBottom] or ` +
          `[left, top, right, bottom] of them, got ${JSON.stringify(p)}`,
      );
    }
    this.padding = [sides[0], sides[1], sides[2], sides[3]];
    const fill = opts.fill ?? 0;
    if (typeof fill !== "number" || !Number.isFinite(fill)) {
      throw new Error(`RandomCrop: options.fill must be a finite number, got ${String(fill)}`);
    }
    this.fill = fill;
  }

  /** Pads, then crops a `size` window at a place drawn from `generator`. */
  apply(image: ImageSample, generator: Generator): ImageSample {
    checkImage("RandomCrop", image);
    const { data, channels, height, width } = image;
    const [left, top, right, bottom] = this.padding;
    const [th, tw] = this.size;
    const ph = height + top + bottom, pw = width + left + right;
    if (th > ph || tw > pw) {
      throw new Error(
        `RandomCrop: size [${th}, ${tw}] is larger than the padded image [${ph}, ${pw}] ` +
          `(image [${height}, ${width}], padding [${this.padding.join(", ")}]); expected size ≤ the padded image`,
      );
    }
    // torchvision's get_params: no draw when the window is the whole image, else top, then left.
    const i = th === ph && tw === pw ? 0 : generator.int(ph - th + 1);
    const j = th === ph && tw === pw ? 0 : generator.int(pw - tw + 1);
    const out = new Float32Array(channels * th * tw);
    for (let c = 0; c < channels; c++) {
      for (let y = 0; y < th; y++) {
        const sy = i + y - top; // the source row, in the unpadded image
        const row = (c * th + y) * tw;
        for (let x = 0; x < tw; x++) {
          const sx = j + x - left;
          out[row + x] = sy >= 0 && sy < height && sx >= 0 && sx < width
            ? data[(c * height + sy) * width + sx]
            : this.fill;
        }
      }
    }
    return { data: out, channels, height: th, width: tw };
  }
}

/** Options for {@linkcode RandomHorizontalFlip}. */
export interface RandomHorizontalFlipOptions {
  /** The probability of a flip, in [0, 1]; default 0.5. */
  p?: number;
}

/**
 * torchvision's `RandomHorizontalFlip(p)`: mirrors the image left to right when a uniform draw
 * in [0, 1) is below `p` (one draw per image, flipped or not).
 *
 * @example
 * ```ts
 * import { data } from "@convnet/convnet";
 * const flip = new data.RandomHorizontalFlip(); // p = 0.5
 * ```
 */
export class RandomHorizontalFlip implements ImageTransform {
  /** The probability of a flip. */
  readonly p: number;
  /** Always `true`. */
  readonly random = true;

  /** Checks `p`. */
  constructor(opts: RandomHorizontalFlipOptions = {}) {
    if (opts === null || typeof opts !== "object") {
      throw new Error(`RandomHorizontalFlip: options must be an object, got ${String(opts)}`);
    }
    checkOptionKeys("RandomHorizontalFlip", opts, ["p"]);
    const p = opts.p ?? 0.5;
    if (typeof p !== "number" || !(p >= 0 && p <= 1)) {
      throw new Error(`RandomHorizontalFlip: options.p must be a probability in [0, 1], got ${String(p)}`);
    }
    this.p = p;
  }

  /** The mirrored image, or a copy of it, as one draw from `generator` decides. */
  apply(image: ImageSample, generator: Generator): ImageSample {
    checkImage("RandomHorizontalFlip", image);
    const { data, channels, height, width } = image;
    if (!(generator.random() < this.p)) return { data: data.slice(), channels, height, width };
    const out = new Float32Array(data.length);
    for (let r = 0; r < channels * height; r++) {
      const row = r * width;
      for (let x = 0; x < width; x++) out[row + x] = data[row + width - 1 - x];
    }
    return { data: out, channels, height, width };
  }
}

/**
 * torchvision's `Compose([...])`: the transforms one after the other. Random when any of them is.
 *
 * @example
 * ```ts
 * import { data } from "@convnet/convnet";
 * const train = new data.DataLoader(await data.loadCifar10({ dir: "./cifar", train: true }), {
 *   batchSize: 128,
 *   shuffle: true,
 *   transform: new data.Compose([
 *     new data.RandomCrop(32, { padding: 4 }),
 *     new data.RandomHorizontalFlip(),
 *     new data.Normalize([0.4914, 0.4822, 0.4465], [0.2470, 0.2435, 0.2616]),
 *   ]),
 * });
 * ```
 */
export class Compose implements ImageTransform {
  /** The transforms, in the order they run. */
  readonly transforms: readonly ImageTransform[];
  /** Whether any of the transforms is random. */
  readonly random: boolean;

  /** Checks that every element is an {@linkcode ImageTransform}. */
  constructor(transforms: readonly ImageTransform[]) {
    if (!Array.isArray(transforms)) {
      throw new Error(`Compose: transforms must be an array of transforms, got ${String(transforms)}`);
    }
    for (const [i, t] of transforms.entries()) {
      if (!isImageTransform(t)) {
        throw new Error(
          `Compose: transforms[${i}] is not an image transform (an object with apply() and random), ` +
            `got ${String(t)}`,
        );
      }
    }
    this.transforms = [...transforms];
    this.random = this.transforms.some((t) => t.random);
  }

  /** Each transform in turn. */
  apply(image: ImageSample, generator: Generator): ImageSample {
    let out = image;
    for (const t of this.transforms) out = t.apply(out, generator);
    return out;
  }
}

/**
 * Whether `value` is an {@linkcode ImageTransform} (an object with `apply` and a boolean `random`).
 *
 * @example
 * ```ts
 * import { data } from "@convnet/convnet";
 * data.isImageTransform(new data.RandomHorizontalFlip()); // true
 * data.isImageTransform(data.toTensor()); // false: a byte lookup table
 * ```
 */
export function isImageTransform(value: unknown): value is ImageTransform {
  return value !== null && typeof value === "object" &&
    typeof (value as ImageTransform).apply === "function" && typeof (value as ImageTransform).random === "boolean";
}
