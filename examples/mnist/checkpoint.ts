/**
 * Checkpoints of the MNIST recipes: `--checkpoint PATH` (written at the end of every epoch) and
 * `--resume PATH`, which goes on bit-identically: same weights, same log lines. A checkpoint is
 * `io.saveCheckpoint`'s file; its `extra` holds the run's settings (checked on resume) and the
 * finished epochs' results (so the summary and the returned history cover the whole run).
 *
 * @module
 */
import { io, type nn, type optim } from "../../mod.ts";
import type { EpochResult } from "./train.ts";

/** The settings a resumed run must share with the checkpointed one to go on bit-identically. */
export interface RunSettings {
  /** Training batch size. */
  batchSize: number;
  /** Seed of the weights and of the shuffles. */
  seed: number;
  /** `"mnist"` or `"fashion-mnist"`. */
  dataset: string;
  /** Training samples per epoch (after `limit`). */
  trainSamples: number;
  /** The `lr` option. */
  lr: number;
  /** The `gamma` option. */
  gamma: number;
}

/** The parts of a run a checkpoint holds. */
export interface RunState {
  /** The model. */
  model: nn.Module;
  /** The optimizer. */
  optimizer: optim.Optimizer;
  /** The schedule, if any; it must have `stateDict`/`loadStateDict` (every one in `optim` has). */
  scheduler?: { step(): void };
  /** The training loader (its data order). */
  loader: io.CheckpointLoader;
  /** The run's settings. */
  settings: RunSettings;
}

/** What a checkpoint's `extra` holds. */
interface RunExtra {
  settings: RunSettings;
  history: EpochResult[];
}

/** The output and input paths of a run, checked by {@linkcode checkRunPaths}. */
export interface RunPaths {
  /** Where the final weights go (`--save-model`). */
  saveModel?: string;
  /** Where the checkpoint goes (`--checkpoint`). */
  checkpoint?: string;
  /** The checkpoint to go on from (`--resume`). */
  resume?: string;
  /** Weights to start from (`--load-model`); not together with `resume`. */
  loadModel?: string;
}

/**
 * Checks, before any data is loaded, that the outputs can be written (their folders exist and are
 * writable), that the checkpoint to resume from exists, and that `loadModel` and `resume` are not
 * both given. Throws an Error naming the option and the path.
 *
 * @example
 * ```ts
 * import { checkRunPaths } from "./checkpoint.ts";
 * await checkRunPaths({ saveModel: "mnist.safetensors", checkpoint: "mnist.ckpt.safetensors" });
 * ```
 */
export async function checkRunPaths(paths: RunPaths): Promise<void> {
  if (paths.loadModel !== undefined && paths.resume !== undefined) {
    throw new Error(
      "trainMnist: loadModel (--load-model) and resume (--resume) exclude each other: " +
        "a checkpoint holds the weights already",
    );
  }
  for (const [key, flag] of [["saveModel", "--save-model"], ["checkpoint", "--checkpoint"]] as const) {
    const path = paths[key];
    if (path !== undefined) await io.checkWritable(path, { label: `trainMnist: ${key} (${flag})` });
  }
  if (paths.resume !== undefined) {
    try {
      if (!(await Deno.stat(paths.resume)).isFile) throw new Error("not a file");
    } catch (e) {
      throw new Error(`trainMnist: resume (--resume): cannot read ${paths.resume}: ${(e as Error).message}`, {
        cause: e,
      });
    }
  }
}

/**
 * Writes the run's checkpoint after epoch `epoch`: model, optimizer, scheduler, random generators,
 * data order, and in `extra` the settings and `history` (the results of epochs 1..epoch).
 *
 * @example
 * ```ts
 * import { data, nn, optim } from "../../mod.ts";
 * import { saveRunCheckpoint } from "./checkpoint.ts";
 * const model = new nn.Linear(784, 10);
 * const optimizer = new optim.Adadelta(model.parameters(), { lr: 1.0 });
 * const loader = new data.DataLoader(await data.loadMnist({ train: true }), { batchSize: 10, seed: 1 });
 * const settings = { batchSize: 10, seed: 1, dataset: "mnist", trainSamples: 60000, lr: 1.0, gamma: 0.7 };
 * await saveRunCheckpoint("run.ckpt.safetensors", { model, optimizer, loader, settings }, 0, []);
 * ```
 */
export async function saveRunCheckpoint(
  path: string,
  run: RunState,
  epoch: number,
  history: EpochResult[],
): Promise<void> {
  const extra: RunExtra = { settings: run.settings, history };
  await io.saveCheckpoint(path, {
    model: run.model,
    optimizer: run.optimizer,
    scheduler: schedulerOf(run),
    loader: run.loader,
    epoch,
    extra,
  });
}

/**
 * Restores a run from the checkpoint at `path` (written by {@linkcode saveRunCheckpoint}) after
 * checking that it was made with the same settings; returns the epochs it had finished and their
 * results.
 *
 * @example
 * ```ts
 * import { data, nn, optim } from "../../mod.ts";
 * import { resumeRun } from "./checkpoint.ts";
 * const model = new nn.Linear(784, 10);
 * const optimizer = new optim.Adadelta(model.parameters(), { lr: 1.0 });
 * const loader = new data.DataLoader(await data.loadMnist({ train: true }), { batchSize: 10, seed: 1 });
 * const settings = { batchSize: 10, seed: 1, dataset: "mnist", trainSamples: 60000, lr: 1.0, gamma: 0.7 };
 * const { epoch, history } = await resumeRun("run.ckpt.safetensors", { model, optimizer, loader, settings });
 * ```
 */
export async function resumeRun(path: string, run: RunState): Promise<{ epoch: number; history: EpochResult[] }> {
  const { epoch, extra } = await io.loadCheckpoint(path, {
    model: run.model,
    optimizer: run.optimizer,
    scheduler: schedulerOf(run),
    loader: run.loader,
  });
  const saved = extra as Partial<RunExtra> | undefined;
  if (epoch === undefined || !saved?.settings || !Array.isArray(saved.history)) {
    throw new Error(`trainMnist: resume: ${path} is a checkpoint, but not of an MNIST recipe run (no settings)`);
  }
  const differ = (Object.keys(run.settings) as (keyof RunSettings)[])
    .filter((k) => saved.settings![k] !== run.settings[k])
    .map((k) => `${k} ${saved.settings![k]} there, ${run.settings[k]} here`);
  if (differ.length) {
    throw new Error(
      `trainMnist: resume: ${path} was made with other settings (${differ.join("; ")}); ` +
        `resume with the same ones to go on where it stopped`,
    );
  }
  return { epoch, history: saved.history };
}

/** The run's scheduler as a checkpoint needs it, or an Error when it cannot be saved. */
function schedulerOf(run: RunState): io.CheckpointScheduler | undefined {
  const s = run.scheduler as Partial<io.CheckpointScheduler> | undefined;
  if (s === undefined) return undefined;
  if (typeof s.stateDict !== "function" || typeof s.loadStateDict !== "function") {
    throw new Error(
      `trainMnist: the scheduler (${s.constructor?.name ?? "object"}) has no stateDict/loadStateDict, ` +
        `so a checkpoint cannot hold it`,
    );
  }
  return s as io.CheckpointScheduler;
}
