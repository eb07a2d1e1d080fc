/**
 * The tools of `deno task emu:run` (scripts/emu_run.ts) and how each runs: which build of the
 * emulator (a {@linkcode EmuVariant}: compiler flags for the instrumented sources and for the
 * emulator's own files) and which environment. One row per tool: a tool added to the emulator adds
 * its row here (and its variant when it needs other flags); `emu:run` with no `--tool` runs every row
 * in this order.
 *
 * @module
 */

/** One build of the emulator: the objects go to `native/build/emu-<name>/`. */
export interface EmuVariant {
  /** Folder and file name part: `emu-<name>`, `libconvnet_emu_<name>.so`. */
  name: string;
  /** Flags for every unit (the emulator's .cpp files, the library's .cu files, the program). */
  flags: string[];
  /** Flags only for the sources under test (the library's .cu files and the program): instrumentation. */
  instrument: string[];
  /** Extra link flags. */
  link: string[];
  /** One line for the build description and messages. */
  describe: string;
}

/**
 * memcheck and initcheck: g++ -fsanitize=kernel-address in callback mode calls the emulator
 * (native/emu/sanitize.cpp) before every load and store; no libasan, so the library also loads
 * into Deno (see docs/sanitizer.md).
 */
export const SANITIZE: EmuVariant = {
  name: "sanitize",
  flags: ["-DCN_EMU_SANITIZE", "-g"],
  instrument: [
    "-fsanitize=kernel-address",
    "--param",
    "asan-instrumentation-with-call-threshold=0", // a call per access, into sanitize.cpp
    "--param",
    "asan-stack=0", // device memory only: the stack and globals are not checked
    "--param",
    "asan-globals=0",
  ],
  link: ["-ldl"],
  describe: "memcheck + initcheck (g++ -fsanitize=kernel-address callbacks)",
};

/**
 * racecheck (and initcheck of __shared__ memory): g++ -fsanitize=thread in callback form calls the
 * emulator (native/emu/racecheck.cpp, not libtsan) before every load and store; each access to a
 * kernel's __shared__ variable is checked against the last accesses of the other threads of the
 * block since the last barrier (see docs/sanitizer.md).
 */
export const RACECHECK: EmuVariant = {
  name: "racecheck",
  flags: ["-g"],
  instrument: ["-fsanitize=thread", "--param", "tsan-instrument-func-entry-exit=0"],
  link: ["-ldl"],
  describe: "racecheck + __shared__ initcheck (g++ -fsanitize=thread callbacks)",
};

/** A tool: its build and the environment of the run. */
export interface EmuTool {
  /** The build it runs on. */
  variant: EmuVariant;
  /** Environment of the program's run (merged over the caller's). */
  env: Record<string, string>;
  /** What it reports, for --help. */
  describe: string;
}

/** The tool names `--tool` accepts (every row of {@linkcode TOOLS}). */
export type ToolName = keyof typeof TOOLS;

/**
 * tool → build and environment. memcheck reports invalid device-memory accesses (out of bounds, use
 * after free, host dereference) and fails the device; initcheck reports kernel reads of device
 * memory nothing wrote.
 */
export const TOOLS = {
  memcheck: {
    variant: SANITIZE,
    env: { CN_EMU_MEMCHECK: "1", CN_EMU_INITCHECK: "0" },
    describe: "out-of-bounds and freed device memory, host dereferences of device pointers",
  },
  initcheck: {
    variant: SANITIZE,
    env: { CN_EMU_MEMCHECK: "0", CN_EMU_INITCHECK: "1" },
    describe: "kernel reads of device memory nothing wrote (global memory)",
  },
  racecheck: {
    variant: RACECHECK,
    env: {},
    describe: "__shared__ accesses of two threads with no barrier between (one a write); reads of __shared__ " +
      "memory no thread of the block wrote",
  },
  synccheck: {
    variant: SANITIZE, // every build compares barrier and warp-op call sites: reuse memcheck's, checks off
    env: { CN_EMU_MEMCHECK: "0", CN_EMU_INITCHECK: "0" },
    describe: "threads of a block at different __syncthreads(), lanes of a warp at different warp ops",
  },
} satisfies Record<string, EmuTool>;

/** Every tool, in the order `emu:run` runs them by default. */
export const TOOL_NAMES: ToolName[] = Object.keys(TOOLS) as ToolName[];
