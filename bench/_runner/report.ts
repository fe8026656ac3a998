/**
 * The comparison as text: aligned tables for the terminal and Markdown for
 * `bench/results/latest.md`, one table per question.
 *
 * @module
 */

import type { BarResult } from "./bars.ts";
import type { Machine } from "./machine.ts";
import {
  baselineRule,
  formatRange,
  formatRatio,
  formatValue,
  round,
  type Row,
  si,
} from "./stats.ts";

/** Questions in the order they are reported (unknown questions follow, sorted). */
const ORDER = [
  "locks: uncontended lock+unlock",
  "locks: 2-worker contended counter",
  "granularity: shared table",
  "granularity: ticket sale",
  "threads: throughput",
  "threads: round trip",
  "threads: ringbuf.js workload",
  "processes: throughput",
  "processes: round trip",
  "pool: task throughput",
];

/** The rows grouped by question, in report order. */
export function byQuestion(rows: Row[]): [string, Row[]][] {
  const groups = new Map<string, Row[]>();
  for (const row of rows) groups.set(row.question, [...(groups.get(row.question) ?? []), row]);
  const rank = (question: string): number => {
    const index = ORDER.findIndex((prefix) => question.startsWith(prefix));
    return index < 0 ? ORDER.length : index;
  };
  return [...groups.entries()].sort(([a], [b]) => rank(a) - rank(b) || a.localeCompare(b));
}

function notes(row: Row): string {
  const parts: string[] = [];
  for (const [key, { median, min, max }] of Object.entries(row.extras)) {
    parts.push(
      key === "minBuyerShare"
        ? `smallest buyer share ${round(median * 100)}%`
        : key === "pairedSpeed"
        ? `paired with the baseline run before it: ${round(median)}× (${round(min)}..${round(max)})`
        : `${key} ${si(median)} (${si(min)}..${si(max)})`,
    );
  }
  if (row.note) parts.push(row.note);
  if (row.error) parts.push(`FAILED: ${row.error}`);
  return parts.join("; ");
}

const HEADER = ["workload", "mechanism", "median", "min .. max", "spread", "vs baseline", "notes"];

function cells(row: Row): string[] {
  if (row.error) return [row.workload, row.name, "-", "-", "-", "-", notes(row)];
  return [
    row.workload,
    row.name + (row.isBaseline ? " (baseline)" : ""),
    formatValue(row.median, row.metric, row.op),
    formatRange(row),
    `${Math.round(row.spread * 100)}%`,
    formatRatio(row.ratio),
    notes(row),
  ];
}

function caption(question: string, rows: Row[]): string {
  const better = rows[0].metric === "rate" ? "higher is better" : "lower is better";
  const used = [...new Set(rows.filter((row) => row.isBaseline).map((row) => row.name))];
  const stated = baselineRule(question);
  const baseline = used.length === 0 || used.every((name) => name.includes(stated))
    ? stated
    : stated.startsWith("the row")
    ? used.join(" / ")
    : `${used.join(" / ")} (${stated} was not measured)`;
  const samples = rows[0].samples || "?";
  return `median of ${samples} samples per row (${better}); "vs baseline" is speed ` +
    `relative to ${baseline} on the same workload (> 1× = faster)`;
}

/** Aligned plain-text tables for the terminal. */
export function textReport(rows: Row[], bars: BarResult[], skips: string[]): string {
  const out: string[] = [];
  for (const [question, group] of byQuestion(rows)) {
    const table = [HEADER, ...group.map(cells)];
    const widths = HEADER.map((_, column) => Math.max(...table.map((line) => line[column].length)));
    out.push("", `== ${question} ==`, caption(question, group));
    for (const [index, line] of table.entries()) {
      out.push(line.map((cell, column) => cell.padEnd(widths[column])).join("  ").trimEnd());
      if (index === 0) out.push(widths.map((width) => "-".repeat(width)).join("  "));
    }
  }
  out.push("", "== bars from the issues ==");
  for (const bar of bars) out.push(`${bar.label}: ${bar.detail}`);
  if (skips.length) out.push("", "== skipped ==", ...skips);
  return out.join("\n");
}

function escapeCell(text: string): string {
  return text.replaceAll("|", "\\|");
}

/** The Markdown report (tables, charts, bars, machine). */
export function markdownReport(
  rows: Row[],
  bars: BarResult[],
  skips: string[],
  machine: Machine,
  charts: Map<string, string>,
  meta: { date: string; quick: boolean; seconds: number; suites: string[] },
): string {
  const out = [
    `# Benchmark comparison`,
    "",
    `Run ${meta.date} with \`deno task bench${meta.quick ? " --quick" : ""}\` ` +
    `(${Math.round(meta.seconds)} s) on ${machine.cpu}, ${machine.cores} cores, ${machine.os}; ` +
    `Deno ${machine.deno}, V8 ${machine.v8}${machine.python ? `, ${machine.python}` : ""}.`,
    "",
    `Suites: ${meta.suites.map((suite) => `\`${suite}\``).join(", ")}. Each row is the median ` +
    `of several timed iterations after warm-up; every iteration checks what arrived ` +
    `(a bench that loses a message fails). Spread is (max − min) / median.`,
  ];
  for (const [question, group] of byQuestion(rows)) {
    out.push("", `## ${question}`, "", caption(question, group), "");
    const chart = charts.get(question);
    if (chart) out.push(`![${question}](${chart})`, "");
    out.push(`| ${HEADER.join(" | ")} |`, `|${HEADER.map(() => "---").join("|")}|`);
    for (const row of group) out.push(`| ${cells(row).map(escapeCell).join(" | ")} |`);
  }
  out.push("", "## Bars from the issues", "");
  for (const bar of bars) out.push(`- ${bar.label}: ${bar.detail}`);
  if (skips.length) out.push("", "## Skipped", "", ...skips.map((skip) => `- ${skip}`));
  return out.join("\n") + "\n";
}
