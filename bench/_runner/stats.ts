/**
 * Rows of the comparison: one mechanism on one workload of one question,
 * with the median and spread of its samples, and its ratio to the question's
 * baseline.
 *
 * @module
 */

/** What a suite reports for one bench (a `BENCHSTAT` line, or a Python JSON line). */
export interface BenchStat {
  question: string;
  name: string;
  workload: string;
  metric: "rate" | "latency";
  op: string;
  opsPerIter: number;
  samplesNs: number[];
  extras?: Record<string, number[]>;
  error?: string;
  baseline?: boolean;
}

/** A measured row, ready for the tables and charts. */
export interface Row {
  question: string;
  name: string;
  workload: string;
  metric: "rate" | "latency";
  op: string;
  /** Where it came from (suite file or peer script). */
  source: string;
  /** Median value: ops per second (rate) or ns per op (latency). */
  median: number;
  min: number;
  max: number;
  /** (max − min) / median. */
  spread: number;
  samples: number;
  /** Every sample's value (ops/s or ns/op), in the order measured. */
  values: number[];
  /** Median of each extra per-iteration figure (e.g. handoffs), with its range. */
  extras: Record<string, { median: number; min: number; max: number }>;
  /** Speed relative to the baseline row (> 1: better than the baseline), if any. */
  ratio?: number;
  /** Whether this row is the baseline of its question and workload. */
  isBaseline?: boolean;
  /** Set when the bench failed (its figures are then absent: 0). */
  error?: string;
  /** Set when the suite provided no per-iteration samples (plain `deno bench` figures). */
  note?: string;
  /** Whether the suite marked it as its group's baseline. */
  flaggedBaseline?: boolean;
}

/** The median of a non-empty list. */
export function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = sorted.length >> 1;
  return sorted.length % 2 ? sorted[middle] : (sorted[middle - 1] + sorted[middle]) / 2;
}

/** Turns a suite's report into a row (values per op, median and spread). */
export function toRow(stat: BenchStat, source: string): Row {
  const values = stat.samplesNs.map((ns) =>
    stat.metric === "rate" ? stat.opsPerIter / (ns * 1e-9) : ns / stat.opsPerIter
  );
  const extras: Row["extras"] = {};
  for (const [key, list] of Object.entries(stat.extras ?? {})) {
    if (list.length) {
      extras[key] = { median: median(list), min: Math.min(...list), max: Math.max(...list) };
    }
  }
  const base = {
    question: stat.question,
    name: stat.name,
    workload: stat.workload,
    metric: stat.metric,
    op: stat.op,
    source,
    extras,
    samples: values.length,
    values,
    flaggedBaseline: stat.baseline === true,
  };
  if (stat.error || values.length === 0) {
    return { ...base, median: 0, min: 0, max: 0, spread: 0, error: stat.error ?? "no samples" };
  }
  const mid = median(values);
  const min = Math.min(...values);
  const max = Math.max(...values);
  return { ...base, median: mid, min, max, spread: (max - min) / mid };
}

/** How each question picks its baseline row (per workload). */
const BASELINES: { question: RegExp; name: RegExp }[] = [
  { question: /^threads: (throughput|round trip)/, name: /^postMessage/ },
  { question: /^processes: /, name: /^Python mp\.Queue$/ },
  { question: /^locks: uncontended/, name: /compareExchange pair/ },
  { question: /^locks: 2-worker/, name: /^bare futex lock/ },
  { question: /^pool: task/, name: /^piscina/ },
];

/** The stated baseline of a question, for the report. */
export function baselineRule(question: string): string {
  const rule = BASELINES.find((entry) => entry.question.test(question));
  return rule ? rule.name.source.replace(/[\\^$]/g, "") : "the row its suite marks as baseline";
}

/** Marks each question's baseline rows and fills in every row's ratio. */
export function applyBaselines(rows: Row[]): void {
  const groups = new Map<string, Row[]>();
  for (const row of rows) {
    const key = `${row.question}\u0000${row.workload}`;
    groups.set(key, [...(groups.get(key) ?? []), row]);
  }
  for (const group of groups.values()) {
    const rule = BASELINES.find((entry) => entry.question.test(group[0].question));
    const usable = group.filter((row) => !row.error);
    const baseline = (rule && usable.find((row) => rule.name.test(row.name))) ??
      usable.find((row) => row.flaggedBaseline) ?? usable[0];
    if (!baseline) continue;
    baseline.isBaseline = true;
    for (const row of usable) {
      row.ratio = row.metric === "rate"
        ? row.median / baseline.median
        : baseline.median / row.median;
    }
  }
}

/** Formats a value with its unit (`12.3M msg/s`, `41.2 µs/rtt`). */
export function formatValue(value: number, metric: "rate" | "latency", op: string): string {
  if (metric === "rate") return `${si(value)} ${op}/s`;
  const [scale, unit] = timeUnit(value);
  return `${round(value / scale)} ${unit}/${op}`;
}

/** Formats a range in the unit its median is shown in (`1.2M .. 3.4M`, `598 .. 1,240`). */
export function formatRange(
  row: { min: number; max: number; median: number; metric: "rate" | "latency" },
): string {
  if (row.metric === "rate") return `${si(row.min)} .. ${si(row.max)}`;
  const [scale] = timeUnit(row.median);
  return `${round(row.min / scale)} .. ${round(row.max / scale)}`;
}

function timeUnit(ns: number): [number, string] {
  return ns >= 1e6 ? [1e6, "ms"] : ns >= 1e3 ? [1e3, "µs"] : [1, "ns"];
}

/** 3 significant digits with a k/M/G suffix; small integers as they are. */
export function si(value: number): string {
  const units = [[1e9, "G"], [1e6, "M"], [1e3, "k"]] as const;
  for (const [scale, suffix] of units) {
    if (value >= scale) return `${round(value / scale)}${suffix}`;
  }
  return Number.isInteger(value) ? String(value) : round(value);
}

/** 3 significant digits (thousands separated when larger). */
export function round(value: number): string {
  if (value === 0 || !Number.isFinite(value)) return String(value);
  if (Math.abs(value) >= 1000) return Math.round(value).toLocaleString("en-US");
  const digits = Math.max(0, 2 - Math.floor(Math.log10(Math.abs(value))));
  return value.toFixed(Math.min(digits, 3));
}

/** A ratio as `12.3×`. */
export function formatRatio(ratio: number | undefined): string {
  return ratio === undefined ? "" : `${round(ratio)}×`;
}
