/**
 * The comparison runner: `deno task bench` (`deno run -A bench/run.ts`).
 *
 * Runs every suite (`bench/*.bench.ts`, `bench/ipc/*.bench.ts`,
 * `bench/peers/*.bench.ts`; a suite that another suite imports runs inside
 * that one) as a `deno bench --json` subprocess, one after the other, and Python's multiprocessing peers (`bench/python/mp_bench.py`) when
 * `python3` is present; then prints one table per question with the median,
 * spread and ratio to the question's baseline (`postMessage` for threads,
 * Python's `multiprocessing.Queue` for processes), checks the issues' bars,
 * and writes `bench/results/latest.json`, `latest.md` and one SVG chart per
 * question.
 *
 * Suites report through `bench/_harness.ts` (per-sample lines on stderr);
 * a suite that does not is shown with `deno bench`'s own average per
 * iteration. A suite that fails or overruns its time limit (30 s quick, 120 s
 * full) is reported as failed, keeping the samples it streamed before.
 *
 * Flags: `--quick` (smaller batches, fewer samples: meant to finish in under
 * a minute on 2 cores), `--filter <text>` (only suites whose path contains
 * it), `--out <dir>` (default `bench/results`; use a scratch folder for dev
 * runs), `--no-python`.
 *
 * @module
 */

import { checkBars } from "./_runner/bars.ts";
import { describeMachine } from "./_runner/machine.ts";
import { byQuestion, markdownReport, textReport } from "./_runner/report.ts";
import { applyBaselines, type BenchStat, type Row, toRow } from "./_runner/stats.ts";
import { barChart, chartFileName } from "./_runner/svg.ts";

const args = Deno.args;
const QUICK = args.includes("--quick");
const FILTER = args.includes("--filter") ? args[args.indexOf("--filter") + 1] : undefined;
const NO_PYTHON = args.includes("--no-python");
const BENCH_DIR = new URL(".", import.meta.url);
const OUT_DIR = args.includes("--out")
  ? args[args.indexOf("--out") + 1]
  : filePath(new URL("results", BENCH_DIR));
/** A suite that runs longer than this is stopped and reported as timed out. */
const SUITE_TIMEOUT_S = QUICK ? 30 : 120;

/** A file URL as a path for the OS (decoded; no leading slash before a Windows drive). */
function filePath(url: URL): string {
  const path = decodeURIComponent(url.pathname);
  return Deno.build.os === "windows" ? path.replace(/^\/([A-Za-z]:)/, "$1") : path;
}

const started = performance.now();
const interactive = Deno.stderr.isTerminal();
const encoder = new TextEncoder();

function progress(text: string, done = false): void {
  const elapsed = ((performance.now() - started) / 1000).toFixed(1);
  const line = `[${elapsed.padStart(5)} s] ${text}`;
  if (interactive) {
    Deno.stderr.writeSync(encoder.encode(`\r\x1b[K${line.slice(0, 150)}${done ? "\n" : ""}`));
  } else if (done) {
    console.error(line);
  }
}

/** The suite files, as paths relative to `bench/`. */
async function findSuites(): Promise<string[]> {
  const suites: string[] = [];
  for (const folder of ["", "ipc/", "peers/"]) {
    try {
      for await (const entry of Deno.readDir(new URL(folder, BENCH_DIR))) {
        if (entry.isFile && entry.name.endsWith(".bench.ts")) suites.push(folder + entry.name);
      }
    } catch { /* folder absent */ }
  }
  // A suite that another suite imports (to measure side by side in one process) runs as part of it.
  const imported = new Set<string>();
  for (const suite of suites) {
    const source = await Deno.readTextFile(new URL(suite, BENCH_DIR));
    for (const match of source.matchAll(/^import\s+["'](\.{1,2}\/[^"']+\.bench\.ts)["']/gm)) {
      imported.add(new URL(match[1], new URL(suite, BENCH_DIR)).href.slice(BENCH_DIR.href.length));
    }
  }
  return suites.filter((suite) => !imported.has(suite))
    .sort((a, b) => a.split("/").length - b.split("/").length || a.localeCompare(b))
    .filter((suite) => !FILTER || suite.includes(FILTER));
}

interface SuiteResult {
  suite: string;
  ok: boolean;
  seconds: number;
  error?: string;
}

/** Reads a stream line by line. */
async function* lines(stream: ReadableStream<Uint8Array>): AsyncGenerator<string> {
  let rest = "";
  for await (const text of stream.pipeThrough(new TextDecoderStream())) {
    rest += text;
    let newline: number;
    while ((newline = rest.indexOf("\n")) >= 0) {
      yield rest.slice(0, newline);
      rest = rest.slice(newline + 1);
    }
  }
  if (rest) yield rest;
}

const rows: Row[] = [];
const skips: string[] = [];
const suiteResults: SuiteResult[] = [];

