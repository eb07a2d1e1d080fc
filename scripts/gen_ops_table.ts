/**
 * Writes src/backend/_ops_table.ts from native/ops.def, the one table of op codes: the codes, the
 * op-name types and each op's TypeScript expression (the TypeScript backends' reference), so that
 * no enum is kept in sync by hand across C and TypeScript.
 *
 *   deno run -A scripts/gen_ops_table.ts           writes the file (formatted with deno fmt)
 *   deno run -A scripts/gen_ops_table.ts --check   exits 1 when the file is stale
 *
 * @module
 */
import { join } from "../src/_path.ts";

const root = join(import.meta.dirname!, "..");
/** Where the table lives. */
export const OPS_DEF_PATH: string = join(root, "native", "ops.def");
/** Where the generated module goes. */
export const OPS_TABLE_PATH: string = join(root, "src", "backend", "_ops_table.ts");

/** A family of rows sharing one code space: the four op families and the other FFI codes. */
export type OpFamily = "unary" | "binary" | "scalar" | "reduce" | "dtype" | "distribution" | "poolKind" | "status";

const MACROS: Record<string, [OpFamily, number]> = {
  UNARY_OP: ["unary", 5],
  BINARY_OP: ["binary", 5],
  BINARY_CMP: ["binary", 5],
  SCALAR_OP: ["scalar", 5],
  SCALAR_CMP: ["scalar", 5],
  REDUCE_OP: ["reduce", 4],
  DTYPE: ["dtype", 3],
  DISTRIBUTION: ["distribution", 3],
  POOL_KIND: ["poolKind", 3],
  STATUS: ["status", 3],
};
const FAMILIES: OpFamily[] = ["unary", "binary", "scalar", "reduce", "dtype", "distribution", "poolKind", "status"];

/** One row of native/ops.def. */
export interface OpRow {
  /** Its family. */
  family: OpFamily;
  /** The C name (CN_<NAME>, CN_S_<NAME>, CN_R_<NAME>, CN_POOL_<NAME>). */
  cName: string;
  /** The TypeScript name (`"relu"`). */
  tsName: string;
  /** The code passed across the FFI. */
  code: number;
  /** True for comparisons (int32 0/1 out). */
  comparison: boolean;
  /** The C expression (empty for the other families; reductions name a policy instead). */
  cExpr: string;
  /** The TypeScript expression (empty but for unary, binary and scalar rows). */
  tsExpr: string;
  /** The line in ops.def. */
  line: number;
}

const ROW = /^CN_([A-Z_]+)\((.*)\)\s*$/;

/** Splits macro arguments at the commas outside parentheses. */
function splitArgs(text: string): string[] {
  const out: string[] = [];
  let depth = 0, start = 0;
  for (let i = 0; i < text.length; i++) {
    const ch = text[i];
    if (ch === "(") depth++;
    else if (ch === ")") depth--;
    else if (ch === "," && depth === 0) {
      out.push(text.slice(start, i).trim());
      start = i + 1;
    }
  }
  out.push(text.slice(start).trim());
  return out;
}

/**
 * Parses the rows of ops.def and checks them: codes are non-negative integers, unique per family,
 * and so are the names; a malformed row is an Error naming its line.
 *
 * @example
 * ```ts
 * import { parseOpsDef } from "./gen_ops_table.ts";
 * const rows = parseOpsDef("CN_UNARY_OP(NEG, neg, 0, -x, -x)\n");
 * console.log(rows[0].tsName, rows[0].code); // "neg" 0
 * ```
 */
