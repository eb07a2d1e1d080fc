/**
 * `summary`: a torchinfo-like table of a model: each leaf layer's output shape and parameter
 * count from one forward pass on zeros, then the totals.
 *
 * @module
 */
import type { Device, DType } from "../backend/backend.ts";
import { cpu } from "../backend/device.ts";
import { dtypeBytes } from "../backend/shape.ts";
import { fmtShape, noGrad, Tensor, tidy } from "../tensor/mod.ts";
import { checkOptionKeys } from "../tensor/functional.ts";
import type { Module } from "./module.ts";

/** Options of {@linkcode summary}. */
export interface SummaryOptions {
  /** Where the input zeros live (default: the device of the model's first parameter, else the CPU). */
  device?: Device;
  /** The input's element type (default float32). */
  dtype?: DType;
  /** Print the table with `console.log` (default true). */
  print?: boolean;
}

/** One call of a leaf layer in the forward pass. */
export interface SummaryRow {
  /** The layer's dotted name (`conv1`, `features.0`); `""` when the model itself is the leaf. */
  readonly name: string;
  /** The layer's class name. */
  readonly type: string;
  /** The output's shape; null when the output is not a tensor. */
  readonly outputShape: readonly number[] | null;
  /** The layer's parameter elements (trainable or not). */
  readonly params: number;
  /** True for a second or later call of the same layer (its parameters were counted on the first). */
  readonly recursive: boolean;
}

/** What {@linkcode summary} found: the rows, the totals and the printed table. */
export interface ModelSummary {
  /** The leaf layers in the order they ran (layers that did not run come last, with no output shape). */
  readonly rows: readonly SummaryRow[];
  /** The model's output shape; null when the output is not a tensor. */
  readonly outputShape: readonly number[] | null;
  /** Parameter elements, each shared parameter once. */
  readonly totalParams: number;
  /** Those of `totalParams` with `requiresGrad`. */
  readonly trainableParams: number;
  /** Bytes held by the parameters. */
  readonly paramsBytes: number;
  /** Bytes of the input. */
  readonly inputBytes: number;
  /** The table, as printed. */
  readonly text: string;
}

/**
 * Runs `model` once on zeros of `inputShape` (a list of shapes for several inputs) in eval mode
 * under `noGrad`, records what each leaf layer returned (by wrapping its `forward` for the call,
 * so any module works), and prints and returns a torchinfo-like table: each leaf layer's dotted
 * name, class, output shape and parameter count, then the total and trainable parameters and
 * their size in MB (10⁶ bytes, as torchinfo). The model's training flags and parameters are left
 * as they were.
 *
 * @example
 * ```ts
 * import { nn } from "@convnet/convnet";
 * const net = new nn.Sequential(new nn.Conv2d(1, 16, { kernelSize: 3, padding: 1 }), new nn.ReLU(),
 *   new nn.MaxPool2d({ kernelSize: 2 }), new nn.Flatten(), new nn.Linear(3136, 10));
 * const s = nn.summary(net, [1, 1, 28, 28], { print: false });
 * s.totalParams; // 31530
 * s.rows.map((r) => r.outputShape); // [[1, 16, 28, 28], [1, 16, 28, 28], [1, 16, 14, 14], [1, 3136], [1, 10]]
 * ```
 */
