/**
 * `Pool` task throughput and worker start-up (issue 4, item 5).
 *
 * - "pool: task throughput": the module's `Pool` (2 workers) on the same
 *   workloads and batches as the peers in `bench/peers/pool.bench.ts`
 *   (piscina from npm, a plain postMessage pool): tiny tasks (`x + 1`) and
 *   1 ms CPU-bound tasks, all of a batch in flight, every result checked.
 *   Each task is one `pool.apply()` call, like one `piscina.run()`.
 *   Bar: tiny-task throughput ≥ 3× piscina's. Run both files in one go with
 *   `deno task bench --filter pool` to see them side by side.
 * - "pool: worker start-up": `WorkerProcess` start → exit of a no-op task,
 *   and `new Pool({ size: 2 })` → first result, against a bare web `Worker`
 *   → first message.
 *
 * Run: `deno bench -A bench/pool.bench.ts` (or through `bench/run.ts`).
 *
 * @module
 */

import { Pool } from "../workers/pool.ts";
import { WorkerProcess } from "../workers/worker_process.ts";
import { bench, QUICK } from "./_harness.ts";

const QUESTION = "pool: task throughput";
const THREADS = 2;
const TASKS = new URL("./_workers/pool_task.ts", import.meta.url);
const BATCH = { tiny: QUICK ? 1_000 : 4_000, "1ms": QUICK ? 20 : 60 } as const;
type Kind = keyof typeof BATCH;

const pool = new Pool({ module: TASKS, size: THREADS });
if ((await pool.apply("task", [{ kind: "tiny", x: 1 }])) !== 2) throw new Error("wrong result");

globalThis.addEventListener("unload", () => void pool.terminate());

async function runBatch(kind: Kind): Promise<void> {
  const n = BATCH[kind];
  const tasks: Promise<number>[] = new Array(n);
  for (let x = 0; x < n; x++) tasks[x] = pool.apply<number>("task", [{ kind, x }]);
  const results = await Promise.all(tasks);
  for (let x = 0; x < n; x++) {
    if (results[x] !== x + 1) throw new Error(`task ${x} returned ${results[x]}`);
  }
}

async function runMap(kind: Kind): Promise<void> {
  const n = BATCH[kind];
  const items = Array.from({ length: n }, (_, x) => ({ kind, x }));
  const results = await pool.map<number>("task", items);
  for (let x = 0; x < n; x++) {
    if (results[x] !== x + 1) throw new Error(`task ${x} returned ${results[x]}`);
  }
}

for (const kind of ["tiny", "1ms"] as const) {
  bench({
    question: QUESTION,
    name: `Pool (${THREADS} workers, apply)`,
    workload: kind,
    metric: "rate",
    op: "task",
    opsPerIter: BATCH[kind],
    fn: () => runBatch(kind),
  });
  bench({
    question: QUESTION,
    name: `Pool (${THREADS} workers, map)`,
    workload: kind,
    metric: "rate",
    op: "task",
    opsPerIter: BATCH[kind],
    fn: () => runMap(kind),
  });
}

// ------------------------------------------------------------------ start-up

const STARTUP = "pool: worker start-up";

bench({
  question: STARTUP,
  name: "new Worker (web) → first message",
  workload: "-",
  metric: "latency",
  op: "start",
  opsPerIter: 1,
  baseline: true,
  async fn(): Promise<void> {
    const worker = new Worker(new URL("./_workers/startup_echo.ts", import.meta.url), {
      type: "module",
    });
    await new Promise((resolve) => (worker.onmessage = resolve));
    worker.terminate();
  },
});

bench({
  question: STARTUP,
  name: "WorkerProcess start → exit (no-op task)",
  workload: "-",
  metric: "latency",
  op: "start",
  opsPerIter: 1,
  async fn(): Promise<void> {
    const worker = new WorkerProcess({ module: TASKS, fn: "noop" });
    worker.start();
    await worker.joinAsync();
    if (worker.exitCode !== 0) throw new Error(`exit code ${worker.exitCode}`);
  },
});

bench({
  question: STARTUP,
  name: `new Pool(${THREADS}) → first result, then close+join`,
  workload: "-",
  metric: "latency",
  op: "start",
  opsPerIter: 1,
  async fn(): Promise<void> {
    await using fresh = new Pool({ module: TASKS, size: THREADS });
    if ((await fresh.apply("task", [{ kind: "tiny", x: 1 }])) !== 2) {
      throw new Error("wrong result");
    }
  },
});
