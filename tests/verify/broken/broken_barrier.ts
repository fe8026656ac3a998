/**
 * BROKEN ON PURPOSE: a barrier whose waiters leave when the arrival count
 * reaches the number of parties, and whose last party resets the count to 0
 * right after its notify, before the sleepers have looked at it. A sleeper
 * that runs after the reset sees 0, goes back to sleep, and is never woken
 * (a lost wake-up): the explorer must report a deadlock.
 */
import { checkingAllocator, CheckingMemory } from "../../../shm/checking/checking_memory.ts";
import type { Scenario } from "../../../shm/checking/controller.ts";
import type { MemoryHandle } from "../../../shm/memory.ts";

const COUNT = 0;
const PARTIES = 3;

/** Arrives once at the broken barrier. */
export function brokenBarrierThread(state: { barrier: MemoryHandle }): void {
  const memory = CheckingMemory.from(state.barrier);
  const arrived = memory.add(COUNT, 1) + 1;
  if (arrived === PARTIES) {
    memory.notify(COUNT);
    memory.store(COUNT, 0); // the faulty step: reset before the waiters saw the full count
    return;
  }
  for (;;) {
    const count = memory.load(COUNT);
    if (count === PARTIES) return;
    memory.wait(COUNT, count);
  }
}

/** Three parties meet once. */
export const brokenBarrierScenario: Scenario<{ barrier: MemoryHandle }> = {
  name: "BROKEN barrier resetting its count too early",
  module: import.meta.url,
  threads: Array(PARTIES).fill("brokenBarrierThread"),
  setup: () => ({ barrier: checkingAllocator(4).handle() }),
};
