/**
 * convnet: build and train convolutional networks in TypeScript, with PyTorch's names and numbers.
 *
 * ```ts
 * import { F, manualSeed, nn, optim, Tensor, tensor } from "@convnet/convnet";
 *
 * manualSeed(1);
 * class Net extends nn.Module {
 *   conv1 = new nn.Conv2d(1, 16, { kernelSize: 3, stride: 1, padding: 1 });
 *   relu = new nn.ReLU();
 *   pool = new nn.MaxPool2d({ kernelSize: 2, stride: 2 });
 *   fc = new nn.Linear(16 * 14 * 14, 10);
 *   forward(x: Tensor): Tensor {
 *     x = this.pool.forward(this.relu.forward(this.conv1.forward(x)));
 *     return this.fc.forward(x.view([x.shape[0], -1]));
 *   }
 * }
 * const model = new Net();
 * const opt = new optim.Adadelta(model.parameters(), { lr: 1.0 });
 * const x = Tensor.randn([10, 1, 28, 28]);
 * const y = tensor([0, 1, 2, 3, 4, 5, 6, 7, 8, 9], [10], { dtype: "int32" });
 * opt.zeroGrad();
 * const loss = F.crossEntropy(model.forward(x), y);
 * loss.backward();
 * opt.step();
 * ```
 *
 * @module
 */
export * from "./src/tensor/mod.ts";
export {
  cpu,
  type CudaProvider,
  type Device,
  device,
  type DeviceMemoryInfo,
  type DeviceOptions,
  type DeviceRequest,
  type DeviceType,
  registerCudaProvider,
} from "./src/backend/device.ts";
export { Generator, type GeneratorState, globalGenerator, manualSeed } from "./src/tensor/random.ts";
export { getNumThreads, setNumThreads } from "./src/backend/ts/mod.ts";
export * as F from "./src/tensor/functional.ts";
export * as nn from "./src/nn/mod.ts";
export * as optim from "./src/optim/mod.ts";
export * as data from "./src/data/mod.ts";
export * as io from "./src/io/mod.ts";
export * as train from "./src/train/mod.ts";
export type {
  AdadeltaParams,
  AdadeltaTensors,
  AdamParams,
  AdamTensors,
  AxisGeometry,
  Backend,
  BinaryOp,
  Broadcast,
  Conv2dGeometry,
  FusedKernels,
  FusedPasses,
  GemmOptions,
  HostArray,
  Pool2dGeometry,
  PoolKind,
  Primitives,
  RandomFill,
  ReduceOp,
  ScalarOp,
  SgdParams,
  SgdTensors,
  StridedCopy,
  UnaryOp,
  WhereLayout,
} from "./src/backend/backend.ts";
