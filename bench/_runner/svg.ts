/**
 * One horizontal bar chart per question, as a self-contained SVG written by
 * hand (no dependencies): a bar per mechanism at its median, grouped by
 * workload, with a whisker from the fastest to the slowest sample, the value
 * and the ratio to the baseline printed beside it. The scale is logarithmic
 * when the values of a chart span more than 20×, linear from zero otherwise.
 *
 * @module
 */

import { formatRatio, formatValue, type Row, si } from "./stats.ts";

const WIDTH = 980;
const LABEL = 310;
const PLOT = 430;
const ROW = 22;
const TOP = 62;

function escape(text: string): string {
  return text.replaceAll("&", "&amp;").replaceAll("<", "&lt;").replaceAll(">", "&gt;")
    .replaceAll('"', "&quot;");
}

/** Tick values for the axis. */
function ticks(low: number, high: number, log: boolean): number[] {
  if (log) {
    const out: number[] = [];
    for (
      let exponent = Math.floor(Math.log10(low));
      exponent <= Math.ceil(Math.log10(high));
      exponent++
    ) {
      out.push(10 ** exponent);
    }
    return out;
  }
  const step = 10 ** Math.floor(Math.log10(high / 4));
  const nice = [1, 2, 5, 10].map((factor) => factor * step).find((size) => high / size <= 6)!;
  const out: number[] = [];
  for (let value = 0; value <= high * 1.0001; value += nice) out.push(value);
  return out;
}

/** Axis numbers without trailing zeros (`1k`, `2.5M`). */
function compact(value: number): string {
  return si(value).replace(/\.0+(?=[kMG]?$)|(\.\d*?)0+(?=[kMG]?$)/, "$1");
}

/** Renders the chart of one question. */
export function barChart(question: string, rows: Row[], subtitle: string): string {
  const measured = rows.filter((row) => !row.error && row.median > 0);
  const metric = rows[0].metric;
  const values = measured.flatMap((row) => [row.min, row.max, row.median]).filter((v) => v > 0);
  const low = values.length ? Math.min(...values) : 1;
  const high = values.length ? Math.max(...values) : 1;
  const log = high / low > 20;
  const axis = ticks(log ? low : 0, high, log);
  const axisLow = log ? axis[0] : 0;
  const axisHigh = axis[axis.length - 1];
  const x = (value: number): number => {
    const fraction = log
      ? (Math.log10(value) - Math.log10(axisLow)) / (Math.log10(axisHigh) - Math.log10(axisLow))
      : value / axisHigh;
    return LABEL + Math.max(0, Math.min(1, fraction)) * PLOT;
  };

  const workloads = [...new Set(rows.map((row) => row.workload))];
  const showWorkload = workloads.length > 1 || workloads[0] !== "-";
  const body: string[] = [];
  let y = TOP;
  for (const workload of workloads) {
    if (showWorkload) {
      body.push(`<text x="8" y="${y + 15}" class="group">${escape(workload)}</text>`);
      y += ROW;
    }
    for (const row of rows.filter((entry) => entry.workload === workload)) {
      const label = escape(row.name + (row.isBaseline ? " (baseline)" : ""));
      body.push(`<text x="${LABEL - 8}" y="${y + 15}" class="label">${label}</text>`);
      if (row.error || row.median <= 0) {
        body.push(
          `<text x="${LABEL + 4}" y="${y + 15}" class="fail">failed: ${
            escape(row.error ?? "")
          }</text>`,
        );
      } else {
        const end = x(row.median);
        const fill = row.isBaseline ? "#9aa5b1" : "#3b82f6";
        body.push(
          `<rect x="${LABEL}" y="${y + 4}" width="${(end - LABEL).toFixed(1)}" height="${
            ROW - 8
          }" fill="${fill}"><title>${
            escape(`${row.name} [${row.workload}]: ${formatValue(row.median, row.metric, row.op)}`)
          }</title></rect>`,
          `<line x1="${x(row.min).toFixed(1)}" x2="${x(row.max).toFixed(1)}" y1="${
            y + ROW / 2
          }" y2="${y + ROW / 2}" class="whisker"/>`,
          `<line x1="${x(row.min).toFixed(1)}" x2="${x(row.min).toFixed(1)}" y1="${y + 7}" y2="${
            y + ROW - 7
          }" class="whisker"/>`,
          `<line x1="${x(row.max).toFixed(1)}" x2="${x(row.max).toFixed(1)}" y1="${y + 7}" y2="${
            y + ROW - 7
          }" class="whisker"/>`,
          `<text x="${LABEL + PLOT + 10}" y="${y + 15}" class="value">${
            escape(formatValue(row.median, row.metric, row.op))
          }${
            row.ratio !== undefined && !row.isBaseline ? ` · ${escape(formatRatio(row.ratio))}` : ""
          }</text>`,
        );
      }
      y += ROW;
    }
  }
  const bottom = y + 6;
  const grid = axis.map((tick) => {
    const position = x(tick).toFixed(1);
    const text = metric === "rate"
      ? compact(tick)
      : formatValue(tick, metric, "op").split("/")[0].replace(/\.0+(?= )/, "");
    return `<line x1="${position}" x2="${position}" y1="${TOP - 4}" y2="${bottom}" class="grid"/>` +
      `<text x="${position}" y="${bottom + 14}" class="tick">${escape(text)}</text>`;
  });
  const height = bottom + 40;
  const unit = metric === "rate"
    ? `${rows[0].op}/s, higher is better`
    : `time per ${rows[0].op}, lower is better`;
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${WIDTH}" height="${height}" viewBox="0 0 ${WIDTH} ${height}" font-family="system-ui, -apple-system, Segoe UI, sans-serif" font-size="12">
<style>
.title{font-size:16px;font-weight:600;fill:#111}.sub{fill:#555}.label{text-anchor:end;fill:#222}
.group{font-weight:600;fill:#333}.value{fill:#222}.fail{fill:#c0262d}.tick{text-anchor:middle;fill:#666;font-size:11px}
.grid{stroke:#e3e6ea}.whisker{stroke:#111;stroke-width:1}
</style>
<rect width="100%" height="100%" fill="#fff"/>
<text x="8" y="22" class="title">${escape(question)}</text>
<text x="8" y="42" class="sub">${
    escape(
      `${unit}; ${log ? "log" : "linear"} scale; bar = median, whisker = min..max; ${subtitle}`,
    )
  }</text>
${grid.join("\n")}
${body.join("\n")}
</svg>
`;
}

/** A file name for a question's chart. */
export function chartFileName(question: string): string {
  return question.toLowerCase().replace(/[^a-z0-9]+/g, "-").replace(/^-|-$/g, "") + ".svg";
}
