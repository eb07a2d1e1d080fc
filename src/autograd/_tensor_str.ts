/**
 * A tensor's values as text, the way PyTorch 1.13 prints them (`torch/_tensor_str.py` with its
 * default options: 4 digits, summaries past 1000 elements with 3 items at each edge, 80 columns).
 * Numbers are rounded from their exact binary value, half to even, as Python's `format` does.
 *
 * @module
 */
import type { DType, HostArray } from "../backend/backend.ts";
import { contiguousStrides } from "../backend/shape.ts";

const PRECISION = 4;
const THRESHOLD = 1000;
const EDGE_ITEMS = 3;
const LINE_WIDTH = 80;

/** What `tensorRepr` needs of a tensor. */
export interface TensorReprInput {
  readonly shape: readonly number[];
  readonly dtype: DType;
  /** "cpu" prints nothing; any other device prints `device='…'`. */
  readonly deviceType: string;
  /** The values, row-major; null for a disposed tensor. */
  readonly values: HostArray | null;
  /** The op that made the tensor (`grad_fn=<AddBackward>`), or null for a leaf. */
  readonly op: string | null;
  readonly requiresGrad: boolean;
}

/**
 * `tensor([[1.0000, 2.5000], ...], requires_grad=True)`: PyTorch's repr. Suffixes, in torch's
 * order: `device` off the CPU, `size` for empty tensors of rank ≠ 1 and for summarized ones (where
 * torch prints none: the `...` hide it), `dtype` unless float32, then `grad_fn` or `requires_grad`.
 */
export function tensorRepr(t: TensorReprInput): string {
  const prefix = "tensor(";
  const indent = prefix.length;
  const suffixes: string[] = [];
  if (t.deviceType !== "cpu") suffixes.push(`device='${t.deviceType}'`);
  const size = t.shape.reduce((p, d) => p * d, 1);
  let body: string;
  if (t.values === null) {
    body = "<disposed>";
    suffixes.push(`size=${pyTuple(t.shape)}`);
  } else if (size === 0) {
    body = "[]";
    if (t.shape.length !== 1) suffixes.push(`size=${pyTuple(t.shape)}`);
  } else {
    const summarize = size > THRESHOLD;
    if (summarize) suffixes.push(`size=${pyTuple(t.shape)}`);
    body = valuesStr(t.values, t.shape, t.dtype, indent, summarize);
  }
  if (t.dtype !== "float32") suffixes.push(`dtype=${t.dtype}`);
  if (t.op !== null) suffixes.push(`grad_fn=<${t.op[0].toUpperCase()}${t.op.slice(1)}Backward>`);
  else if (t.requiresGrad) suffixes.push("requires_grad=True");
  return addSuffixes(prefix + body, suffixes, indent);
}

/** Python's `str(tuple(shape))`: `(2, 3)`, `(5,)`, `()`. */
function pyTuple(shape: readonly number[]): string {
  return shape.length === 1 ? `(${shape[0]},)` : `(${shape.join(", ")})`;
}

/** torch's `_add_suffixes`: each suffix after ", ", or on a new line when the line would pass 80 columns. */
function addSuffixes(text: string, suffixes: string[], indent: number): string {
  let out = text;
  let lastLineLength = text.length - text.lastIndexOf("\n") + 1;
  for (const s of suffixes) {
    if (lastLineLength + s.length + 2 > LINE_WIDTH) {
      out += ",\n" + " ".repeat(indent) + s;
      lastLineLength = indent + s.length;
    } else {
      out += ", " + s;
      lastLineLength += s.length + 2;
    }
  }
  return out + ")";
}

/** The bracketed values (torch's `_tensor_str`), `indent` columns in. */
function valuesStr(
  values: HostArray,
  shape: readonly number[],
  dtype: DType,
  indent: number,
  summarize: boolean,
): string {
  const rank = shape.length;
  const strides = contiguousStrides(shape);
  // The rows shown along a dimension of size n: all, or the edges around a null for "...".
  const shown = (n: number): (number | null)[] => {
    if (!summarize || n <= 2 * EDGE_ITEMS) return Array.from({ length: n }, (_, i) => i);
    const head = Array.from({ length: EDGE_ITEMS }, (_, i) => i);
    return [...head, null, ...head.map((i) => n - EDGE_ITEMS + i)];
  };
  // The formatter sees only the values printed, as torch's get_summarized_data.
  const printed: (number | bigint)[] = [];
  const collect = (offset: number, d: number): void => {
    if (d === rank) {
      printed.push(values[offset]);
      return;
    }
    for (const i of shown(shape[d])) if (i !== null) collect(offset + i * strides[d], d + 1);
  };
  collect(0, 0);
  const fmt = makeFormatter(printed, dtype === "float32" || dtype === "float64");

  const rec = (offset: number, d: number, ind: number): string => {
    if (d === rank) return fmt.format(values[offset]);
    if (d === rank - 1) {
      const perLine = Math.max(1, Math.floor((LINE_WIDTH - ind) / (fmt.width + 2)));
      const items = shown(shape[d]).map((i) => i === null ? " ..." : fmt.format(values[offset + i]));
      const lines: string[] = [];
      for (let i = 0; i < items.length; i += perLine) lines.push(items.slice(i, i + perLine).join(", "));
      return "[" + lines.join(",\n" + " ".repeat(ind + 1)) + "]";
    }
    const slices = shown(shape[d]).map((i) => i === null ? "..." : rec(offset + i * strides[d], d + 1, ind + 1));
    return "[" + slices.join("," + "\n".repeat(rank - d - 1) + " ".repeat(ind + 1)) + "]";
  };
  return rec(0, 0, indent);
}