export function summary(
  model: Module,
  inputShape: readonly number[] | readonly number[][],
  opts: SummaryOptions = {},
): ModelSummary {
  checkOptionKeys("summary", opts, ["device", "dtype", "print"]);
  const shapes = inputShapes(inputShape);
  const params = [...new Set(model.parameters())];
  const dev = opts.device ?? params[0]?.device ?? model.buffers()[0]?.device ?? cpu;
  const dtype = opts.dtype ?? "float32";

  const leaves = model.namedModules().filter(([, m]) => m.children().length === 0);
  const rows: SummaryRow[] = [];
  const calls = new Map<Module, number>();
  const restore: (() => void)[] = [];
  for (const [name, m] of leaves) {
    const own = Object.getOwnPropertyDescriptor(m, "forward");
    const forward = m.forward;
    const wrapped = (...inputs: Tensor[]): Tensor => {
      const y = forward.apply(m, inputs);
      const n = calls.get(m) ?? 0;
      calls.set(m, n + 1);
      rows.push({ name, type: m.constructor.name, outputShape: shapeOf(y), params: countParams(m), recursive: n > 0 });
      return y;
    };
    Object.defineProperty(m, "forward", { value: wrapped, configurable: true, writable: true, enumerable: false });
    restore.push(() => own ? Object.defineProperty(m, "forward", own) : delete (m as { forward?: unknown }).forward);
  }
  const modes = model.modules().map((m) => [m, m.training] as const);
  let outputShape: readonly number[] | null;
  try {
    model.eval();
    outputShape = tidy(() =>
      noGrad(() => {
        const inputs = shapes.map((s) => Tensor.zeros(s, { dtype, device: dev }));
        return shapeOf(model.forward(...inputs));
      })
    );
  } finally {
    for (const undo of restore) undo();
    for (const [m, training] of modes) m.training = training;
  }
  for (const [name, m] of leaves) {
    if (!calls.has(m)) {
      rows.push({ name, type: m.constructor.name, outputShape: null, params: countParams(m), recursive: false });
    }
  }

  const totalParams = params.reduce((n, p) => n + p.size, 0);
  const trainableParams = params.reduce((n, p) => n + (p.requiresGrad ? p.size : 0), 0);
  const paramsBytes = params.reduce((n, p) => n + p.size * dtypeBytes(p.dtype), 0);
  const inputBytes = shapes.reduce((n, s) => n + s.reduce((a, d) => a * d, 1) * dtypeBytes(dtype), 0);
  const text = table({
    root: model.children().length === 0
      ? null
      : { name: model.constructor.name, outputShape, params: ownParams(model) },
    rows,
    totals: [
      `Total params: ${thousands(totalParams)}`,
      `Trainable params: ${thousands(trainableParams)}`,
      `Non-trainable params: ${thousands(totalParams - trainableParams)}`,
      `Input size (MB): ${(inputBytes / 1e6).toFixed(2)}`,
      `Params size (MB): ${(paramsBytes / 1e6).toFixed(2)}`,
    ],
  });
  if (opts.print ?? true) console.log(text);
  return { rows, outputShape, totalParams, trainableParams, paramsBytes, inputBytes, text };
}

function inputShapes(inputShape: readonly number[] | readonly number[][]): (readonly number[])[] {
  const several = inputShape.length > 0 && Array.isArray(inputShape[0]);
  const shapes = (several ? inputShape : [inputShape]) as (readonly number[])[];
  for (const s of shapes) {
    if (!Array.isArray(s) || !s.every((d) => Number.isInteger(d) && d >= 0)) {
      throw new Error(
        `summary: inputShape must be a shape like [1, 1, 28, 28] or a list of shapes, got ${
          JSON.stringify(inputShape)
        }`,
      );
    }
  }
  return shapes;
}

function shapeOf(y: unknown): readonly number[] | null {
  return y instanceof Tensor ? y.shape : null;
}

function countParams(m: Module): number {
  return [...new Set(m.parameters())].reduce((n, p) => n + p.size, 0);
}

/** The parameters of `model` itself, outside its children (0 for a leaf model: its row counts them). */
function ownParams(model: Module): number {
  const children = model.children();
  if (children.length === 0) return 0;
  const inChildren = new Set(children.flatMap((c) => c.parameters()));
  return [...new Set(model.parameters())].filter((p) => !inChildren.has(p)).reduce((n, p) => n + p.size, 0);
}

function thousands(n: number): string {
  return String(n).replace(/\B(?=(\d{3})+(?!\d))/g, ",");
}

/** The table: a header, the model's line (unless the model is its own only row), the rows indented, the totals. */
function table(t: {
  root: { name: string; outputShape: readonly number[] | null; params: number } | null;
  rows: readonly SummaryRow[];
  totals: string[];
}): string {
  const paramCell = (n: number): string => n === 0 ? "--" : thousands(n);
  const shapeCell = (s: readonly number[] | null): string => s ? fmtShape(s) : "--";
  const indent = t.root ? "  " : "";
  const lines = [
    ["Layer (type)", "Output Shape", "Param #"],
    ...(t.root ? [[t.root.name, shapeCell(t.root.outputShape), paramCell(t.root.params)]] : []),
    ...t.rows.map((r) => [
      indent + (r.name === "" ? r.type : `${r.name} (${r.type})`),
      shapeCell(r.outputShape),
      r.recursive && r.params > 0 ? "(recursive)" : paramCell(r.params),
    ]),
  ];
  const nameWidth = Math.max(40, ...lines.map((l) => l[0].length + 2));
  const shapeWidth = Math.max(26, ...lines.map((l) => l[1].length + 2));
  const row = (l: string[]): string => l[0].padEnd(nameWidth) + l[1].padEnd(shapeWidth) + l[2];
  const rule = "=".repeat(Math.max(nameWidth + shapeWidth + 14, ...lines.map((l) => row(l).length)));
  return [rule, row(lines[0]), rule, ...lines.slice(1).map(row), rule, ...t.totals, rule].join("\n");
}
