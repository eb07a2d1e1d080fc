/**
 * Learning curves as a standalone SVG (no dependencies, opens in any browser): loss and
 * accuracy per epoch, train and test, from a run's metrics records.
 *
 * @module
 */
import type { MetricsRecord } from "./metrics.ts";

/** Options of {@linkcode plotCurves}. */
export interface PlotCurvesOptions {
  /** A line above the two panels, e.g. the run's settings; default none. */
  title?: string;
  /** Width in pixels; default 900. */
  width?: number;
  /** Height in pixels; default 380. */
  height?: number;
  /** The loss axis: `"log"` (default when every loss is > 0) or `"linear"`. */
  lossScale?: "log" | "linear";
}

/** One drawn series: its key in the SVG (`data-series`), legend label, colour and points. */
interface Series {
  key: string;
  label: string;
  color: string;
  points: [x: number, y: number][];
  /** Per-interval training loss: a thin line without markers. */
  faint?: boolean;
}

const TRAIN = "#1f77b4";
const TEST = "#ff7f0e";

/**
 * Draws the learning curves of `records` (a {@linkcode MetricsLog}'s, or {@linkcode parseMetrics}
 * of its file) as an SVG document: on the left the loss (train: the epoch's mean and, thinner,
 * each log interval's mean; test: after each epoch), on the right the accuracy in percent (test,
 * and train when it was counted), against the epoch, with ticks, grid lines and a legend. Each
 * series is a `<polyline data-series="loss/train">` (also `loss/train-interval`, `loss/test`,
 * `accuracy/train`, `accuracy/test`) with a `<circle>` per epoch; hovering a circle shows its
 * value. When a file holds an epoch or step twice (a resumed run appended to it), the later
 * record wins.
 *
 * @example
 * ```ts
 * import { train } from "@convnet/convnet";
 * const svg = train.plotCurves([
 *   { kind: "epoch", epoch: 1, step: 200, trainLoss: 0.61, testLoss: 0.28, testAccuracy: 91.8, seconds: 4 },
 *   { kind: "epoch", epoch: 2, step: 400, trainLoss: 0.27, testLoss: 0.19, testAccuracy: 94.2, seconds: 8 },
 * ], { title: "MNIST, seed 1" });
 * await Deno.writeTextFile(await Deno.makeTempFile({ suffix: ".svg" }), svg);
 * ```
 */
