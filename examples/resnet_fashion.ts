/**
 * A small residual network on Fashion-MNIST: a 3×3 stem (1 → 16 channels) with BatchNorm and ReLU,
 * three stages of two basic blocks (16, 32, 64 channels; the first block of stages 2 and 3 halves
 * the size with stride 2 and takes a 1×1 conv + BatchNorm shortcut), global average pooling and a
 * linear classifier: 175k parameters. Trained with AdamW (weight decay 0.01) and the 1cycle
 * schedule (OneCycleLR, stepped after every batch, `--lr` its peak), with the MNIST scripts' flags.
 *
 *   deno run -A examples/resnet_fashion.ts --epochs 1            (--help for every flag)
 *
 * Fashion-MNIST comes from Debian's `dataset-fashion-mnist` (/usr/share/datasets/fashion-mnist)
 * or `--data DIR`. The layer names are torchvision's ResNet's (`layer2.0.downsample.0.weight`),
 * so the saved weights (`--save-model`) load into the same network written in PyTorch.
 *
 * @module
 */
import { F, nn, optim, type Tensor } from "../mod.ts";
import { runMnistCli } from "./mnist/cli.ts";
import type { OptimizerPlan, OptimizerSetup } from "./mnist/train.ts";

/** A 3×3 convolution without bias (BatchNorm follows), padding 1. */
function conv3x3(inChannels: number, outChannels: number, stride: number): nn.Conv2d {
  return new nn.Conv2d(inChannels, outChannels, { kernelSize: 3, stride, padding: 1, bias: false });
}

/**
 * torchvision's `BasicBlock`: relu(bn2(conv2(relu(bn1(conv1(x))))) + shortcut(x)), where the
 * shortcut is the identity, or a 1×1 conv + BatchNorm when the stride or the channels change.
 *
 * @example
 * ```ts
 * import { Tensor } from "../mod.ts";
 * import { BasicBlock } from "./resnet_fashion.ts";
 * const block = new BasicBlock(16, 32, 2);
 * block.forward(Tensor.randn([2, 16, 28, 28])).shape; // [2, 32, 14, 14]
 * ```
 */
export class BasicBlock extends nn.Module {
  /** 3×3, carries the stride. */
  conv1: nn.Conv2d;
  /** After conv1. */
  bn1: nn.BatchNorm2d;
  /** 3×3, stride 1. */
  conv2: nn.Conv2d;
  /** After conv2. */
  bn2: nn.BatchNorm2d;
  /** The projection shortcut (`0`: 1×1 conv, `1`: BatchNorm), or null for the identity. */
  downsample: nn.Sequential | null;

  /** A block from `inChannels` to `outChannels`; `stride` 2 halves the height and width. */
  constructor(inChannels: number, outChannels: number, stride = 1) {
    super();
    this.conv1 = conv3x3(inChannels, outChannels, stride);
    this.bn1 = new nn.BatchNorm2d(outChannels);
    this.conv2 = conv3x3(outChannels, outChannels, 1);
    this.bn2 = new nn.BatchNorm2d(outChannels);
    this.downsample = stride !== 1 || inChannels !== outChannels
      ? new nn.Sequential(
        new nn.Conv2d(inChannels, outChannels, { kernelSize: 1, stride, bias: false }),
        new nn.BatchNorm2d(outChannels),
      )
      : null;
  }

  /** [N, in, H, W] → [N, out, H / stride, W / stride]. */
  forward(x: Tensor): Tensor {
    const out = this.bn2.forward(this.conv2.forward(F.relu(this.bn1.forward(this.conv1.forward(x)))));
    return F.relu(out.add(this.downsample ? this.downsample.forward(x) : x));
  }
}

/**
 * The network: stem, `layer1` (16 channels, 28×28), `layer2` (32, 14×14), `layer3` (64, 7×7),
 * global average pooling, `fc` to 10 logits. Same structure and names as torchvision's ResNet
 * with `BasicBlock`, [2, 2, 2] blocks, one input channel and no max pooling in the stem.
 *
 * @example
 * ```ts
 * import { manualSeed, Tensor } from "../mod.ts";
 * import { FashionResNet } from "./resnet_fashion.ts";
 * manualSeed(1);
 * const net = new FashionResNet();
 * net.forward(Tensor.randn([4, 1, 28, 28])).shape; // [4, 10]
 * net.numParameters(); // 174970
 * ```
 */
export class FashionResNet extends nn.Module {
  /** The stem's 3×3 convolution, 1 → 16 channels. */
  conv1: nn.Conv2d = conv3x3(1, 16, 1);
  /** The stem's BatchNorm. */
  bn1: nn.BatchNorm2d = new nn.BatchNorm2d(16);
  /** Two blocks at 16 channels. */
  layer1: nn.Sequential = new nn.Sequential(new BasicBlock(16, 16), new BasicBlock(16, 16));
  /** Two blocks at 32 channels, the first with stride 2. */
  layer2: nn.Sequential = new nn.Sequential(new BasicBlock(16, 32, 2), new BasicBlock(32, 32));
  /** Two blocks at 64 channels, the first with stride 2. */
  layer3: nn.Sequential = new nn.Sequential(new BasicBlock(32, 64, 2), new BasicBlock(64, 64));
  /** Global average pooling. */
  avgpool: nn.AdaptiveAvgPool2d = new nn.AdaptiveAvgPool2d(1);
  /** The classifier, 64 → 10. */
  fc: nn.Linear = new nn.Linear(64, 10);

  /** Logits [N, 10] of images [N, 1, H, W]. */
  forward(x: Tensor): Tensor {
    x = F.relu(this.bn1.forward(this.conv1.forward(x)));
    x = this.layer3.forward(this.layer2.forward(this.layer1.forward(x)));
    return this.fc.forward(this.avgpool.forward(x).flatten(1));
  }
}

/**
 * AdamW (weight decay 0.01) with OneCycleLR peaking at `plan.lr`, stepped after every batch.
 *
 * @example
 * ```ts
 * import { FashionResNet, oneCycleAdamW } from "./resnet_fashion.ts";
 * const { optimizer, scheduler } = oneCycleAdamW(new FashionResNet().parameters(), {
 *   lr: 0.01, gamma: 0.7, epochs: 2, stepsPerEpoch: 100,
 * });
 * // per batch: optimizer.step(); scheduler.step();
 * ```
 */
export function oneCycleAdamW(params: Tensor[], plan: OptimizerPlan): OptimizerSetup {
  const optimizer = new optim.AdamW(params, { lr: plan.lr, weightDecay: 0.01 });
  const totalSteps = Math.max(1, plan.epochs * plan.stepsPerEpoch);
  const scheduler = new optim.OneCycleLR(optimizer, { maxLr: plan.lr, totalSteps });
  return { optimizer, scheduler, schedulerStep: "batch" };
}

if (import.meta.main) {
  Deno.exit(
    await runMnistCli(Deno.args, {
      name: "resnet_fashion",
      title: "Trains a small ResNet (16/32/64 channels, 2 blocks per stage) on Fashion-MNIST with AdamW and " +
        "OneCycleLR stepped per batch; --lr is the cycle's peak, --gamma is not used.",
      usage: "deno run -A examples/resnet_fashion.ts [flags]",
      defaults: { dataset: "fashion-mnist", batchSize: 128, epochs: 5, lr: 0.01, logInterval: 20 },
      model: () => new FashionResNet(),
      optimizer: oneCycleAdamW,
    }),
  );
}
