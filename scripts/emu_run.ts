/**
 * `deno task emu:run FILE.cu`: compute-sanitizer on the CPU. Compiles a standalone CUDA program
 * (it includes native/src/common.h, launches with CN_LAUNCH, and its main() uses the CUDA runtime
 * API) against the emulator's sanitizer build, runs it under each tool, prints each error in
 * compute-sanitizer's style and an `========= ERROR SUMMARY: N errors` line per tool, and exits 1
 * when there is any error (else with the program's own exit status).
 *
 *   deno task emu:run FILE.cu [--tool memcheck,initcheck] [--order random:7] [-D NAME[=VALUE]]...
 *                             [--print-limit N] [-- program arguments]
 *
 * The tools and the build each runs on are the table in scripts/native/emu_run_tools.ts; the
 * builds (cached under native/build/, one compile per program and set of defines) are in
 * scripts/native/emu_run_build.ts. `--order` is given to the emulator as CN_EMU_ORDER
 * (forward | reverse | random:SEED: the order threads start and resume and blocks run).
 *
 * @module
 */
import { parseArgs } from "node:util";
import { BuildError } from "./native/make.ts";
import { buildEmuProgram } from "./native/emu_run_build.ts";
import { TOOL_NAMES, type ToolName, TOOLS } from "./native/emu_run_tools.ts";

/** Options of {@linkcode emuRun}. */
export interface EmuRunOptions {
  /** The tools to run, in order (default: every tool of emu_run_tools.ts). */
  tools?: ToolName[];
  /** CN_EMU_ORDER for the emulator: "forward", "reverse" or "random:SEED". */
  order?: string;
  /** Preprocessor defines for the program: "FIXED", "N=4". */
  defines?: string[];
  /** The program's arguments. */
  args?: string[];
  /** Errors printed in full per run (default 100; all are counted). */
  printLimit?: number;
  /** Build progress lines (default: dropped). */
  log?: (line: string) => void;
  /** Also log the compiler command lines. */
  verbose?: boolean;
}

/** One tool's run of the program. */
export interface ToolRun {
  /** The tool. */
  tool: ToolName;
  /** Errors reported (compute-sanitizer headers, plus 1 when the program died of a signal without one). */
  errors: number;
  /** The program's exit status (128 + n for signal n). */
  code: number;
  /** The program's stdout and stderr, merged in order, and the tool's header and summary lines. */
  output: string;
}

/** What {@linkcode emuRun} did. */
export interface EmuRunResult {
  /** One entry per tool. */
  runs: ToolRun[];
  /** Errors of every run. */
  errors: number;
  /** The exit status for the command line: 1 when any error, else the program's status. */
  code: number;
  /** Every run's output, in order. */
  output: string;
}

const ORDER_RE = /^(forward|reverse|random:\d+)$/;

/**
 * The errors a run reported: its own total when it printed one (past CN_EMU_PRINT_LIMIT), else the
 * header lines of compute-sanitizer-style reports (details are indented; "(...)" notes are not errors).
 */
