/**
 * The small harness every suite in `bench/` uses on top of `Deno.bench`.
 *
 * `deno bench` prints its own table (with `group` + `baseline` ratios) and
 * `--json` gives per-bench statistics in ns, but it has no median and knows
 * nothing about what one iteration contains (2 workers × 100,000 lock-ops,
 * 20,000 messages...). So each bench registered here also times every
 * iteration itself and writes report lines to stderr as it goes:
 *
 *     BENCHRUN {"id":3, "question":..., "name":..., "workload":..., "opsPerIter":..., ...}
 *     BENCHSAMPLE {"id":3, "ns":1234567, "extras":{"handoffs":12}}
 *     BENCHERROR {"id":3, "error":"..."}
 *     BENCHSTAT {"id":3, ..., "samplesNs":[...], "extras":{...}}   (all of it, at exit)
 *
 * `bench/run.ts` reads those lines to compute medians, spreads and ratios;
 * run by hand, `deno bench bench/x.bench.ts` simply prints the usual table.
 *
 * Rules every suite follows: workers and processes are started outside
 * `Deno.bench` (top-level await), each iteration does a fixed batch of work
 * that starts from a shared go-signal, and the iteration checks exactly what
 * arrived (counts, sums, sequence numbers) and throws if anything is wrong, so
 * a bench that loses messages fails instead of winning.
 *
 * Environment: `BENCH_QUICK=1` selects smaller batches and fewer samples
 * (what `deno task bench --quick` sets); `BENCH_REPORT=1` (set by the
 * runner) turns the report lines on, so a hand run prints only the table.
 *
 * @module
 */

/** Whether the quick mode was requested (smaller batches, fewer samples). */
export const QUICK: boolean = readEnv("BENCH_QUICK") === "1";
/** Whether `bench/run.ts` is listening for report lines (`BENCH_REPORT=1`). */
const REPORT: boolean = readEnv("BENCH_REPORT") === "1";

function readEnv(name: string): string | undefined {
  try {
    return Deno.env.get(name);
  } catch {
    return undefined; // no --allow-env: full mode
  }
}

/** How the runner shows a bench: a rate (higher is better) or a time per op (lower is better). */
export type Metric = "rate" | "latency";

/** What one registered bench measures. */
export interface BenchSpec {
  /** The table this row belongs to (one table and one chart per question). */
  question: string;
  /** The mechanism, e.g. `postMessage` or `Mutex`. Unique within a question and workload. */
  name: string;
  /** The message type or case (`int4`, `b64`, `json`, `b64k`, `-`). */
  workload: string;
  /** `rate`: opsPerIter / time; `latency`: time / opsPerIter. */
  metric: Metric;
  /** What one op is, for units: `msg`, `lock-op`, `rtt`, `task`, `op`. */
  op: string;
  /** Ops done by one iteration. */
  opsPerIter: number;
  /** The baseline of its `deno bench` group (and of the runner's table, unless it says otherwise). */
  baseline?: boolean;
  /** Timed iterations (default: 5, quick: 3). */
  samples?: number;
  /** Untimed warm-up iterations (default: 2, quick: 1). */
  warmup?: number;
  /**
   * One iteration. May return numbers to report beside the time (e.g.
   * `handoffs`), and `timedNs` to report its own time when part of the
   * iteration is an untimed reference run.
   */
  fn: () => void | Record<string, number> | Promise<void | Record<string, number>>;
}

interface Recorded {
  spec: BenchSpec;
  warmup: number;
  calls: number;
  samplesNs: number[];
  extras: Record<string, number[]>;
  error?: string;
}

const recorded: Recorded[] = [];
const encoder = new TextEncoder();

/**
 * Writes one report line to stderr directly: `deno bench --json` swallows
 * console output made while a bench runs, and streaming each sample as it is
 * taken keeps what was measured even if the suite is stopped or crashes.
 */
function emit(kind: string, payload: unknown): void {
  if (REPORT) Deno.stderr.writeSync(encoder.encode(`${kind} ${JSON.stringify(payload)}\n`));
}

/**
 * Registers a bench with `Deno.bench` (group = `question/workload`) and
 * records its iteration times for the runner.
 */
