/// <reference lib="deno.worker" />
/**
 * Worker side of `bench/locks.bench.ts`: a 2-worker contended counter under
 * `Mutex`, under a bare three-state futex lock written inline here (Drepper,
 * "Futexes Are Tricky", mutex 2, with an exchange in unlock as in Rust std),
 * and with `Atomics.add` (no lock).
 *
 * Every iteration starts from a shared go-signal (a generation counter the
 * main thread bumps and notifies), passes a spin barrier so that both workers
 * start together, increments a plain (non-atomic) counter `batch` times under
 * the lock, records how often the lock passed from the other worker to this
 * one (handoffs), and reports done.
 *
 * @module
 */

import { Mutex, type MutexHandle } from "../../primitives/mutex.ts";
import { LOCK } from "./lock_layout.ts";

const { GO, READY, DONE, MODE, BATCH, FUTEX, COUNTER, LAST, HANDOFFS, ATOMIC } = LOCK;

function futexLock(cells: Int32Array): void {
  let c = Atomics.compareExchange(cells, FUTEX, 0, 1);
  if (c === 0) return;
  if (c !== 2) c = Atomics.exchange(cells, FUTEX, 2);
  while (c !== 0) {
    Atomics.wait(cells, FUTEX, 2);
    c = Atomics.exchange(cells, FUTEX, 2);
  }
}

function futexUnlock(cells: Int32Array): void {
  if (Atomics.exchange(cells, FUTEX, 0) === 2) Atomics.notify(cells, FUTEX, 1);
}

function runMutex(cells: Int32Array, mutex: Mutex, me: number, batch: number): number {
  let handoffs = 0;
  for (let i = 0; i < batch; i++) {
    mutex.lock();
    cells[COUNTER]++;
    if (cells[LAST] !== me) {
      cells[LAST] = me;
      handoffs++;
    }
    mutex.unlock();
  }
  return handoffs;
}

function runFutex(cells: Int32Array, me: number, batch: number): number {
  let handoffs = 0;
  for (let i = 0; i < batch; i++) {
    futexLock(cells);
    cells[COUNTER]++;
    if (cells[LAST] !== me) {
      cells[LAST] = me;
      handoffs++;
    }
    futexUnlock(cells);
  }
  return handoffs;
}

function runAtomicAdd(cells: Int32Array, batch: number): number {
  for (let i = 0; i < batch; i++) Atomics.add(cells, ATOMIC, 1);
  return 0;
}

self.onmessage = (event: MessageEvent) => {
  const { cells, mutexHandle, id } = event.data as {
    cells: Int32Array;
    mutexHandle: MutexHandle;
    id: number;
  };
  const mutex = Mutex.from(mutexHandle);
  const me = id + 1;
  self.postMessage("ready");
  let generation = 0;
  for (;;) {
    Atomics.wait(cells, GO, generation);
    generation = Atomics.load(cells, GO);
    if (generation < 0) break;
    const mode = Atomics.load(cells, MODE);
    const batch = Atomics.load(cells, BATCH);
    Atomics.add(cells, READY, 1);
    while (Atomics.load(cells, READY) < 2) { /* spin barrier: the other worker is waking */ }
    const handoffs = mode === 1
      ? runMutex(cells, mutex, me, batch)
      : mode === 2
      ? runFutex(cells, me, batch)
      : runAtomicAdd(cells, batch);
    Atomics.store(cells, HANDOFFS + id, handoffs);
    Atomics.add(cells, DONE, 1);
    Atomics.notify(cells, DONE);
  }
  self.close();
};