export function parseOpsDef(text: string): OpRow[] {
  const rows: OpRow[] = [];
  text.split("\n").forEach((raw, i) => {
    const line = raw.trim();
    if (!line.startsWith("CN_")) return;
    const where = `native/ops.def:${i + 1}`;
    const m = ROW.exec(line);
    const macro = m ? MACROS[m[1]] : undefined;
    if (!m || !macro) {
      throw new Error(
        `${where}: a row must be one of ${Object.keys(MACROS).map((k) => `CN_${k}`).join(", ")}(...), got: ${line}`,
      );
    }
    const [family, want] = macro;
    const args = splitArgs(m[2]);
    if (args.length !== want) {
      throw new Error(`${where}: CN_${m[1]} takes ${want} arguments, got ${args.length}: ${line}`);
    }
    const [cName, tsName, codeText] = args;
    const code = Number(codeText);
    if (!/^[A-Z][A-Z0-9_]*$/.test(cName)) throw new Error(`${where}: the C name must be UPPER_CASE, got ${cName}`);
    // Status names are constants (STATUS.NO_DEVICE); every other TS name is camelCase.
    const tsShape = family === "status" ? /^[A-Z][A-Z0-9_]*$/ : /^[a-z][A-Za-z0-9]*$/;
    if (!tsShape.test(tsName)) throw new Error(`${where}: the TS name ${tsName} does not have the shape ${tsShape}`);
    if (!/^\d+$/.test(codeText)) throw new Error(`${where}: the code must be an integer >= 0, got ${codeText}`);
    const expr = want === 5;
    rows.push({
      family,
      cName,
      tsName,
      code,
      comparison: m[1].endsWith("_CMP"),
      cExpr: expr ? args[3] : "",
      tsExpr: expr ? args[4] : "",
      line: i + 1,
    });
  });
  for (const family of FAMILIES) {
    const fam = rows.filter((r) => r.family === family);
    if (fam.length === 0) throw new Error(`native/ops.def: no ${family} rows`);
    for (const key of ["code", "tsName", "cName"] as const) {
      const seen = new Map<unknown, OpRow>();
      for (const r of fam) {
        const other = seen.get(r[key]);
        if (other) {
          throw new Error(
            `native/ops.def:${r.line}: ${family} ${key} ${r[key]} is already used on line ${other.line}; ` +
              `expected each ${key} once per family`,
          );
        }
        seen.set(r[key], r);
      }
    }
  }
  return rows;
}

const HEADER =
  `// Generated from native/ops.def by scripts/gen_ops_table.ts: do not edit (tests/ops_table_test.ts checks it).

/**
 * The op codes shared by C, CUDA and TypeScript (one table: native/ops.def), and each op's formula
 * for the TypeScript backends (float32 rounding happens on store).
 *
 * @module
 */
`;

function codes(rows: OpRow[]): string {
  return `{ ${rows.map((r) => `${r.tsName}: ${r.code}`).join(", ")} }`;
}

function union(rows: OpRow[]): string {
  return rows.map((r) => JSON.stringify(r.tsName)).join(" | ");
}

function fns(rows: OpRow[], params: string): string {
  return `{\n${rows.map((r) => `  ${r.tsName}: (${params}) => ${r.tsExpr},`).join("\n")}\n}`;
}

/** The module's text before formatting. */
function render(rows: OpRow[]): string {
  const of = (f: OpFamily) => rows.filter((r) => r.family === f).sort((a, b) => a.code - b.code);
  const unary = of("unary"), binary = of("binary"), scalar = of("scalar"), reduce = of("reduce");
  const dtypes = of("dtype"), distributions = of("distribution"), poolKinds = of("poolKind"), statuses = of("status");
  const cmp = [...new Set([...binary, ...scalar].filter((r) => r.comparison).map((r) => r.tsName))];
  const q = (s: string) => JSON.stringify(s);
  return `${HEADER}
/** Unary elementwise ops. */
export type UnaryOp = ${union(unary)};
/** Unary op codes. */
export const UNARY_OPS: Readonly<Record<UnaryOp, number>> = ${codes(unary)};

/** Binary elementwise ops (broadcasting); comparisons write int32 0/1. */
export type BinaryOp = ${union(binary)};
/** Binary op codes. */
export const BINARY_OPS: Readonly<Record<BinaryOp, number>> = ${codes(binary)};

/** Ops between a tensor and a number \`s\` (\`rsub\` is \`s - x\`, \`rdiv\` is \`s / x\`); comparisons write int32 0/1. */
export type ScalarOp = ${union(scalar)};
/** Tensor-number op codes. */
export const SCALAR_OPS: Readonly<Record<ScalarOp, number>> = ${codes(scalar)};

/** Reductions over the middle axis of [outer, n, inner]. */
export type ReduceOp = ${union(reduce)};
/** Reduction op codes. */
export const REDUCE_OPS: Readonly<Record<ReduceOp, number>> = ${codes(reduce)};

/** Each unary op on one number. */
export const UNARY_FNS: Record<UnaryOp, (x: number) => number> = ${fns(unary, "x")};

/** Each binary op on two numbers. */
export const BINARY_FNS: Record<BinaryOp, (a: number, b: number) => number> = ${fns(binary, "a, b")};

/** Each tensor-number op (\`x\` the element, \`s\` the number). */
export const SCALAR_FNS: Record<ScalarOp, (x: number, s: number) => number> = ${fns(scalar, "x, s")};

/** The binary and scalar ops that compare: they write int32 0/1 whatever the operands' dtype. */
export const COMPARISONS: ReadonlySet<string> = new Set([${cmp.map(q).join(", ")}]);

/** Element type codes of native storage (float64 has none: it lives on the TypeScript backends only). */
export const DTYPE_CODES: Readonly<Record<${union(dtypes)}, number>> = ${codes(dtypes)};

/** Distribution codes of the native random fill. */
export const DISTRIBUTION_CODES: Readonly<Record<${union(distributions)}, number>> = ${codes(distributions)};

/** Pooling kind codes of the native pooling kernels. */
export const POOL_KIND_CODES: Readonly<Record<${union(poolKinds)}, number>> = ${codes(poolKinds)};

/** The status codes every native function returns (0 = ok). */
export const STATUS_CODES: Readonly<Record<${union(statuses)}, number>> = ${codes(statuses)};
`;
}

