/**
 * Peak memory of the README's training loop, as written (no `tidy`) and wrapped in `tidy`, each in
 * a fresh process over full epochs of MNIST, then the README's evaluation loop:
 *
 *   deno run -A scripts/bench_memory.ts [--epochs 1] [--limit N] [--json PATH]
 *
 * Prints one row per variant: peak resident memory (VmHWM from /proc/self/status), live tensors
 * and their bytes at the end, accuracy and seconds; the JSON holds the same with the machine.
 * A child runs with `--child tidy|plain`.
 *
 * @module
 */
import { parseArgs } from "node:util";
import { data, memory, nn, noGrad, optim, tidy } from "../mod.ts";
import { Net } from "../examples/mnist/net.ts";

interface Row {
  variant: string;
  peakRssMB: number;
  tensors: number;
  tensorMB: number;
  accuracy: number;
  seconds: number;
}

const HELP = "usage: deno run -A scripts/bench_memory.ts [--epochs N] [--limit N] [--json PATH]";

/** The README's loop (training, then evaluation), with or without `tidy` around each step. */
async function child(useTidy: boolean, epochs: number, limit: number | undefined): Promise<Row> {
  const t0 = performance.now();
  const model = new Net();
  const criterion = new nn.CrossEntropyLoss();
  const optimizer = new optim.Adadelta(model.parameters(), { lr: 1.0 });
  const scheduler = new optim.StepLR(optimizer, { stepSize: 1, gamma: 0.7 });
  const transform = { mean: 0.1307, std: 0.3081 };
  const train = new data.DataLoader(await data.loadMnist({ train: true }), {
    batchSize: 10,
    shuffle: true,
    transform,
    limit,
  });
  for (let epoch = 1; epoch <= epochs; epoch++) {
    model.train();
    for (const [x, target] of train) {
      const step = () => {
        optimizer.zeroGrad();
        const loss = criterion.forward(model.forward(x), target);
        loss.backward();
        optimizer.step();
      };
      if (useTidy) tidy(step);
      else step();
    }
    scheduler.step();
  }
  const test = new data.DataLoader(await data.loadMnist({ train: false }), { batchSize: 1000, transform });
  let correct = 0;
  model.eval();
  noGrad(() => {
    for (const [x, target] of test) {
      if (useTidy) correct += tidy(() => model.forward(x).argmax(1).eq(target).sum().item());
      else correct += model.forward(x).argmax(1).eq(target).sum().item();
    }
  });
  const hwm = Number(Deno.readTextFileSync("/proc/self/status").match(/VmHWM:\s+(\d+)/)![1]);
  return {
    variant: useTidy ? "tidy around each step" : "as written (no tidy)",
    peakRssMB: Math.round(hwm / 1024),
    tensors: memory().tensors,
    tensorMB: Math.round(memory().bytes / 1e5) / 10,
    accuracy: correct / test.dataset.length * 100,
    seconds: Math.round((performance.now() - t0) / 100) / 10,
  };
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    args: Deno.args,
    options: {
      epochs: { type: "string", default: "1" },
      limit: { type: "string" },
      json: { type: "string" },
      child: { type: "string" },
      help: { type: "boolean", short: "h" },
    },
  });
  if (values.help) return console.log(HELP);
  const epochs = Number(values.epochs);
  const limit = values.limit === undefined ? undefined : Number(values.limit);
  if (!Number.isInteger(epochs) || epochs < 1) {
    throw new Error(`--epochs must be a positive integer, got ${values.epochs}`);
  }
  if (limit !== undefined && (!Number.isInteger(limit) || limit < 1)) {
    throw new Error(`--limit must be a positive integer, got ${values.limit}`);
  }
  if (values.child !== undefined) {
    if (values.child !== "tidy" && values.child !== "plain") throw new Error(`--child must be tidy or plain`);
    console.log(JSON.stringify(await child(values.child === "tidy", epochs, limit)));
    return;
  }
  const rows: Row[] = [];
  for (const variant of ["plain", "tidy"]) {
    const args = ["run", "-A", new URL(import.meta.url).pathname, "--child", variant, "--epochs", String(epochs)];
    if (limit !== undefined) args.push("--limit", String(limit));
    const out = await new Deno.Command(Deno.execPath(), { args, stderr: "inherit" }).output();
    if (!out.success) throw new Error(`bench_memory: the ${variant} run failed (exit ${out.code})`);
    rows.push(JSON.parse(new TextDecoder().decode(out.stdout).trim().split("\n").at(-1)!));
  }
  console.log(`README loop, ${epochs} epoch(s) of MNIST at batch 10, then the 10,000-image test loop:\n`);
  console.log("| loop | peak RSS | live tensors at the end | their bytes | accuracy | seconds |");
  console.log("|---|--:|--:|--:|--:|--:|");
  for (const r of rows) {
    console.log(
      `| ${r.variant} | ${r.peakRssMB} MB | ${r.tensors} | ${r.tensorMB} MB | ${
        r.accuracy.toFixed(2)
      }% | ${r.seconds} |`,
    );
  }
  console.log(`\npeak RSS ratio (as written / tidy): ${(rows[0].peakRssMB / rows[1].peakRssMB).toFixed(2)}`);
  if (values.json) {
    const machine =
      `${Deno.build.os} ${Deno.build.arch}, ${navigator.hardwareConcurrency} cores, Deno ${Deno.version.deno}`;
    Deno.writeTextFileSync(
      values.json,
      JSON.stringify({ machine, date: new Date().toISOString(), epochs, rows }, null, 2),
    );
  }
}

if (import.meta.main) await main();