interface Formatter {
  readonly width: number;
  format(v: number | bigint): string;
}

/** torch's `_Formatter`: picks integer, fixed or scientific notation and one width for all values. */
function makeFormatter(values: (number | bigint)[], floating: boolean): Formatter {
  if (!floating) {
    const width = Math.max(1, ...values.map((v) => String(v).length));
    return { width, format: (v) => String(v).padStart(width) };
  }
  const nums = values as number[];
  const nonzeroFinite = nums.filter((v) => Number.isFinite(v) && v !== 0);
  let intMode = true;
  let sciMode = false;
  let width = 1;
  if (nonzeroFinite.length > 0) {
    const abs = nonzeroFinite.map(Math.abs);
    const min = Math.min(...abs);
    const max = Math.max(...abs);
    intMode = nonzeroFinite.every((v) => v === Math.ceil(v));
    sciMode = max / min > 1000 || max > 1e8 || (!intMode && min < 1e-4);
    for (const v of nonzeroFinite) {
      const len = sciMode
        ? pyExp(v, PRECISION).length
        : intMode
        ? pyFixed(v, 0).length + 1
        : pyFixed(v, PRECISION).length;
      width = Math.max(width, len);
    }
  }
  const format = (x: number | bigint): string => {
    const v = Number(x);
    let s: string;
    if (sciMode) s = pyExp(v, PRECISION);
    else if (intMode) s = pyFixed(v, 0) + (Number.isFinite(v) ? "." : "");
    else s = pyFixed(v, PRECISION);
    return s.padStart(width);
  };
  return { width, format };
}

/** Python's `"{:.Nf}".format(v)`. */
export function pyFixed(v: number, fractionDigits: number): string {
  if (!Number.isFinite(v)) return pyNonFinite(v);
  const { digits, point } = exactDecimal(v);
  let kept = roundHalfEven(digits, point + fractionDigits);
  let intDigits = point;
  if (kept.length > point + fractionDigits) intDigits++; // 9.99… carried into a new digit
  kept = kept.padEnd(intDigits + fractionDigits, "0");
  const intPart = kept.slice(0, intDigits).replace(/^0+(?=\d)/, "");
  const frac = kept.slice(intDigits);
  return sign(v) + intPart + (fractionDigits > 0 ? "." + frac : "");
}

/** Python's `"{:.Ne}".format(v)`: N digits after the point, an exponent of at least two digits. */
export function pyExp(v: number, fractionDigits: number): string {
  if (!Number.isFinite(v)) return pyNonFinite(v);
  let mantissa: string;
  let exponent = 0;
  if (v === 0) mantissa = "0".repeat(fractionDigits + 1);
  else {
    const { digits, point } = exactDecimal(v);
    const first = digits.search(/[1-9]/);
    exponent = point - first - 1;
    mantissa = roundHalfEven(digits.slice(first), fractionDigits + 1);
    if (mantissa.length > fractionDigits + 1) {
      exponent++;
      mantissa = mantissa.slice(0, fractionDigits + 1);
    }
    mantissa = mantissa.padEnd(fractionDigits + 1, "0");
  }
  const e = `${exponent < 0 ? "-" : "+"}${String(Math.abs(exponent)).padStart(2, "0")}`;
  return sign(v) + mantissa[0] + (fractionDigits > 0 ? "." + mantissa.slice(1) : "") + "e" + e;
}

function sign(v: number): string {
  return v < 0 || Object.is(v, -0) ? "-" : "";
}

function pyNonFinite(v: number): string {
  return Number.isNaN(v) ? "nan" : v > 0 ? "inf" : "-inf";
}

/**
 * The exact decimal expansion of |v| (a finite double is m·2^e, and m·2^−k = m·5^k / 10^k):
 * `digits` with the decimal point after the first `point` of them (point ≥ 1).
 */
function exactDecimal(v: number): { digits: string; point: number } {
  const view = new DataView(new ArrayBuffer(8));
  view.setFloat64(0, Math.abs(v));
  const bits = view.getBigUint64(0);
  const biased = Number(bits >> 52n);
  const fraction = bits & ((1n << 52n) - 1n);
  const m = biased === 0 ? fraction : fraction | (1n << 52n);
  const e = biased === 0 ? -1074 : biased - 1075;
  if (e >= 0) {
    const digits = (m << BigInt(e)).toString();
    return { digits, point: digits.length };
  }
  let digits = (m * 5n ** BigInt(-e)).toString();
  let point = digits.length + e;
  if (point < 1) {
    digits = "0".repeat(1 - point) + digits;
    point = 1;
  }
  return { digits, point };
}

/**
 * The first `keep` digits of `digits` rounded half to even on the rest; one digit longer when the
 * rounding carries out of the first (999.5 → 1000).
 */
function roundHalfEven(digits: string, keep: number): string {
  if (keep >= digits.length) return digits;
  if (keep < 0) return "";
  const head = digits.slice(0, keep);
  const rest = digits.slice(keep);
  const last = keep > 0 ? Number(digits[keep - 1]) : 0;
  const up = rest[0] > "5" || (rest[0] === "5" && (/[1-9]/.test(rest.slice(1)) || last % 2 === 1));
  if (!up) return head;
  const out = head.split("");
  let i = out.length - 1;
  while (i >= 0 && out[i] === "9") out[i--] = "0";
  if (i < 0) return "1" + out.join("");
  out[i] = String(Number(out[i]) + 1);
  return out.join("");
}
