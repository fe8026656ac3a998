/**
 * Peers for worker pools (issue 4): piscina 5.3.2 (npm, run through Deno's
 * Node compatibility) and a plain postMessage pool (one message per task and
 * per result, round-robin), both with 2 threads, on tiny tasks (`x + 1`) and
 * on 1 ms CPU-bound tasks. Each iteration submits a batch with all tasks in
 * flight and checks every result. The module's own `Pool` belongs in
 * `bench/pool.bench.ts` under the same question name.
 *
 * If piscina does not load or run under Deno, its rows are reported as
 * skipped with the error.
 *
 * Run: `deno bench -A bench/peers/pool.bench.ts` (or through `bench/run.ts`).
 *
 * @module
 */

import { bench, QUICK, skipped } from "../_harness.ts";

const QUESTION = "pool: task throughput";
const THREADS = 2;
const TASK_URL = new URL("./_piscina_task.mjs", import.meta.url);
const BATCH = { tiny: QUICK ? 1_000 : 4_000, "1ms": QUICK ? 20 : 60 } as const;
type Kind = keyof typeof BATCH;

// ------------------------------------------------------------- piscina (npm)

interface PiscinaLike {
  run(task: unknown): Promise<number>;
  destroy(): Promise<void>;
}
let piscina: PiscinaLike | undefined;
try {
  // deno-lint-ignore no-import-prefix -- bench-only peer, kept out of deno.json's imports
  const { Piscina } = await import("npm:piscina@5.3.2");
  piscina = new Piscina({
    filename: TASK_URL.href,
    minThreads: THREADS,
    maxThreads: THREADS,
  }) as unknown as PiscinaLike;
  if ((await piscina.run({ kind: "tiny", x: 1 })) !== 2) throw new Error("wrong result");
} catch (error) {
  piscina = undefined;
  skipped(QUESTION, "piscina", `does not run under Deno here: ${error}`);
}

// --------------------------------------------------- plain postMessage pool

class PostMessagePool {
  readonly #workers: Worker[] = [];
  readonly #pending = new Map<number, (value: number) => void>();
  #next = 0;
  constructor(size: number) {
    for (let i = 0; i < size; i++) {
      const worker = new Worker(new URL("./_pm_pool_worker.ts", import.meta.url), {
        type: "module",
      });
      worker.onmessage = (event) => {
        const { id, value } = event.data as { id: number; value: number };
        const resolve = this.#pending.get(id);
        this.#pending.delete(id);
        resolve?.(value);
      };
      this.#workers.push(worker);
    }
  }
  run(task: { kind: Kind; x: number }): Promise<number> {
    const id = this.#next++;
    return new Promise((resolve) => {
      this.#pending.set(id, resolve);
      this.#workers[id % this.#workers.length].postMessage({ id, ...task });
    });
  }
  terminate(): void {
    for (const worker of this.#workers) worker.terminate();
  }
}

const plain = new PostMessagePool(THREADS);
await plain.run({ kind: "tiny", x: 0 });

globalThis.addEventListener("unload", () => {
  plain.terminate();
  void piscina?.destroy();
});

async function runBatch(
  pool: { run(task: { kind: Kind; x: number }): Promise<number> },
  kind: Kind,
): Promise<void> {
  const n = BATCH[kind];
  const results = await Promise.all(
    Array.from({ length: n }, (_, x) => pool.run({ kind, x })),
  );
  for (let x = 0; x < n; x++) {
    if (results[x] !== x + 1) throw new Error(`task ${x} returned ${results[x]}`);
  }
}

for (const kind of ["tiny", "1ms"] as const) {
  if (piscina) {
    const pool = piscina;
    bench({
      question: QUESTION,
      name: `piscina (npm, ${THREADS} threads)`,
      workload: kind,
      metric: "rate",
      op: "task",
      opsPerIter: BATCH[kind],
      baseline: true,
      fn: () => runBatch(pool, kind),
    });
  }
  bench({
    question: QUESTION,
    name: `postMessage pool (${THREADS} workers)`,
    workload: kind,
    metric: "rate",
    op: "task",
    opsPerIter: BATCH[kind],
    baseline: !piscina,
    fn: () => runBatch(plain, kind),
  });
}