export function countReports(output: string): number {
  const total = /^========= \((\d+) errors in all/m.exec(output);
  if (total) return Number(total[1]);
  return output.split("\n").filter((l) => /^========= [^\s(]/.test(l)).length;
}

const SIGNALS: Record<string, number> = { SIGABRT: 6, SIGSEGV: 11, SIGBUS: 7, SIGFPE: 8, SIGILL: 4, SIGKILL: 9 };

function hasStdbuf(): boolean {
  for (const dir of (Deno.env.get("PATH") ?? "/usr/bin:/bin").split(":")) {
    try {
      if (Deno.statSync(`${dir}/stdbuf`).isFile) return true;
    } catch {
      // not here
    }
  }
  return false;
}

/** Runs `program` with stdout and stderr on one pipe (line-buffered when stdbuf exists), in order. */
async function runMerged(program: string, args: string[], env: Record<string, string>) {
  const script = hasStdbuf() ? 'exec stdbuf -oL "$0" "$@" 2>&1' : 'exec "$0" "$@" 2>&1';
  const out = await new Deno.Command("sh", {
    args: ["-c", script, program, ...args],
    env,
    stdin: "null",
    stdout: "piped",
    stderr: "inherit",
  }).output();
  return { text: new TextDecoder().decode(out.stdout), code: out.code, signal: out.signal };
}

/**
 * Builds `file` on each tool's emulator build and runs it under the tool.
 *
 * @example
 * ```ts
 * const r = await emuRun("native/tests/sanitizer/oob_write.cu", { tools: ["memcheck"] });
 * console.log(r.output, r.errors); // "========= Invalid __global__ write of size 4 bytes ...", 1
 * ```
 */
export async function emuRun(file: string, opts: EmuRunOptions = {}): Promise<EmuRunResult> {
  const tools = opts.tools ?? TOOL_NAMES;
  for (const t of tools) {
    if (!(t in TOOLS)) {
      throw new BuildError(`emu:run: unknown tool "${t}" (expected one of ${TOOL_NAMES.join(", ")})`);
    }
  }
  if (opts.order !== undefined && !ORDER_RE.test(opts.order)) {
    throw new BuildError(
      `emu:run: --order expects forward, reverse or random:SEED (SEED an integer), got "${opts.order}"`,
    );
  }
  const printLimit = opts.printLimit ?? 100;
  if (!Number.isInteger(printLimit) || printLimit < 0) {
    throw new BuildError(`emu:run: --print-limit expects an integer >= 0, got ${opts.printLimit}`);
  }
  const runs: ToolRun[] = [];
  for (const tool of tools) {
    const row = TOOLS[tool];
    const built = await buildEmuProgram(file, row.variant, {
      defines: opts.defines,
      log: opts.log ?? (() => {}),
      verbose: opts.verbose,
    });
    const env: Record<string, string> = {
      ...Deno.env.toObject(),
      ...row.env,
      CN_EMU_PRINT_LIMIT: String(printLimit),
      ...(opts.order ? { CN_EMU_ORDER: opts.order } : {}),
    };
    const r = await runMerged(built.path, opts.args ?? [], env);
    let text = r.text;
    if (text && !text.endsWith("\n")) text += "\n";
    let errors = countReports(text);
    if (r.signal && errors === 0) {
      text += `========= Program terminated by ${r.signal} (the emulator's message above says why)\n`;
      errors = 1;
    }
    const code = r.signal ? 128 + (SIGNALS[r.signal] ?? 0) : r.code;
    const header = `========= CN-EMU-SANITIZER ${tool}: ${file}${
      opts.defines?.length ? ` -D ${opts.defines.join(" -D ")}` : ""
    }${opts.order ? ` (order ${opts.order})` : ""}\n`;
    const summary = `========= ERROR SUMMARY: ${errors} error${errors === 1 ? "" : "s"}\n`;
    runs.push({ tool, errors, code, output: header + text + summary });
  }
  const errors = runs.reduce((s, r) => s + r.errors, 0);
  const programCode = runs.find((r) => r.code !== 0)?.code ?? 0;
  return { runs, errors, code: errors ? 1 : programCode, output: runs.map((r) => r.output).join("") };
}

const USAGE = `usage: deno task emu:run FILE.cu [options] [-- program arguments]
  --tool T[,T]     tools to run (default: all): ${
  TOOL_NAMES.map((t) => `\n                     ${t}: ${TOOLS[t].describe}`).join("")
}
  --order O        thread and block order: forward, reverse or random:SEED (CN_EMU_ORDER)
  -D NAME[=VALUE]  a preprocessor define for the program (repeatable)
  --print-limit N  errors printed in full per tool (default 100; all are counted)
  --verbose        show the build's lines and compiler commands`;

/**
 * The command line (see the module doc); returns the exit status.
 *
 * @example
 * ```ts
 * Deno.exit(await main(["native/tests/sanitizer/oob_write.cu", "-D", "FIXED"]));
 * ```
 */
export async function main(argv: string[]): Promise<number> {
  let parsed;
  try {
    parsed = parseArgs({
      args: argv,
      allowPositionals: true,
      options: {
        tool: { type: "string", multiple: true },
        order: { type: "string" },
        define: { type: "string", short: "D", multiple: true },
        "print-limit": { type: "string" },
        verbose: { type: "boolean" },
        help: { type: "boolean", short: "h" },
      },
    });
  } catch (e) {
    console.error(`emu:run: ${e instanceof Error ? e.message : e}\n${USAGE}`);
    return 2;
  }
  const { values, positionals } = parsed;
  if (values.help) {
    console.log(USAGE);
    return 0;
  }
  const [file, ...args] = positionals;
  if (!file) {
    console.error(`emu:run: no .cu file given\n${USAGE}`);
    return 2;
  }
  const tools = values.tool?.flatMap((t) => t.split(",")).filter((t) => t) as ToolName[] | undefined;
  const printLimit = values["print-limit"] === undefined ? undefined : Number(values["print-limit"]);
  try {
    const r = await emuRun(file, {
      tools,
      order: values.order,
      defines: values.define,
      args,
      printLimit,
      verbose: values.verbose,
      log: (line) => {
        if (values.verbose || !/ is up to date /.test(line)) console.error(line);
      },
    });
    await Deno.stdout.write(new TextEncoder().encode(r.output));
    return r.code;
  } catch (e) {
    if (e instanceof BuildError) {
      console.error(e.message);
      return 2;
    }
    throw e;
  }
}

if (import.meta.main) Deno.exit(await main(Deno.args));
