/**
 * BROKEN ON PURPOSE: the futex mutex of `primitives/_futex_lock.ts` with an
 * unlock that forgets to wake a sleeper (the exchange to 0 is kept, the
 * `notify` is dropped). A thread that set WAITERS and went to sleep is never
 * woken: the explorer must report a deadlock.
 */
import { acquireLock, WAITERS } from "../../../primitives/_futex_lock.ts";
import { currentOwnerId } from "../../../primitives/_owner.ts";
import { checkingAllocator, CheckingMemory } from "../../../shm/checking/checking_memory.ts";
import type { Scenario } from "../../../shm/checking/controller.ts";
import type { Memory, MemoryHandle } from "../../../shm/memory.ts";
import { enterCritical, leaveCritical } from "../scenarios/probe.ts";

/** The faulty step: release without waking anyone. */
function releaseForgettingWaiters(memory: Memory, cell: number): void {
  const previous = memory.exchange(cell, 0);
  void (previous & WAITERS); // the correct code notifies here when WAITERS was set
}

interface State {
  lock: MemoryHandle;
  probe: MemoryHandle;
  rounds: number;
}

/** Locks and unlocks `rounds` times with the broken unlock. */
export function brokenUnlockThread(state: State): void {
  const memory = CheckingMemory.from(state.lock);
  const probe = CheckingMemory.from(state.probe);
  for (let i = 0; i < state.rounds; i++) {
    acquireLock(memory, 0, currentOwnerId(), Infinity);
    enterCritical(probe, 1);
    leaveCritical(probe);
    releaseForgettingWaiters(memory, 0);
  }
}

/** Two threads, two rounds each: must end, but a sleeper is never woken. */
export const brokenUnlockScenario: Scenario<State> = {
  name: "BROKEN unlock without wake-up",
  module: import.meta.url,
  threads: ["brokenUnlockThread", "brokenUnlockThread"],
  setup: () => ({
    lock: checkingAllocator(4).handle(),
    probe: checkingAllocator(8).handle(),
    rounds: 2,
  }),
};
