/**
 * Reporting a run: a one-line progress bar for a terminal (rate, ETA, running loss), and the log
 * lines' number formats (`formatLr`, `formatTestResult`).
 *
 * @module
 */
import type { EvaluateResult, Progress } from "./loop.ts";

/** Options of {@linkcode ProgressBar}. */
export interface ProgressBarOptions {
  /** Where the bar's text goes; default: written synchronously to stderr. */
  write?: (text: string) => void;
  /** The terminal's width; default: stderr's width, or 80 when it cannot be read. */
  columns?: number;
  /** Milliseconds between redraws (the last batch of a phase is always drawn); default 100. */
  redrawMs?: number;
}

/**
 * A one-line progress bar redrawn in place on a terminal:
 * `epoch 1 train [######......] 120/300  1534 samples/s ETA 0:42 loss 0.2345`. The rate and ETA
 * are this phase's (samples per second so far; the remaining batches at the average time per
 * batch), the loss is the running mean the loop last read back (see {@linkcode Progress}).
 * Redrawn at most 10 times a second and cut to the terminal's width. Call
 * {@linkcode ProgressBar.clear} before printing a line so the line does not land on the bar.
 *
 * @example
 * ```ts
 * import { train } from "@convnet/convnet";
 * const bar = train.ProgressBar.onTerminal(); // undefined when stderr is a file or a pipe
 * const log = (line: string) => {
 *   bar?.clear();
 *   console.log(line);
 * };
 * // trainEpoch(model, opt, loader, { log, onProgress: bar && ((p) => bar.update(p)) });
 * bar?.clear();
 * ```
 */
export class ProgressBar {
  #last = -Infinity;
  #shown = false;
  readonly #write: (text: string) => void;
  readonly #columns: number;
  readonly #redrawMs: number;

  /** A bar that writes to stderr, or to `opts.write`. */
  constructor(opts: ProgressBarOptions = {}) {
    const enc = new TextEncoder();
    this.#write = opts.write ?? ((text) => writeAll(enc.encode(text)));
    this.#columns = opts.columns ?? terminalColumns();
    this.#redrawMs = opts.redrawMs ?? 100;
  }

  /**
   * A bar on stderr when stderr is a terminal; `undefined` otherwise (a log file gets the log
   * lines only, no carriage returns).
   *
   * @example
   * ```ts
   * import { train } from "@convnet/convnet";
   * const bar = train.ProgressBar.onTerminal();
   * bar?.update({ phase: "train", epoch: 1, batch: 3, batches: 10, samples: 30, seconds: 0.5, loss: 0.4 });
   * bar?.clear();
   * ```
   */
  static onTerminal(opts: Omit<ProgressBarOptions, "write"> = {}): ProgressBar | undefined {
    return Deno.stderr.isTerminal() ? new ProgressBar(opts) : undefined;
  }

  /** Redraws the bar for `p` (skipped when the last redraw was under `redrawMs` ago, unless `p` is the last batch). */
  update(p: Progress): void {
    const now = performance.now();
    if (now - this.#last < this.#redrawMs && p.batch !== p.batches) return;
    this.#last = now;
    this.#write(`\r${formatProgress(p, this.#columns - 1)}\x1b[K`);
    this.#shown = true;
  }

  /** Erases the bar (before a log line is printed on the same terminal). */
  clear(): void {
    if (this.#shown) this.#write("\r\x1b[K");
    this.#shown = false;
  }
}

/**
 * The bar's text for `p`, at most `width` characters:
 * `epoch 1 train [######......] 120/300  1534 samples/s ETA 0:42 loss 0.2345`. The bar takes
 * what the numbers leave (up to 25 characters); when the numbers alone are too wide, the line
 * is cut.
 *
 * @example
 * ```ts
 * import { train } from "@convnet/convnet";
 * train.formatProgress({ phase: "train", epoch: 2, batch: 150, batches: 600, samples: 1500, seconds: 1, loss: 0.25 }, 80);
 * // "epoch 2 train [#####..............] 150/600  1500 samples/s ETA 0:03 loss 0.2500"
 * ```
 */
export function formatProgress(p: Progress, width: number): string {
  const label = `epoch ${p.epoch} ${p.phase === "train" ? "train" : "test "}`;
  // Padded so that the line keeps its length (and the bar its width) from one redraw to the next.
  const count = `${String(p.batch).padStart(String(p.batches).length)}/${p.batches}`;
  const rate = (p.seconds > 0 ? (p.samples / p.seconds).toFixed(0) : "-").padStart(5);
  const eta = p.batch > 0 && p.seconds > 0 ? formatDuration((p.batches - p.batch) * p.seconds / p.batch) : "-:--";
  const loss = Number.isFinite(p.loss) ? ` loss ${p.loss.toFixed(4)}` : "";
  const numbers = ` ${count} ${rate} samples/s ETA ${eta.padStart(4)}${loss}`;
  const lossRoom = loss === "" ? " loss 0.0000".length : 0; // the bar keeps its width when the loss appears
  const room = Math.min(25, width - label.length - numbers.length - lossRoom - 3);
  if (room < 5) return `${label}${numbers}`.slice(0, Math.max(0, width));
  const filled = p.batches > 0 ? Math.round(room * Math.min(p.batch, p.batches) / p.batches) : room;
  return `${label} [${"#".repeat(filled)}${".".repeat(room - filled)}]${numbers}`;
}

/** `m:ss`, or `h:mm:ss` from an hour on. */
function formatDuration(seconds: number): string {
  const s = Math.max(0, Math.round(seconds));
  const [h, m, sec] = [Math.floor(s / 3600), Math.floor(s / 60) % 60, s % 60];
  const pad = (n: number) => String(n).padStart(2, "0");
  return h > 0 ? `${h}:${pad(m)}:${pad(sec)}` : `${m}:${pad(sec)}`;
}

function terminalColumns(): number {
  try {
    return Deno.consoleSize().columns || 80;
  } catch {
    return 80; // not a terminal
  }
}

function writeAll(bytes: Uint8Array): void {
  for (let off = 0; off < bytes.length;) off += Deno.stderr.writeSync(bytes.subarray(off));
}

/**
 * Formats a learning rate briefly, as epoch lines print it: integers with one decimal, others
 * with at most 6 significant digits.
 *
 * @example
 * ```ts
 * import { train } from "@convnet/convnet";
 * train.formatLr(1); // "1.0"
 * train.formatLr(0.7 * 0.7 * 0.7); // "0.343" (not 0.34299999999999997)
 * ```
 */
export function formatLr(lr: number): string {
  return Number.isInteger(lr) ? lr.toFixed(1) : String(Number(lr.toPrecision(6)));
}

/**
 * The line PyTorch's examples print after each evaluation, blank lines around it included:
 * `"\nTest set: Average loss: 0.2771, Accuracy: 920/1000 (92.00%)\n"`.
 *
 * @example
 * ```ts
 * import { train } from "@convnet/convnet";
 * train.formatTestResult({ loss: 0.27714, correct: 920, total: 1000, accuracy: 92, seconds: 0.4 });
 * // "\nTest set: Average loss: 0.2771, Accuracy: 920/1000 (92.00%)\n"
 * ```
 */
export function formatTestResult(result: EvaluateResult): string {
  return `\nTest set: Average loss: ${result.loss.toFixed(4)}, Accuracy: ${result.correct}/${result.total} ` +
    `(${result.accuracy.toFixed(2)}%)\n`;
}
