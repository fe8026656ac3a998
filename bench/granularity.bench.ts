/**
 * Lock granularity (issue 6): what the choice of lock costs, everything else equal.
 *
 * Shared table: 4 workers each apply `batch` increments to random buckets
 * (a fixed xorshift sequence per worker, so the exact final table is known
 * and checked) of a 64-bucket `Int32Array` table, one bucket per cache line:
 * - one coarse lock around each worker's whole batch (baseline),
 * - one lock taken around every single operation,
 * - striped locks (one `Mutex` per bucket),
 * - lock-free `Atomics.add`, and the same on a dense table (16 buckets per
 *   cache line) to show what false sharing adds.
 *
 * Ticket sale: 4 buyers sell a fixed stock of tickets; each purchase needs
 * some private preparation (a few µs of work) and then takes the next ticket.
 * With the lock around the whole task the preparation is serialised; with the
 * lock only around the purchase it runs in parallel. Both must sell every
 * ticket exactly once (checked).
 *
 * Run: `deno bench -A bench/granularity.bench.ts` (or through `bench/run.ts`).
 *
 * @module
 */

import { Mutex } from "../primitives/mutex.ts";
import { bench, QUICK, startReadyWorker, xorshift } from "./_harness.ts";
import { GRAN } from "./_workers/granularity_layout.ts";

const WORKER_COUNT = 4;
const BUCKET_COUNT = 64;
const BATCH = QUICK ? 20_000 : 50_000;
const TICKET_COUNT = QUICK ? 2_000 : 5_000;
const WORK_ROUNDS = 2_000;

const {
  GO,
  READY,
  DONE,
  MODE,
  BATCH: BATCH_CELL,
  WORKERS,
  BUCKETS,
  WORK,
  TICKETS,
  REMAINING,
  STRIDE,
} = GRAN;
/** One bucket per 64-byte cache line, so that only the locking differs between modes. */
const PADDED = 16;
const control = new Int32Array(new SharedArrayBuffer(GRAN.SIZE * 4));
const table = new Int32Array(new SharedArrayBuffer(BUCKET_COUNT * PADDED * 4));
const owners = new Int32Array(new SharedArrayBuffer(TICKET_COUNT * 4));
const coarse = new Mutex();
const stripes = Array.from({ length: BUCKET_COUNT }, () => new Mutex());

// The exact table every table mode must end with.
const expected = new Int32Array(BUCKET_COUNT);
for (let id = 0; id < WORKER_COUNT; id++) {
  const random = xorshift(id + 1);
  for (let i = 0; i < BATCH; i++) expected[random() % BUCKET_COUNT]++;
}

const workers: Worker[] = [];
for (let id = 0; id < WORKER_COUNT; id++) {
  await startReadyWorker(
    workers,
    new URL("./_workers/granularity_worker.ts", import.meta.url),
    {
      id,
      control,
      table,
      owners,
      coarse: coarse.handle,
      stripes: stripes.map((mutex) => mutex.handle),
    },
    "granularity worker",
  );
}

globalThis.addEventListener("unload", () => {
  Atomics.store(control, GO, -1);
  Atomics.notify(control, GO);
  for (const worker of workers) worker.terminate();
});

function runIteration(mode: number, stride = PADDED): void {
  table.fill(0);
  Atomics.store(control, STRIDE, stride);
  owners.fill(0);
  control[REMAINING] = TICKET_COUNT;
  Atomics.store(control, TICKETS, TICKET_COUNT);
  Atomics.store(control, WORK, WORK_ROUNDS);
  Atomics.store(control, WORKERS, WORKER_COUNT);
  Atomics.store(control, BUCKETS, BUCKET_COUNT);
  Atomics.store(control, BATCH_CELL, BATCH);
  Atomics.store(control, MODE, mode);
  Atomics.store(control, READY, 0);
  Atomics.store(control, DONE, 0);
  Atomics.add(control, GO, 1);
  Atomics.notify(control, GO);
  for (let done = 0; done < WORKER_COUNT; done = Atomics.load(control, DONE)) {
    if (Atomics.wait(control, DONE, done, 60_000) === "timed-out") {
      throw new Error("granularity workers did not finish within 60 s");
    }
  }
  if (coarse.locked()) throw new Error("coarse lock left locked");
}

function checkTable(stride = PADDED): void {
  for (let bucket = 0; bucket < BUCKET_COUNT; bucket++) {
    const value = table[bucket * stride];
    if (value !== expected[bucket]) {
      throw new Error(`bucket ${bucket} is ${value}, expected ${expected[bucket]}`);
    }
  }
}

function checkTickets(): Record<string, number> {
  if (control[REMAINING] !== 0) throw new Error(`${control[REMAINING]} tickets left unsold`);
  const perBuyer = new Array(WORKER_COUNT).fill(0);
  for (let ticket = 0; ticket < TICKET_COUNT; ticket++) {
    const owner = owners[ticket];
    if (owner <= 0) throw new Error(`ticket ${ticket} ${owner < 0 ? "sold twice" : "never sold"}`);
    perBuyer[owner - 1]++;
  }
  // How evenly the sale was spread: the smallest buyer's share of a fair share.
  return { minBuyerShare: Math.min(...perBuyer) / (TICKET_COUNT / WORKER_COUNT) };
}

const TABLE_QUESTION = `granularity: shared table, ${WORKER_COUNT} workers`;
const tableModes: [string, number, number][] = [
  ["one coarse lock per batch", 1, PADDED],
  ["one lock per operation", 2, PADDED],
  [`striped locks (${BUCKET_COUNT}, one per bucket)`, 3, PADDED],
  ["lock-free Atomics.add", 4, PADDED],
  ["lock-free Atomics.add, dense table (false sharing)", 4, 1],
];
for (const [name, mode, stride] of tableModes) {
  bench({
    question: TABLE_QUESTION,
    name,
    workload: "-",
    metric: "rate",
    op: "update",
    opsPerIter: WORKER_COUNT * BATCH,
    baseline: mode === 1,
    fn(): void {
      runIteration(mode, stride);
      checkTable(stride);
    },
  });
}

const TICKET_QUESTION = `granularity: ticket sale, ${WORKER_COUNT} buyers`;
bench({
  question: TICKET_QUESTION,
  name: "lock around the whole task",
  workload: "-",
  metric: "rate",
  op: "ticket",
  opsPerIter: TICKET_COUNT,
  baseline: true,
  fn(): Record<string, number> {
    runIteration(5);
    return checkTickets();
  },
});
bench({
  question: TICKET_QUESTION,
  name: "lock only around the purchase",
  workload: "-",
  metric: "rate",
  op: "ticket",
  opsPerIter: TICKET_COUNT,
  fn(): Record<string, number> {
    runIteration(6);
    return checkTickets();
  },
});
