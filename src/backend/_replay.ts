/**
 * Host work a CUDA graph replay repeats: the hooks that code running inside a capture registers
 * (`train.compileStep` records them; optimizers register theirs), run around every launch of the
 * captured graph.
 *
 * A captured graph replays kernels only. What the host did around them while capturing (an
 * optimizer writing its learning rate to device memory, counting its steps) must happen again at
 * each replay: the code that knows how registers it here, when {@linkcode replayHooksRecording} says
 * a capture is running, instead of doing it then.
 *
 * @module
 */

/** The hooks of one captured graph. */
export interface ReplayHooks {
  /**
   * Run before each launch. Each writes what the kernels read from device memory and returns
   * `true`, or returns why the graph no longer fits the host's state (a value its kernels took as an
   * argument changed): the graph is then captured again.
   */
  before: (() => true | string)[];
  /** Run after each launch, in order: the host bookkeeping the captured code skipped. */
  after: (() => void)[];
}

let recording: ReplayHooks | undefined;

/** Whether a capture is recording hooks now (code inside it must register its host work). */
export function replayHooksRecording(): boolean {
  return recording !== undefined;
}

/**
 * Registers host work of the capture running now: `before` runs before every launch of the graph,
 * `after` after it (the first launch, right after the capture, included).
 *
 * @example
 * ```ts
 * if (replayHooksRecording()) addReplayHooks(() => (writeLr(), true), () => steps++);
 * ```
 */
export function addReplayHooks(before?: () => true | string, after?: () => void): void {
  if (!recording) throw new Error("addReplayHooks: no capture is recording (check replayHooksRecording() first)");
  if (before) recording.before.push(before);
  if (after) recording.after.push(after);
}

/**
 * Runs `fn` (the code being captured) and returns what it returned with the hooks it registered.
 *
 * @example
 * ```ts
 * const [out, hooks] = recordReplayHooks(() => step(x, y));
 * ```
 */
export function recordReplayHooks<T>(fn: () => T): [T, ReplayHooks] {
  if (recording) throw new Error("recordReplayHooks: a capture is already recording");
  const hooks: ReplayHooks = { before: [], after: [] };
  recording = hooks;
  try {
    return [fn(), hooks];
  } finally {
    recording = undefined;
  }
}
