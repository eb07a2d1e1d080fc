/**
 * PyTorch's own examples/mnist network, ported line by line: two convolutions, max pooling,
 * dropout, two linear layers and log-softmax, trained with the negative log-likelihood,
 * Adadelta (lr 1.0) and StepLR (γ 0.7) at batch size 64, with the seed script's flags.
 *
 *   deno run -A examples/mnist_pytorch.ts --epochs 1        (--help for every flag)
 *
 * scripts/mnist_pytorch_torch.py is the same recipe in PyTorch, for the numbers beside it.
 *
 * @module
 */
import { F, nn, type Tensor } from "../mod.ts";
import { runMnistCli } from "./mnist/cli.ts";

/** pytorch/examples mnist/main.py's `Net`, with the same layer names (its state dict loads there). */
export class PyTorchMnistNet extends nn.Module {
  conv1 = new nn.Conv2d(1, 32, { kernelSize: 3, stride: 1 });
  conv2 = new nn.Conv2d(32, 64, { kernelSize: 3, stride: 1 });
  dropout1 = new nn.Dropout({ p: 0.25 });
  dropout2 = new nn.Dropout({ p: 0.5 });
  fc1 = new nn.Linear(9216, 128);
  fc2 = new nn.Linear(128, 10);

  /** Log-probabilities [N, 10] of images [N, 1, 28, 28]. */
  forward(x: Tensor): Tensor {
    x = F.relu(this.conv2.forward(F.relu(this.conv1.forward(x))));
    x = this.dropout1.forward(F.maxPool2d(x, { kernelSize: 2 }));
    x = this.dropout2.forward(F.relu(this.fc1.forward(x.flatten(1))));
    return F.logSoftmax(this.fc2.forward(x), 1);
  }
}

if (import.meta.main) {
  Deno.exit(
    await runMnistCli(Deno.args, {
      name: "mnist_pytorch",
      title: "Trains PyTorch's examples/mnist network on MNIST (NLL loss, Adadelta + StepLR, batch 64).",
      usage: "deno run -A examples/mnist_pytorch.ts [flags]",
      defaults: { batchSize: 64, epochs: 14, logInterval: 10 },
      model: () => new PyTorchMnistNet(),
      loss: (out, target) => F.nllLoss(out, target),
    }),
  );
}
