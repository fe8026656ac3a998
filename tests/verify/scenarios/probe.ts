/**
 * A critical-section probe: cell 0 counts the threads inside, cell 1 counts
 * entries. Entering while someone is inside throws (a mutual-exclusion
 * violation); the probe's own operations are scheduling points, so a
 * schedule can interleave another thread between enter and leave.
 */
import { CheckingMemory } from "../../../shm/checking/checking_memory.ts";
import type { Memory, MemoryHandle } from "../../../shm/memory.ts";

/** Enters; throws if another thread is inside. `count` adds to the entry counter. */
export function enterCritical(probe: Memory, count: number): void {
  const inside = probe.add(0, 1);
  if (inside !== 0) {
    throw new Error(`mutual exclusion violated: ${inside} other thread(s) inside`);
  }
  probe.add(1, count);
}

/** Leaves. */
export function leaveCritical(probe: Memory): void {
  probe.add(0, -1);
}

/** Entries counted (read on the controller after a schedule). */
export function probeCount(handle: MemoryHandle): number {
  return CheckingMemory.from(handle).load(1);
}