export function plotCurves(records: readonly MetricsRecord[], opts: PlotCurvesOptions = {}): string {
  const allowed = ["title", "width", "height", "lossScale"];
  const unknown = Object.keys(opts).find((k) => !allowed.includes(k));
  if (unknown !== undefined) {
    throw new Error(`plotCurves: unknown option ${unknown}; accepted options: ${allowed.join(", ")}`);
  }
  if (!Array.isArray(records)) {
    throw new Error(`plotCurves: records must be an array of metrics records, got ${typeof records}`);
  }
  const width = opts.width ?? 900;
  const height = opts.height ?? 380;
  for (const [name, v, min] of [["width", width, 400], ["height", height, 200]] as const) {
    if (!Number.isFinite(v) || v < min) throw new Error(`plotCurves: ${name} must be a number ≥ ${min}, got ${v}`);
  }

  // The last record of each epoch / step wins (a resumed run appends to the same file).
  const epochs = [...new Map(records.filter((r) => r.kind === "epoch").map((r) => [r.epoch, r])).values()]
    .sort((a, b) => a.epoch - b.epoch);
  const logs = [...new Map(records.filter((r) => r.kind === "log").map((r) => [r.step, r])).values()]
    .sort((a, b) => a.step - b.step);
  const pick = (rs: MetricsRecord[], key: keyof MetricsRecord, x: (r: MetricsRecord) => number) =>
    rs.flatMap((r): [number, number][] => {
      const v = r[key];
      return typeof v === "number" && Number.isFinite(v) ? [[x(r), v]] : [];
    });
  const atEpoch = (r: MetricsRecord) => r.epoch;
  const inEpoch = (r: MetricsRecord) =>
    r.batch !== undefined && r.batches ? r.epoch - 1 + r.batch / r.batches : r.epoch;

  const loss: Series[] = [
    {
      key: "loss/train-interval",
      label: "train (log interval)",
      color: TRAIN,
      points: pick(logs, "trainLoss", inEpoch),
      faint: true,
    },
    { key: "loss/train", label: "train (epoch mean)", color: TRAIN, points: pick(epochs, "trainLoss", atEpoch) },
    { key: "loss/test", label: "test", color: TEST, points: pick(epochs, "testLoss", atEpoch) },
  ].filter((s) => s.points.length > 0);
  const accuracy: Series[] = [
    { key: "accuracy/train", label: "train", color: TRAIN, points: pick(epochs, "trainAccuracy", atEpoch) },
    { key: "accuracy/test", label: "test", color: TEST, points: pick(epochs, "testAccuracy", atEpoch) },
  ].filter((s) => s.points.length > 0);

  const maxEpoch = Math.max(1, ...records.map((r) => r.epoch).filter(Number.isFinite));
  const x: Axis = linearAxis(0, maxEpoch, { integer: true });
  const lossValues = loss.flatMap((s) => s.points.map((p) => p[1]));
  const scale = opts.lossScale ?? (lossValues.every((v) => v > 0) ? "log" : "linear");
  if (scale !== "log" && scale !== "linear") {
    throw new Error(`plotCurves: lossScale must be "log" or "linear", got ${JSON.stringify(scale)}`);
  }
  if (scale === "log" && lossValues.some((v) => v <= 0)) {
    throw new Error(`plotCurves: lossScale "log" needs losses > 0, got ${Math.min(...lossValues)}`);
  }
  const lossAxis = lossValues.length === 0
    ? linearAxis(0, 1)
    : scale === "log"
    ? logAxis(Math.min(...lossValues), Math.max(...lossValues))
    : linearAxis(Math.min(0, ...lossValues), Math.max(...lossValues));
  const accValues = accuracy.flatMap((s) => s.points.map((p) => p[1]));
  const accAxis = accValues.length === 0
    ? linearAxis(0, 100)
    : linearAxis(Math.min(...accValues), Math.max(...accValues));

  const top = opts.title === undefined ? 0 : 28;
  const half = width / 2;
  const panels = [
    panel({ left: 0, top, width: half, height: height - top }, "Loss", x, lossAxis, loss, scale === "log"),
    panel({ left: half, top, width: half, height: height - top }, "Accuracy (%)", x, accAxis, accuracy, false),
  ];
  return [
    `<?xml version="1.0" encoding="UTF-8"?>`,
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" ` +
    `font-family="Helvetica, Arial, sans-serif" font-size="12">`,
    `<title>${escapeXml(opts.title ?? "Learning curves")}</title>`,
    `<rect width="${width}" height="${height}" fill="#ffffff"/>`,
    opts.title === undefined
      ? ""
      : `<text x="${width / 2}" y="20" text-anchor="middle" font-size="15">${escapeXml(opts.title)}</text>`,
    ...panels,
    `</svg>`,
    "",
  ].filter((l) => l !== "").join("\n");
}

interface Box {
  left: number;
  top: number;
  width: number;
  height: number;
}

/** An axis: its domain, its ticks, and where a value falls in [0, 1]. */
interface Axis {
  ticks: number[];
  at: (v: number) => number;
}

