/**
 * Training helpers for any model, loss and loader: the train and evaluate loops with PyTorch's
 * log lines, a progress bar (rate, ETA, running loss), metrics as JSON lines (`MetricsLog`),
 * learning curves as SVG (`plotCurves`), and the log lines' formats. Whole recipes built on them
 * are in `examples/`.
 *
 * @example
 * ```ts
 * import { manualSeed, nn, optim, Tensor, train } from "@convnet/convnet";
 * const { evaluate, trainEpoch } = train;
 * manualSeed(1);
 * const model = new nn.Linear(3, 1);
 * const opt = new optim.SGD(model.parameters(), { lr: 0.1 });
 * const loader: train.BatchLoader = {
 *   length: 50,
 *   dataset: { length: 400 },
 *   *[Symbol.iterator]() {
 *     for (let i = 0; i < 50; i++) {
 *       const x = Tensor.randn([8, 3]);
 *       yield [x, x.sum(1, { keepDim: true })];
 *     }
 *   },
 * };
 * const mse = (out: Tensor, y: Tensor) => out.sub(y).pow(2).mean();
 * trainEpoch(model, opt, loader, { loss: mse, logInterval: 10 });
 * const { loss } = evaluate(model, loader, { loss: mse, accuracy: false });
 * ```
 *
 * @module
 */
export * from "./loop.ts";
export * from "./progress.ts";
export * from "./metrics.ts";
export * from "./plot.ts";
export * from "./compile_step.ts";
