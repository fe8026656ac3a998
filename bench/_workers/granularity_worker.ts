/// <reference lib="deno.worker" />
/**
 * Worker side of `bench/granularity.bench.ts`.
 *
 * Table modes: each worker applies `batch` increments to buckets of a shared
 * table (bucket b at cell b × stride) chosen by its own deterministic xorshift sequence (so the main thread
 * knows the exact expected table):
 * 1 one coarse lock around the whole batch; 2 that lock around every
 * operation; 3 one lock per bucket (striped); 4 `Atomics.add` (lock-free).
 *
 * Ticket modes: buyers prepare a purchase (some private work), then buy the
 * next ticket while any is left: 5 with the lock around the whole task;
 * 6 with the lock only around the purchase.
 *
 * @module
 */

import { Mutex, type MutexHandle } from "../../primitives/mutex.ts";
import { xorshift } from "../_harness.ts";
import { GRAN } from "./granularity_layout.ts";

const { GO, READY, DONE, MODE, BATCH, WORKERS, BUCKETS, WORK, REMAINING, TICKETS, STRIDE } = GRAN;

interface Setup {
  id: number;
  control: Int32Array;
  table: Int32Array;
  owners: Int32Array;
  coarse: MutexHandle;
  stripes: MutexHandle[];
}

/** The private part of a buyer's task: `work` rounds of xorshift (kept live by the result). */
function prepare(random: () => number, work: number): number {
  let x = 0;
  for (let i = 0; i < work; i++) x ^= random();
  return x;
}

self.onmessage = (event: MessageEvent) => {
  const setup = event.data as Setup;
  const { id, control, table, owners } = setup;
  const coarse = Mutex.from(setup.coarse);
  const stripes = setup.stripes.map((handle) => Mutex.from(handle));
  self.postMessage("ready");
  let generation = 0;
  let sink = 0;
  for (;;) {
    Atomics.wait(control, GO, generation);
    generation = Atomics.load(control, GO);
    if (generation < 0) break;
    const mode = Atomics.load(control, MODE);
    const batch = Atomics.load(control, BATCH);
    const workers = Atomics.load(control, WORKERS);
    const buckets = Atomics.load(control, BUCKETS);
    const work = Atomics.load(control, WORK);
    const stride = Atomics.load(control, STRIDE);
    const random = xorshift(id + 1);
    Atomics.add(control, READY, 1);
    while (Atomics.load(control, READY) < workers) { /* spin barrier */ }
    if (mode === 1) {
      coarse.lock();
      for (let i = 0; i < batch; i++) table[(random() % buckets) * stride]++;
      coarse.unlock();
    } else if (mode === 2) {
      for (let i = 0; i < batch; i++) {
        const bucket = random() % buckets;
        coarse.lock();
        table[bucket * stride]++;
        coarse.unlock();
      }
    } else if (mode === 3) {
      for (let i = 0; i < batch; i++) {
        const bucket = random() % buckets;
        const stripe = stripes[bucket];
        stripe.lock();
        table[bucket * stride]++;
        stripe.unlock();
      }
    } else if (mode === 4) {
      for (let i = 0; i < batch; i++) Atomics.add(table, (random() % buckets) * stride, 1);
    } else {
      // Ticket sale: buy until sold out. The ticket number is TICKETS - remaining.
      const tickets = Atomics.load(control, TICKETS);
      for (let soldOut = false; !soldOut;) {
        if (mode === 5) coarse.lock();
        sink ^= prepare(random, work);
        if (mode === 6) coarse.lock();
        const remaining = control[REMAINING];
        if (remaining > 0) {
          const ticket = tickets - remaining;
          if (owners[ticket] !== 0) owners[ticket] = -1; // sold twice: the check fails
          else owners[ticket] = id + 1;
          control[REMAINING] = remaining - 1;
        } else {
          soldOut = true;
        }
        coarse.unlock();
      }
    }
    Atomics.add(control, DONE, 1);
    Atomics.notify(control, DONE);
  }
  if (sink === 0.5) console.error(sink); // never: keeps `prepare` from being optimised away
  self.close();
};