/** One panel: title, legend, frame, grid, ticks, axis labels, and the series. */
function panel(box: Box, title: string, x: Axis, y: Axis, series: Series[], log: boolean): string {
  const plot = {
    left: box.left + 62,
    top: box.top + 56,
    right: box.left + box.width - 18,
    bottom: box.top + box.height - 44,
  };
  const px = (v: number) => round(plot.left + x.at(v) * (plot.right - plot.left));
  const py = (v: number) => round(plot.bottom - y.at(v) * (plot.bottom - plot.top));
  const out: string[] = [`<g data-panel="${escapeXml(title)}">`];
  out.push(
    `<text x="${round(box.left + box.width / 2)}" y="${box.top + 20}" text-anchor="middle" font-size="14" ` +
      `font-weight="bold">${escapeXml(title)}${log ? " (log scale)" : ""}</text>`,
  );
  // Legend: one row under the title, outside the plot area so it never hides a curve.
  let lx = plot.left;
  for (const s of series) {
    const ly = box.top + 40;
    out.push(
      `<g data-legend="${s.key}"><line x1="${lx}" y1="${ly}" x2="${lx + 22}" y2="${ly}" stroke="${s.color}" ` +
        `stroke-width="${s.faint ? 1 : 2}"${s.faint ? ` stroke-opacity="0.45"` : ""}/>` +
        (s.faint ? "" : `<circle cx="${lx + 11}" cy="${ly}" r="3" fill="${s.color}"/>`) +
        `<text x="${lx + 28}" y="${ly + 4}">${escapeXml(s.label)}</text></g>`,
    );
    lx += 40 + 6.5 * s.label.length;
  }
  for (const t of y.ticks) {
    out.push(
      `<line x1="${plot.left}" y1="${py(t)}" x2="${plot.right}" y2="${py(t)}" stroke="#e5e5e5"/>`,
      `<text x="${plot.left - 6}" y="${py(t) + 4}" text-anchor="end">${formatTick(t)}</text>`,
    );
  }
  for (const t of x.ticks) {
    out.push(
      `<line x1="${px(t)}" y1="${plot.bottom}" x2="${px(t)}" y2="${plot.bottom + 5}" stroke="#333333"/>`,
      `<text x="${px(t)}" y="${plot.bottom + 18}" text-anchor="middle">${formatTick(t)}</text>`,
    );
  }
  out.push(
    `<rect x="${plot.left}" y="${plot.top}" width="${round(plot.right - plot.left)}" ` +
      `height="${round(plot.bottom - plot.top)}" fill="none" stroke="#333333"/>`,
    `<text x="${round((plot.left + plot.right) / 2)}" y="${plot.bottom + 36}" text-anchor="middle">epoch</text>`,
  );
  if (series.length === 0) {
    out.push(
      `<text x="${round((plot.left + plot.right) / 2)}" y="${round((plot.top + plot.bottom) / 2)}" ` +
        `text-anchor="middle" fill="#777777">nothing recorded</text>`,
    );
  }
  for (const s of series) {
    const pts = s.points.map(([a, b]) => `${px(a)},${py(b)}`).join(" ");
    out.push(
      `<polyline data-series="${s.key}" points="${pts}" fill="none" stroke="${s.color}" ` +
        (s.faint ? `stroke-width="1" stroke-opacity="0.45"/>` : `stroke-width="2"/>`),
    );
    if (s.faint) continue;
    for (const [a, b] of s.points) {
      out.push(
        `<circle data-series="${s.key}" cx="${px(a)}" cy="${py(b)}" r="3" fill="${s.color}">` +
          `<title>epoch ${a}: ${escapeXml(s.key.replace("/", " "))} ${formatValue(b)}</title></circle>`,
      );
    }
  }
  out.push(`</g>`);
  return out.join("\n");
}

/** A linear axis over [lo, hi] with about 5 ticks at 1, 2 or 5 × 10^k (integers only with `integer`). */
function linearAxis(lo: number, hi: number, opts: { integer?: boolean } = {}): Axis {
  if (hi - lo < 1e-12 * Math.max(1, Math.abs(hi))) {
    const pad = Math.max(Math.abs(hi) * 0.1, 1e-3);
    [lo, hi] = [lo - pad, hi + pad];
  }
  let step = niceStep((hi - lo) / 5);
  if (opts.integer) step = Math.max(1, Math.round(step));
  const start = Math.floor(lo / step + 1e-9) * step;
  const end = Math.ceil(hi / step - 1e-9) * step;
  const ticks: number[] = [];
  for (let i = 0; start + i * step <= end + step * 1e-9; i++) ticks.push(clean(start + i * step));
  return { ticks, at: (v) => (v - start) / (end - start) };
}

/** A log axis a little wider than [lo, hi], with ticks at 1, 2, 5 × 10^k (or 10^k only over many decades). */
function logAxis(lo: number, hi: number): Axis {
  let [a, b] = [Math.log10(lo) - 0.06, Math.log10(hi) + 0.06];
  if (b - a < 0.5) [a, b] = [(a + b) / 2 - 0.25, (a + b) / 2 + 0.25];
  const mantissas = b - a > 4 ? [1] : [1, 2, 5];
  const ticks: number[] = [];
  for (let k = Math.floor(a); k <= Math.ceil(b); k++) {
    for (const m of mantissas) {
      const v = clean(m * 10 ** k);
      const l = Math.log10(v);
      if (l >= a && l <= b) ticks.push(v);
    }
  }
  return { ticks, at: (v) => (Math.log10(v) - a) / (b - a) };
}

function niceStep(raw: number): number {
  const p = 10 ** Math.floor(Math.log10(raw));
  const m = raw / p;
  return clean((m <= 1 ? 1 : m <= 2 ? 2 : m <= 5 ? 5 : 10) * p);
}

/** Removes float noise (0.30000000000000004 → 0.3). */
function clean(v: number): number {
  return Number(v.toPrecision(12));
}

function formatTick(v: number): string {
  const a = Math.abs(v);
  return a !== 0 && (a < 1e-3 || a >= 1e6) ? clean(v).toExponential().replace(/e\+?/, "e") : String(clean(v));
}

function formatValue(v: number): string {
  return String(Number(v.toPrecision(4)));
}

function round(v: number): number {
  return Math.round(v * 10) / 10;
}

function escapeXml(s: string): string {
  return s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;").replace(/"/g, "&quot;");
}