/** Formats TypeScript text with the repository's deno fmt settings. */
async function format(text: string): Promise<string> {
  const child = new Deno.Command(Deno.execPath(), {
    args: ["fmt", "--ext", "ts", "-"],
    cwd: root,
    stdin: "piped",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const writer = child.stdin.getWriter();
  await writer.write(new TextEncoder().encode(text));
  await writer.close();
  const out = await child.output();
  if (!out.success) {
    throw new Error(`gen_ops_table: deno fmt rejected the generated text: ${new TextDecoder().decode(out.stderr)}`);
  }
  return new TextDecoder().decode(out.stdout);
}

/**
 * The text src/backend/_ops_table.ts must have for the given ops.def text (formatted).
 *
 * @example
 * ```ts
 * import { generateOpsTable, OPS_DEF_PATH } from "./gen_ops_table.ts";
 * const text = await generateOpsTable(Deno.readTextFileSync(OPS_DEF_PATH));
 * console.log(text.includes("export const UNARY_OPS")); // true
 * ```
 */
export async function generateOpsTable(opsDef: string): Promise<string> {
  return await format(render(parseOpsDef(opsDef)));
}

/** Where {@linkcode main} reads the table and writes the module (tests point them elsewhere). */
export interface OpsTablePaths {
  /** The X-macro table (default native/ops.def). */
  opsDef?: string;
  /** The generated module (default src/backend/_ops_table.ts). */
  table?: string;
}

/**
 * Writes src/backend/_ops_table.ts, or with `--check` only compares; returns the exit code
 * (1: stale under --check, or a bad table).
 *
 * @example
 * ```ts
 * import { main } from "./gen_ops_table.ts";
 * const code = await main(["--check"]);
 * console.log(code === 0 ? "current" : "stale");
 * ```
 */
export async function main(args: string[], paths: OpsTablePaths = {}): Promise<number> {
  const opsDef = paths.opsDef ?? OPS_DEF_PATH, table = paths.table ?? OPS_TABLE_PATH;
  const unknown = args.filter((a) => a !== "--check");
  if (unknown.length) {
    console.error(`gen_ops_table: unknown argument ${unknown[0]}; expected nothing or --check`);
    return 2;
  }
  let text: string;
  try {
    text = await generateOpsTable(await Deno.readTextFile(opsDef));
  } catch (e) {
    console.error(`gen_ops_table: ${(e as Error).message}`);
    return 1;
  }
  let current: string | null = null;
  try {
    current = await Deno.readTextFile(table);
  } catch (e) {
    if (!(e instanceof Deno.errors.NotFound)) throw e;
  }
  if (args.includes("--check")) {
    if (current === text) return 0;
    console.error(
      `gen_ops_table: ${table} is ${current === null ? "missing" : "stale"}; run deno run -A scripts/gen_ops_table.ts`,
    );
    return 1;
  }
  if (current === text) {
    console.log(`${table} is up to date`);
  } else {
    await Deno.writeTextFile(table, text);
    console.log(`wrote ${table} from ${opsDef}`);
  }
  return 0;
}

if (import.meta.main) Deno.exit(await main(Deno.args));
