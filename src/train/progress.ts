/**
 * Reporting a run: a one-line progress bar for a terminal, and the log lines' number formats
 * (`formatLr`, `formatTestResult`).
 *
 * @module
 */
import type { EvaluateResult, Progress } from "./loop.ts";

/** Options of {@linkcode ProgressBar}. */
export interface ProgressBarOptions {
  /** Where the bar's text goes; default: written synchronously to stderr. */
  write?: (text: string) => void;
}

/**
 * A one-line progress bar (`epoch 1 train [#####.....] 120/300`), redrawn in place at most 10
 * times a second, for a terminal. Call {@linkcode ProgressBar.clear} before printing a line so the
 * line does not land on the bar.
 *
 * @example
 * ```ts
 * import { ProgressBar } from "./mod.ts";
 * const bar = Deno.stdout.isTerminal() ? new ProgressBar() : undefined;
 * const log = (line: string) => {
 *   bar?.clear();
 *   console.log(line);
 * };
 * // trainEpoch(model, opt, loader, { log, onProgress: bar && ((p) => bar.update(p)) });
 * bar?.clear();
 * ```
 */
export class ProgressBar {
  #last = 0;
  #shown = false;
  readonly #write: (text: string) => void;

  /** A bar that writes to stderr, or to `opts.write`. */
  constructor(opts: ProgressBarOptions = {}) {
    const enc = new TextEncoder();
    this.#write = opts.write ?? ((text) => Deno.stderr.writeSync(enc.encode(text)));
  }

  /** Redraws the bar for `p` (skipped when the last redraw was under 100 ms ago, unless `p` is the last batch). */
  update(p: Progress): void {
    const now = performance.now();
    if (now - this.#last < 100 && p.batch !== p.batches) return;
    this.#last = now;
    const width = 30;
    const filled = Math.round(width * p.batch / p.batches);
    const label = p.phase === "train" ? `epoch ${p.epoch} train` : `epoch ${p.epoch} test `;
    this.#write(
      `\r${label} [${"#".repeat(filled)}${".".repeat(width - filled)}] ${p.batch}/${p.batches}\x1b[K`,
    );
    this.#shown = true;
  }

  /** Erases the bar (before a log line is printed on the same terminal). */
  clear(): void {
    if (this.#shown) this.#write("\r\x1b[K");
    this.#shown = false;
  }
}

/**
 * Formats a learning rate briefly, as epoch lines print it: integers with one decimal, others
 * with at most 6 significant digits.
 *
 * @example
 * ```ts
 * import { formatLr } from "./mod.ts";
 * formatLr(1); // "1.0"
 * formatLr(0.7 * 0.7 * 0.7); // "0.343" (not 0.34299999999999997)
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
 * import { formatTestResult } from "./mod.ts";
 * formatTestResult({ loss: 0.27714, correct: 920, total: 1000, accuracy: 92, seconds: 0.4 });
 * // "\nTest set: Average loss: 0.2771, Accuracy: 920/1000 (92.00%)\n"
 * ```
 */
export function formatTestResult(result: EvaluateResult): string {
  return `\nTest set: Average loss: ${result.loss.toFixed(4)}, Accuracy: ${result.correct}/${result.total} ` +
    `(${result.accuracy.toFixed(2)}%)\n`;
}
