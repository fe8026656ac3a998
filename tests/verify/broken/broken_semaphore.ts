/**
 * BROKEN ON PURPOSE: the counting semaphore of `primitives/semaphore.ts` with
 * a decrement that is a load followed by a store (in place of the
 * compare-exchange loop). Two threads can both read 1 and both store 0: one
 * permit admits two threads, which the probe reports.
 */
import { checkingAllocator, CheckingMemory } from "../../../shm/checking/checking_memory.ts";
import type { Scenario } from "../../../shm/checking/controller.ts";
import type { Memory, MemoryHandle } from "../../../shm/memory.ts";
import { enterCritical, leaveCritical } from "../scenarios/probe.ts";

const VALUE = 0;
const WAITERS = 1;

/** The faulty step: not atomic. */
function tryAcquireRacy(memory: Memory): boolean {
  const value = memory.load(VALUE);
  if (value <= 0) return false;
  memory.store(VALUE, value - 1);
  return true;
}

/** Copied from Semaphore.acquire (no timeout), around the racy decrement. */
function acquire(memory: Memory): void {
  if (tryAcquireRacy(memory)) return;
  memory.add(WAITERS, 1);
  try {
    while (!tryAcquireRacy(memory)) memory.wait(VALUE, 0);
  } finally {
    memory.add(WAITERS, -1);
  }
}

/** Copied from Semaphore.release. */
function release(memory: Memory): void {
  memory.add(VALUE, 1);
  if (memory.load(WAITERS) > 0) memory.notify(VALUE, 1);
}

interface State {
  semaphore: MemoryHandle;
  probe: MemoryHandle;
}

/** Takes the one permit twice; the probe throws if two threads hold it. */
export function brokenSemaphoreThread(state: State): void {
  const memory = CheckingMemory.from(state.semaphore);
  const probe = CheckingMemory.from(state.probe);
  for (let i = 0; i < 2; i++) {
    acquire(memory);
    enterCritical(probe, 1);
    leaveCritical(probe);
    release(memory);
  }
}

/** A one-permit semaphore shared by two threads. */
export const brokenSemaphoreScenario: Scenario<State> = {
  name: "BROKEN semaphore with load+store decrement",
  module: import.meta.url,
  threads: ["brokenSemaphoreThread", "brokenSemaphoreThread"],
  setup: () => {
    const semaphore = checkingAllocator(8);
    semaphore.store(VALUE, 1);
    return { semaphore: semaphore.handle(), probe: checkingAllocator(8).handle() };
  },
};
