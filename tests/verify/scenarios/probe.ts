/**
 * A critical-section probe: cell 0 counts the threads inside, cell 1 counts
 * entries. Entering while someone is inside throws (a mutual-exclusion
 * violation); the probe's own operations are scheduling points, so a
 * schedule can interleave another thread between enter and leave.
 */
import { CheckingMemory } from "../../../shm/checking/checking_memory.ts";
import type { Memory, MemoryHandle } from "../../../shm/memory.ts";

/**
 * Enters; throws if `limit` threads are already inside (1: mutual
 * exclusion). `count` adds to the entry counter.
 */
export function enterCritical(probe: Memory, count: number, limit: number = 1): void {
  const inside = probe.add(0, 1);
  if (inside >= limit) {
    throw new Error(`exclusion violated: ${inside} other thread(s) inside, limit ${limit}`);
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