/** Runs one `deno bench --json` suite, collecting its BENCHSTAT/BENCHSKIP lines. */
async function runSuite(suite: string, index: number, total: number): Promise<void> {
  const suiteStart = performance.now();
  const label = `[${index}/${total}] ${suite}`;
  progress(`${label}: starting`);
  const child = new Deno.Command(Deno.execPath(), {
    args: ["bench", "-A", "--no-check", "--json", filePath(new URL(suite, BENCH_DIR))],
    env: { BENCH_QUICK: QUICK ? "1" : "0", BENCH_REPORT: "1", NO_COLOR: "1" },
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const timer = setTimeout(() => {
    try {
      child.kill("SIGKILL");
    } catch { /* already ended */ }
  }, SUITE_TIMEOUT_S * 1000);
  const stdoutText = new Response(child.stdout).text();
  const finished = new Map<number, BenchStat>(); // BENCHSTAT: complete, at exit
  const streamed = new Map<number, BenchStat>(); // BENCHRUN + BENCHSAMPLE/BENCHERROR as they come
  const errorLines: string[] = [];
  let current = "running";
  for await (const line of lines(child.stderr)) {
    const space = line.indexOf(" ");
    const kind = line.slice(0, space);
    if (!kind.startsWith("BENCH")) {
      if (line.trim()) errorLines.push(line);
      continue;
    }
    const data = JSON.parse(line.slice(space + 1));
    if (kind === "BENCHSTAT") finished.set(data.id, data);
    else if (kind === "BENCHSKIP") skips.push(`${data.question} / ${data.name}: ${data.reason}`);
    else if (kind === "BENCHRUN") {
      streamed.set(data.id, { ...data, samplesNs: [], extras: {} });
      current = `${data.question} / ${data.name}${
        data.workload === "-" ? "" : ` [${data.workload}]`
      }`;
      progress(`${label}: ${current}`);
    } else if (kind === "BENCHSAMPLE") {
      const stat = streamed.get(data.id);
      if (!stat) continue;
      stat.samplesNs.push(data.ns);
      for (const [key, value] of Object.entries(data.extras as Record<string, number>)) {
        (stat.extras![key] ??= []).push(value);
      }
      progress(`${label}: ${current} (${stat.samplesNs.length} samples)`);
    } else if (kind === "BENCHERROR") {
      const stat = streamed.get(data.id);
      if (stat) stat.error = data.error;
    }
  }
  const status = await child.status;
  clearTimeout(timer);
  const seconds = (performance.now() - suiteStart) / 1000;
  const json = await stdoutText;
  // deno bench prints the JSON report last on stdout (anything a bench logged comes before it).
  const report = json.slice(
    json.indexOf("\n{") >= 0 && !json.startsWith("{") ? json.indexOf("\n{") + 1 : 0,
  );
  let benches: {
    name: string;
    group?: string;
    results: { ok?: Record<string, number>; failed?: string }[];
  }[] = [];
  try {
    benches = JSON.parse(report).benches ?? [];
  } catch { /* no report: the suite crashed */ }
  // What the suite reported at exit, else what it streamed before it was stopped.
  const ids = [...new Set([...streamed.keys(), ...finished.keys()])].sort((a, b) => a - b);
  for (const id of ids) {
    const complete = finished.get(id);
    const stat = complete ?? streamed.get(id)!;
    if (!complete && stat.samplesNs.length === 0) {
      stat.error ??= "the suite stopped during this bench";
    }
    const row = toRow(stat, suite);
    if (!complete && stat.samplesNs.length) {
      row.note = "partial: the suite was stopped before this bench finished";
    }
    rows.push(row);
  }
  // Benches that do not use bench/_harness.ts: their plain deno bench figures.
  for (const bench of benches) {
    const known = [...finished.values(), ...streamed.values()].some((stat) =>
      bench.name === (stat.workload === "-" ? stat.name : `${stat.name} [${stat.workload}]`)
    );
    if (known) continue;
    const result = bench.results[0];
    const row = toRow({
      question: bench.group ?? suite.replace(/\.bench\.ts$/, ""),
      name: bench.name,
      workload: "-",
      metric: "latency",
      op: "iter",
      opsPerIter: 1,
      samplesNs: result?.ok ? [result.ok.min, result.ok.avg, result.ok.max] : [],
      error: result?.failed ? String(result.failed).split("\n")[0] : undefined,
    }, suite);
    if (result?.ok) {
      row.median = result.ok.avg;
      row.spread = (row.max - row.min) / row.median;
      row.samples = result.ok.n;
      row.note = "deno bench average per iteration (suite reports no per-op samples)";
    }
    rows.push(row);
  }
  const failedNames = benches.filter((bench) => bench.results[0]?.failed).map((bench) =>
    bench.name
  );
  const timedOut = seconds >= SUITE_TIMEOUT_S;
  const ok = status.success && !timedOut;
  const error = timedOut
    ? `timed out after ${SUITE_TIMEOUT_S} s`
    : !status.success
    ? `exit code ${status.code}${
      failedNames.length ? `; failed: ${failedNames.join(", ")}` : ""
    }: ${errorLines.filter((line) => !/^\s*(Check|Download)/.test(line)).slice(-3).join(" | ")}`
    : undefined;
  suiteResults.push({ suite, ok, seconds, error });
  progress(`${label}: ${ok ? "done" : `FAILED (${error})`} in ${seconds.toFixed(1)} s`, true);
}

/** Runs Python's multiprocessing peers, if python3 is present. */
async function runPython(): Promise<void> {
  const script = filePath(new URL("python/mp_bench.py", BENCH_DIR));
  const suiteStart = performance.now();
  progress("python3 bench/python/mp_bench.py: starting");
  let output: Deno.CommandOutput;
  try {
    const child = new Deno.Command("python3", {
      args: [script, ...(QUICK ? ["--quick"] : [])],
      stdout: "piped",
      stderr: "piped",
    }).spawn();
    const timer = setTimeout(() => {
      try {
        child.kill("SIGKILL");
      } catch { /* ended */ }
    }, SUITE_TIMEOUT_S * 1000);
    output = await child.output();
    clearTimeout(timer);
  } catch (error) {
    const reason = error instanceof Deno.errors.NotFound
      ? "python3 not found: Python multiprocessing peers skipped (processes tables have no Python baseline)"
      : `python3 could not start: ${error}`;
    skips.push(reason);
    progress(reason, true);
    return;
  }
  const text = new TextDecoder().decode(output.stdout);
  for (const line of text.split("\n")) {
    if (line.startsWith("{")) rows.push(toRow(JSON.parse(line), "python/mp_bench.py"));
  }
  const seconds = (performance.now() - suiteStart) / 1000;
  const error = output.success
    ? undefined
    : `exit code ${output.code}: ${
      new TextDecoder().decode(output.stderr).trim().split("\n").slice(-2).join(" | ")
    }`;
  suiteResults.push({ suite: "python/mp_bench.py", ok: output.success, seconds, error });
  progress(
    `python3 bench/python/mp_bench.py: ${error ? `FAILED (${error})` : "done"} in ${
      seconds.toFixed(1)
    } s`,
    true,
  );
}

// ----------------------------------------------------------------------- main

const machine = await describeMachine();
console.log(
  `concur/shm benchmark comparison${QUICK ? " (quick)" : ""}\n` +
    `machine: ${machine.cpu}, ${machine.cores} cores${
      machine.memoryGiB ? `, ${machine.memoryGiB} GiB` : ""
    }, ${machine.os}\n` +
    `runtime: Deno ${machine.deno}, V8 ${machine.v8}, TypeScript ${machine.typescript}${
      machine.python ? `; ${machine.python}` : "; python3 absent"
    }`,
);
const suites = await findSuites();
const total = suites.length + (NO_PYTHON ? 0 : 1);
for (const [index, suite] of suites.entries()) await runSuite(suite, index + 1, total);
if (!NO_PYTHON && (!FILTER || "python".includes(FILTER))) await runPython();
else if (NO_PYTHON) skips.push("Python peers skipped (--no-python)");

// Two suites may measure a mechanism under the same name (e.g. a Unix socket
// beside a cross-process Queue): tell them apart by their suite.
const seen = new Map<string, Row[]>();
for (const row of rows) {
  const key = `${row.question}\u0000${row.workload}\u0000${row.name}`;
  seen.set(key, [...(seen.get(key) ?? []), row]);
}
for (const same of seen.values()) {
  if (same.length > 1) { for (const row of same) row.name += ` (${row.source})`; }
}
applyBaselines(rows);
const bars = checkBars(rows);
const seconds = (performance.now() - started) / 1000;
console.log(textReport(rows, bars, skips));
const failed = suiteResults.filter((result) => !result.ok);
if (failed.length) {
  console.log("\n== failed suites ==");
  for (const result of failed) console.log(`${result.suite}: ${result.error}`);
}

// ------------------------------------------------------------------ outputs

const date = new Date().toISOString();
await Deno.mkdir(OUT_DIR, { recursive: true });
for await (const entry of Deno.readDir(OUT_DIR)) {
  if (entry.name.endsWith(".svg")) await Deno.remove(`${OUT_DIR}/${entry.name}`); // stale charts
}
const charts = new Map<string, string>();
const subtitle = `${
  date.slice(0, 16).replace("T", " ")
} UTC, ${machine.cpu}, ${machine.cores} cores, Deno ${machine.deno}`;
for (const [question, group] of byQuestion(rows)) {
  const file = chartFileName(question);
  await Deno.writeTextFile(`${OUT_DIR}/${file}`, barChart(question, group, subtitle));
  charts.set(question, file);
}
await Deno.writeTextFile(
  `${OUT_DIR}/latest.json`,
  JSON.stringify(
    { date, quick: QUICK, seconds, machine, suites: suiteResults, skipped: skips, bars, rows },
    null,
    2,
  ) +
    "\n",
);
await Deno.writeTextFile(
  `${OUT_DIR}/latest.md`,
  markdownReport(rows, bars, skips, machine, charts, {
    date,
    quick: QUICK,
    seconds,
    suites: suiteResults.map((result) => result.suite),
  }),
);
console.log(
  `\nwrote ${OUT_DIR}/latest.json, latest.md and ${charts.size} charts; total ${
    seconds.toFixed(1)
  } s`,
);
if (failed.length) Deno.exitCode = 1;
