/**
 * Locks: what `Mutex` costs against bare `Atomics` (issue 2, item 5).
 *
 * - uncontended: `lock()` + `unlock()` on the main thread against a bare
 *   `Atomics.compareExchange` pair (0 → 1, 1 → 0) on an `Int32Array`.
 *   Bar: the Mutex costs at most 2× the pair.
 * - contended: 2 workers each increment a plain shared counter `batch` times
 *   under `Mutex`, under a bare three-state futex lock written inline in the
 *   worker (`_workers/lock_worker.ts`), and with `Atomics.add` (no lock).
 *   Bar: the Mutex reaches at least 70% of the bare futex lock's throughput.
 *
 * Each Mutex iteration is paired with a reference run (CAS pairs, or the bare
 * futex lock) just before it, untimed; the median of these paired speed
 * ratios (`pairedSpeed`) is what the runner checks the bars against, since
 * load from other processes drifts between separately measured benches.
 *   Each lock also reports its handoffs (how often the lock passed from one
 *   worker to the other): an unfair lock wins raw throughput.
 *
 * Run: `deno bench -A bench/locks.bench.ts` (or through `bench/run.ts`).
 *
 * @module
 */

import { Mutex } from "../primitives/mutex.ts";
import { bench, QUICK, startReadyWorker } from "./_harness.ts";
import { LOCK } from "./_workers/lock_layout.ts";

const UNCONTENDED_BATCH = QUICK ? 100_000 : 200_000;
const CONTENDED_BATCH = QUICK ? 100_000 : 250_000;
/** More samples than usual: how often the lock changes hands swings with the machine's load. */
const CONTENDED_SAMPLES = QUICK ? 5 : 9;

// ---------------------------------------------------------------- uncontended

const pair = new Int32Array(new SharedArrayBuffer(64));
const mutex = new Mutex();

function casPairs(): void {
  for (let i = 0; i < UNCONTENDED_BATCH; i++) {
    if (Atomics.compareExchange(pair, 0, 0, 1) !== 0) throw new Error("CAS lock failed");
    if (Atomics.compareExchange(pair, 0, 1, 0) !== 1) throw new Error("CAS unlock failed");
  }
}

/** Runs `reference` then `subject`; returns the subject's time and its speed relative to the reference. */
function paired(
  reference: () => unknown,
  subject: () => Record<string, number> | void,
): Record<string, number> {
  const t0 = performance.now();
  reference();
  const t1 = performance.now();
  const extras = subject() ?? {};
  const t2 = performance.now();
  return { ...extras, timedNs: (t2 - t1) * 1e6, pairedSpeed: (t1 - t0) / (t2 - t1) };
}

bench({
  question: "locks: uncontended lock+unlock",
  name: "Atomics.compareExchange pair",
  workload: "-",
  metric: "latency",
  op: "lock-op",
  opsPerIter: UNCONTENDED_BATCH,
  baseline: true,
  samples: 10, // cheap (a few ms each), and a preempted sample is common on a shared machine
  fn: casPairs,
});

bench({
  question: "locks: uncontended lock+unlock",
  name: "Mutex",
  workload: "-",
  metric: "latency",
  op: "lock-op",
  opsPerIter: UNCONTENDED_BATCH,
  samples: 10,
  // Each iteration also runs the CAS pairs just before (untimed): the paired
  // speed ratio is robust to load changing on a shared machine.
  fn: () =>
    paired(casPairs, () => {
      for (let i = 0; i < UNCONTENDED_BATCH; i++) {
        mutex.lock();
        mutex.unlock();
      }
      if (mutex.locked()) throw new Error("mutex left locked");
    }),
});

// ------------------------------------------------------------------ contended

const { GO, READY, DONE, MODE, BATCH, FUTEX, COUNTER, LAST, HANDOFFS, ATOMIC, SIZE } = LOCK;
const cells = new Int32Array(new SharedArrayBuffer(SIZE * 4));
const sharedMutex = new Mutex();
const workers: Worker[] = [];
for (let id = 0; id < 2; id++) {
  await startReadyWorker(
    workers,
    new URL("./_workers/lock_worker.ts", import.meta.url),
    { cells, mutexHandle: sharedMutex.handle, id },
    "lock worker",
  );
}

globalThis.addEventListener("unload", () => {
  Atomics.store(cells, GO, -1);
  Atomics.notify(cells, GO);
  for (const worker of workers) worker.terminate();
});

/** One contended iteration: both workers run `batch` increments; returns handoffs. */
function contended(mode: 1 | 2 | 3, batch: number): Record<string, number> {
  cells[COUNTER] = 0;
  cells[LAST] = 0;
  Atomics.store(cells, ATOMIC, 0);
  Atomics.store(cells, FUTEX, 0);
  Atomics.store(cells, READY, 0);
  Atomics.store(cells, DONE, 0);
  Atomics.store(cells, MODE, mode);
  Atomics.store(cells, BATCH, batch);
  Atomics.add(cells, GO, 1);
  Atomics.notify(cells, GO);
  for (let done = Atomics.load(cells, DONE); done < 2; done = Atomics.load(cells, DONE)) {
    if (Atomics.wait(cells, DONE, done, 30_000) === "timed-out") {
      throw new Error("lock workers did not finish within 30 s");
    }
  }
  const expected = 2 * batch;
  const got = mode === 3 ? Atomics.load(cells, ATOMIC) : cells[COUNTER];
  if (got !== expected) throw new Error(`counter is ${got}, expected ${expected}`);
  if (mode !== 3 && sharedMutex.locked()) throw new Error("mutex left locked");
  return mode === 3 ? {} : { handoffs: cells[HANDOFFS] + cells[HANDOFFS + 1] };
}

bench({
  question: "locks: 2-worker contended counter",
  name: "bare futex lock (inline, Drepper)",
  workload: "-",
  metric: "rate",
  op: "lock-op",
  opsPerIter: 2 * CONTENDED_BATCH,
  samples: CONTENDED_SAMPLES,
  baseline: true,
  fn: () => contended(2, CONTENDED_BATCH),
});

bench({
  question: "locks: 2-worker contended counter",
  name: "Mutex",
  workload: "-",
  metric: "rate",
  op: "lock-op",
  opsPerIter: 2 * CONTENDED_BATCH,
  samples: CONTENDED_SAMPLES,
  // Paired with a bare futex lock run just before it (untimed), as above.
  fn: () => paired(() => contended(2, CONTENDED_BATCH), () => contended(1, CONTENDED_BATCH)),
});

bench({
  question: "locks: 2-worker contended counter",
  name: "Atomics.add (no lock)",
  workload: "-",
  metric: "rate",
  op: "lock-op",
  opsPerIter: 2 * CONTENDED_BATCH,
  samples: CONTENDED_SAMPLES,
  fn: () => contended(3, CONTENDED_BATCH),
});
