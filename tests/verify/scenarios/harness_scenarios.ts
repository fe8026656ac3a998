/**
 * Scenarios that exercise the explorer itself: a real deadlock (two locks
 * taken in opposite orders), a virtual timeout, a livelock, a thread that
 * throws while another sleeps.
 */
import { Mutex, type MutexHandle } from "../../../primitives/mutex.ts";
import { checkingAllocator, CheckingMemory } from "../../../shm/checking/checking_memory.ts";
import type { Scenario } from "../../../shm/checking/controller.ts";
import type { MemoryHandle } from "../../../shm/memory.ts";

interface TwoLocks {
  a: MutexHandle;
  b: MutexHandle;
}

/** Takes A then B. */
export function lockAB(state: TwoLocks): void {
  const a = Mutex.from(state.a);
  const b = Mutex.from(state.b);
  a.lock();
  b.lock();
  b.unlock();
  a.unlock();
}

/** Takes B then A. */
export function lockBA(state: TwoLocks): void {
  const a = Mutex.from(state.a);
  const b = Mutex.from(state.b);
  b.lock();
  a.lock();
  a.unlock();
  b.unlock();
}

/** The classic lock-order inversion: some schedules deadlock. */
export const lockOrderScenario: Scenario<TwoLocks> = {
  name: "lock-order inversion (A,B / B,A)",
  module: import.meta.url,
  threads: ["lockAB", "lockBA"],
  setup: () => ({
    a: new Mutex({ allocate: checkingAllocator }).handle,
    b: new Mutex({ allocate: checkingAllocator }).handle,
  }),
};

/** Tries a held mutex with a timeout; reports the outcome and the (virtual) time it took. */
export function timedLock(state: { mutex: MutexHandle }): { acquired: boolean; elapsed: number } {
  const mutex = Mutex.from(state.mutex);
  const start = performance.now();
  const acquired = mutex.lock({ timeout: 25 });
  return { acquired, elapsed: performance.now() - start };
}

/** The mutex is held (by the controller) for the whole run: the timed lock must time out. */
export const timeoutScenario: Scenario<{ mutex: MutexHandle }> = {
  name: "timed lock of a held mutex",
  module: import.meta.url,
  threads: ["timedLock"],
  setup: () => {
    const mutex = new Mutex({ allocate: checkingAllocator });
    mutex.lock();
    return { mutex: mutex.handle };
  },
  check: (_state, results) => {
    const { acquired, elapsed } = results[0] as { acquired: boolean; elapsed: number };
    if (acquired || elapsed < 25) {
      throw new Error(`acquired ${acquired} after ${elapsed} virtual ms`);
    }
  },
};

/** Spins on a cell nobody writes. */
export function spinForever(state: { cell: MemoryHandle }): void {
  const memory = CheckingMemory.from(state.cell);
  while (memory.load(0) === 0) { /* livelock */ }
}

/** A thread that never ends without ever blocking: reported as a step limit. */
export const livelockScenario: Scenario<{ cell: MemoryHandle }> = {
  name: "livelock",
  module: import.meta.url,
  threads: ["spinForever"],
  maxSteps: 500,
  setup: () => ({ cell: checkingAllocator(4).handle() }),
};

/** Sleeps on a cell forever (until the schedule is aborted). */
export function sleepForever(state: { cell: MemoryHandle }): void {
  const memory = CheckingMemory.from(state.cell);
  for (;;) memory.wait(0, 0);
}

/** Throws after one operation. */
export function throwSoon(state: { cell: MemoryHandle }): void {
  CheckingMemory.from(state.cell).add(0, 0);
  throw new RangeError("thrown on purpose");
}

/** One thread throws while another sleeps: the failure is reported, the sleeper unwound. */
export const throwingScenario: Scenario<{ cell: MemoryHandle }> = {
  name: "a thread throws",
  module: import.meta.url,
  threads: ["sleepForever", "throwSoon"],
  setup: () => ({ cell: checkingAllocator(4).handle() }),
};

/** Returns a value computed from shared cells (for result transport). */
export function addAndReport(state: { cell: MemoryHandle }, thread: number): number[] {
  const memory = CheckingMemory.from(state.cell);
  return [thread, memory.add(0, 1)];
}

/** Two threads add to one cell: the results tell the order. */
export const orderScenario: Scenario<{ cell: MemoryHandle }> = {
  name: "order",
  module: import.meta.url,
  threads: ["addAndReport", "addAndReport"],
  setup: () => ({ cell: checkingAllocator(4).handle() }),
  check: (state) => {
    if (CheckingMemory.from(state.cell).load(0) !== 2) throw new Error("lost add");
  },
};