export function bench(spec: BenchSpec): void {
  const samples = spec.samples ?? (QUICK ? 3 : 5);
  const warmup = spec.warmup ?? (QUICK ? 1 : 2);
  const id = recorded.length;
  const record: Recorded = { spec, warmup, calls: 0, samplesNs: [], extras: {} };
  recorded.push(record);
  const { fn: _fn, ...meta } = spec;
  Deno.bench({
    name: spec.workload === "-" ? spec.name : `${spec.name} [${spec.workload}]`,
    group: spec.workload === "-" ? spec.question : `${spec.question} [${spec.workload}]`,
    baseline: spec.baseline ?? false,
    n: samples,
    warmup,
    async fn(): Promise<void> {
      if (record.calls === 0) emit("BENCHRUN", { id, ...meta });
      const started = performance.now();
      let extras: void | Record<string, number>;
      try {
        extras = await spec.fn();
      } catch (error) {
        record.error = String(error instanceof Error ? error.message : error);
        emit("BENCHERROR", { id, error: record.error });
        throw error;
      }
      // A bench that does untimed work in its iteration (a paired reference run) reports its own time.
      const { timedNs, ...rest } = extras ?? {};
      extras = rest;
      const elapsedNs = timedNs ?? (performance.now() - started) * 1e6;
      record.calls++;
      if (record.calls <= warmup) return;
      record.samplesNs.push(elapsedNs);
      emit("BENCHSAMPLE", { id, ns: elapsedNs, extras: extras ?? {} });
      if (extras) {
        for (const [key, value] of Object.entries(extras)) {
          (record.extras[key] ??= []).push(value);
        }
      }
    },
  });
}

/** Reports a mechanism that could not run here (shown in the runner's table as skipped). */
export function skipped(question: string, name: string, reason: string): void {
  if (REPORT) emit("BENCHSKIP", { question, name, reason });
  else console.error(`skipped: ${question} / ${name}: ${reason}`);
}

globalThis.addEventListener("unload", () => {
  for (const [id, { spec, samplesNs, extras, error }] of recorded.entries()) {
    const { fn: _fn, ...meta } = spec;
    emit("BENCHSTAT", { id, ...meta, samplesNs, extras, error });
  }
});

/**
 * Starts a module worker, posts it `init` and waits for its first message
 * (its "ready"); the worker is added to `workers` (for the suite's clean-up)
 * before it can fail.
 */
export async function startReadyWorker(
  workers: Worker[],
  url: URL,
  init: unknown,
  label: string,
): Promise<Worker> {
  const worker = new Worker(url, { type: "module" });
  workers.push(worker);
  await new Promise<void>((resolve, reject) => {
    worker.onmessage = () => resolve();
    worker.onerror = (event) => {
      event.preventDefault();
      reject(new Error(`${label} failed: ${event.message}`));
    };
    worker.postMessage(init);
  });
  return worker;
}

/** Cells of a control block that starts a round of work in workers (see {@linkcode runRound}). */
export interface RoundCells {
  /** Generation counter: bumped and notified to start a round. */
  go: number;
  /** Each party adds 1 when it is done. */
  done: number;
  /** 0, or what went wrong (set by the parties). */
  error: number;
}

/**
 * Starts one round in the workers that wait on `cells.go` and waits
 * (without blocking the event loop) until `parties` of them report done;
 * returns the error cell (0: fine). The round's own parameters are stored
 * in `control` before the call.
 */
export async function runRound(
  control: Int32Array,
  cells: RoundCells,
  parties: number,
  timeoutMs: number,
): Promise<number> {
  Atomics.store(control, cells.error, 0);
  Atomics.store(control, cells.done, 0);
  Atomics.add(control, cells.go, 1);
  Atomics.notify(control, cells.go);
  for (let done = 0; done < parties; done = Atomics.load(control, cells.done)) {
    const wait = Atomics.waitAsync(control, cells.done, done, timeoutMs);
    if (wait.async) await wait.value;
  }
  return Atomics.load(control, cells.error);
}

/** Deterministic 32-bit xorshift generator (for reproducible workloads). */
export function xorshift(seed: number): () => number {
  let x = seed | 0 || 0x9e3779b9;
  return (): number => {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    return x >>> 0;
  };
}
