/**
 * The seed's MNIST network, layer for layer and name for name.
 *
 * @module
 */
import { nn, type Tensor } from "../../mod.ts";

/**
 * The network of the seed's PyTorch script: Conv2d(1→16, 3×3, padding 1) → ReLU →
 * MaxPool2d(2) → flatten → Linear(16·14·14 → 10). Field names are PyTorch's, so the state
 * dict keys are `conv1.weight`, `conv1.bias`, `fc.weight`, `fc.bias` and a checkpoint moves
 * between the two unchanged. Input `[N, 1, 28, 28]`, output logits `[N, 10]`.
 *
 * @example
 * ```ts
 * import { manualSeed, Tensor } from "../../mod.ts";
 * import { Net } from "./net.ts";
 * manualSeed(1);
 * const net = new Net();
 * const logits = net.forward(Tensor.randn([2, 1, 28, 28])); // shape [2, 10]
 * Object.keys(net.stateDict()); // ["conv1.weight", "conv1.bias", "fc.weight", "fc.bias"]
 * ```
 */
export class Net extends nn.Module {
  /** 16 filters of 3×3, stride 1, padding 1: `[N, 1, 28, 28]` → `[N, 16, 28, 28]`. */
  conv1: nn.Conv2d = new nn.Conv2d(1, 16, { kernelSize: 3, stride: 1, padding: 1 });
  /** ReLU activation. */
  relu: nn.ReLU = new nn.ReLU();
  /** 2×2 max pooling, stride 2: `[N, 16, 28, 28]` → `[N, 16, 14, 14]`. */
  maxpool: nn.MaxPool2d = new nn.MaxPool2d({ kernelSize: 2, stride: 2 });
  /** The classifier: 3136 features → 10 logits. */
  fc: nn.Linear = new nn.Linear(16 * 14 * 14, 10);
  // conv1 → relu → maxpool as a Sequential, which runs them as one fused pass on the CPU (the same
  // numbers). A private field is not a child module, so the state dict keys stay PyTorch's.
  #features = new nn.Sequential(this.conv1, this.relu, this.maxpool);

  /** Logits `[N, 10]` for images `[N, 1, 28, 28]`. */
  forward(x: Tensor): Tensor {
    x = this.#features.forward(x); // conv1, relu, maxpool
    x = x.view([x.shape[0], -1]); // flatten
    return this.fc.forward(x);
  }
}
