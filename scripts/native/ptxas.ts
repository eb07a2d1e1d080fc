/**
 * The ptxas report: registers, stack and register spills per kernel and architecture, read from the
 * `-Xptxas -v` output the CUDA build keeps next to each object (`parsePtxas`), with the kernels'
 * names demangled by c++filt when it is there (`ptxasReport`).
 *
 * @module
 */
import { join } from "../../src/_path.ts";
import { readText, rel } from "./make.ts";
import { cudaObjDir, cudaSources, ptxasLog } from "./libraries.ts";
import { findTool } from "./toolchain.ts";

/** One kernel's resources from ptxas. */
export interface KernelResources {
  /** The mangled name. */
  kernel: string;
  /** "sm_90" */
  arch: string;
  /** Registers per thread. */
  registers: number;
  /** Bytes of local-memory stack frame per thread. */
  stackBytes: number;
  /** Bytes of register spills written to local memory. */
  spillStores: number;
  /** Bytes of register spills read back. */
  spillLoads: number;
  /** The .cu file it came from. */
  source: string;
}

/**
 * Parses nvcc `-Xptxas -v` output into one row per kernel and architecture.
 *
 * @example
 * ```ts
 * const rows = parsePtxas(Deno.readTextFileSync("native/build/cuda/gemm.ptxas.txt"));
 * console.log(rows.filter((r) => r.spillStores > 0));
 * ```
 */
export function parsePtxas(text: string, source = ""): KernelResources[] {
  const rows: KernelResources[] = [];
  let cur: KernelResources | null = null;
  for (const line of text.split("\n")) {
    let m = /Compiling entry function '([^']+)' for '(sm_\d+a?)'/.exec(line);
    if (m) {
      cur = { kernel: m[1], arch: m[2], registers: 0, stackBytes: 0, spillStores: 0, spillLoads: 0, source };
      rows.push(cur);
      continue;
    }
    if (!cur) continue;
    m = /(\d+) bytes stack frame, (\d+) bytes spill stores, (\d+) bytes spill loads/.exec(line);
    if (m) {
      cur.stackBytes = Number(m[1]);
      cur.spillStores = Number(m[2]);
      cur.spillLoads = Number(m[3]);
      continue;
    }
    m = /Used (\d+) registers/.exec(line);
    if (m) cur.registers = Number(m[1]);
  }
  return rows;
}

/**
 * The release build's spill gate: null when no kernel of the objects' ptxas logs spills registers to
 * local memory, else a message naming each spilling kernel (demangled when c++filt is there), its
 * architecture and the bytes stored and loaded. A missing log counts as no kernels.
 *
 * @example
 * ```ts
 * const why = await spillGate([{ source: "native/src/gemm.cu", log: "native/build/cuda/gemm.ptxas.txt" }]);
 * if (why) throw new Error(why);
 * ```
 */
export async function spillGate(objects: { source: string; log: string }[]): Promise<string | null> {
  const spilling = objects.flatMap((o) =>
    parsePtxas(readText(o.log) ?? "", rel(o.source)).filter((r) => r.spillStores > 0 || r.spillLoads > 0)
  );
  if (spilling.length === 0) return null;
  const names = await demangle([...new Set(spilling.map((r) => r.kernel))]);
  const lines = spilling.map((r) =>
    `${r.source}: ${names.get(r.kernel) ?? r.kernel} (${r.arch}): ${r.spillStores} bytes spill stores, ` +
    `${r.spillLoads} bytes spill loads`
  );
  return `ptxas reports register spills in ${spilling.length} kernel build(s) (the release build allows none; ` +
    `shrink the tile or raise __launch_bounds__):\n  ${lines.join("\n  ")}`;
}

async function demangle(names: string[]): Promise<Map<string, string>> {
  const map = new Map<string, string>();
  const filt = findTool("c++filt", "CXXFILT");
  if (!filt || names.length === 0) return map;
  try {
    const child = new Deno.Command(filt, { stdin: "piped", stdout: "piped", stderr: "null" }).spawn();
    const w = child.stdin.getWriter();
    await w.write(new TextEncoder().encode(names.join("\n") + "\n"));
    await w.close();
    const out = new TextDecoder().decode((await child.output()).stdout).split("\n");
    names.forEach((n, i) => map.set(n, out[i] || n));
  } catch {
    // keep the mangled names
  }
  return map;
}

/**
 * Prints registers and spills per kernel from the last CUDA build (for `arch` when given); returns
 * the number of kernel builds that spill.
 *
 * @example
 * ```ts
 * if (await ptxasReport({ arch: "sm_90" }) > 0) console.log("some kernels spill");
 * ```
 */
export async function ptxasReport(
  opts: { arch?: string; log?: (line: string) => void } = {},
): Promise<number> {
  const log = opts.log ?? console.log;
  const objDir = cudaObjDir(opts.arch);
  const rows = cudaSources().flatMap((src) => {
    const text = readText(ptxasLog(join(objDir, src.split("/").pop()!.replace(/\.cu$/, ".o"))));
    return text ? parsePtxas(text, rel(src)) : [];
  });
  if (rows.length === 0) {
    log("ptxas report: no ptxas output found under native/build/cuda (build the CUDA library first)");
    return 0;
  }
  const names = await demangle([...new Set(rows.map((r) => r.kernel))]);
  /* The demangled name without "void" and the parameter list (template arguments tell instances apart). */
  const short = (n: string) => {
    let d = (names.get(n) ?? n).replace(/^void /, "");
    if (d.endsWith(")")) {
      let depth = 0;
      for (let i = d.length - 1; i >= 0; i--) {
        if (d[i] === ")") depth++;
        else if (d[i] === "(" && --depth === 0) {
          d = d.slice(0, i);
          break;
        }
      }
    }
    return d.length > 120 ? d.slice(0, 117) + "..." : d;
  };
  let spilling = 0;
  for (const source of [...new Set(rows.map((r) => r.source))]) {
    const mine = rows.filter((r) => r.source === source);
    const width = Math.max(6, ...mine.map((r) => short(r.kernel).length));
    log(`${source}:`);
    log(`  ${"kernel".padEnd(width)}  arch    regs  stack  spill st  spill ld`);
    for (const r of mine) {
      const spills = r.spillStores > 0 || r.spillLoads > 0;
      if (spills) spilling++;
      const nums = [r.registers, r.stackBytes, r.spillStores, r.spillLoads].map((v, i) =>
        String(v).padStart([4, 5, 8, 8][i])
      );
      log(`  ${short(r.kernel).padEnd(width)}  ${r.arch.padEnd(6)}  ${nums.join("  ")}${spills ? "  <- SPILLS" : ""}`);
    }
  }
  log(
    spilling
      ? `ptxas report: ${spilling} of ${rows.length} kernel builds spill registers to local memory`
      : `ptxas report: ${rows.length} kernel builds, no spills`,
  );
  return spilling;
}
