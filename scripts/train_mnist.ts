/**
 * The seed's PyTorch MNIST script in TypeScript: Conv2d → ReLU → MaxPool2d → Linear, trained
 * with Adadelta and StepLR, printing PyTorch's log lines.
 *
 *   deno task train [-- --epochs 1 --device cpu ...]     (run with --help for every flag)
 *
 * Exit codes: 0 done, 1 the run failed (e.g. `--device cuda` without CUDA), 2 a bad flag.
 * The training lives in examples/mnist (`trainMnist`, and `runMnistCli` for the flags).
 *
 * @module
 */
import { runMnistCli } from "../examples/mnist/cli.ts";

if (import.meta.main) {
  Deno.exit(
    await runMnistCli(Deno.args, {
      name: "train_mnist",
      title: "Trains the seed's CNN on MNIST (Adadelta + StepLR), printing PyTorch's log lines.",
      usage: "deno run -A scripts/train_mnist.ts [flags]     (or: deno task train -- [flags])",
    }),
  );
}
