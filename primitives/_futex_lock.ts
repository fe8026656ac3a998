/**
 * The futex lock word shared by `Mutex`, `RecursiveMutex` and every
 * primitive that needs a short internal lock.
 *
 * One 32-bit cell:
 *
 * | value                 | meaning                                         |
 * |-----------------------|-------------------------------------------------|
 * | `0`                   | unlocked                                         |
 * | `owner`               | locked by `owner` (bits 0..29), nobody asleep   |
 * | `owner \| WAITERS`    | locked, and some thread may be asleep on it      |
 *
 * This is Drepper's three-state mutex ("Futexes Are Tricky", mutex 2; Rust
 * std `sys/sync/mutex/futex.rs`) with the owner's id in place of the constant
 * 1, so that ownership can be checked and a dead owner recognised.
 *
 * Invariants and why they hold:
 * - Acquire is a compare-exchange from 0, so exactly one thread leaves a
 *   given unlocked state owning the lock.
 * - Release is an exchange to 0 that returns the previous word: it wakes one
 *   sleeper exactly when the WAITERS bit was set. A thread sets WAITERS
 *   before it sleeps and sleeps only while the word still holds the value it
 *   set (futex semantics of `wait(cell, expected)`), so a release between
 *   "set WAITERS" and "sleep" makes the sleep return at once: no lost wake-up.
 * - A thread that has slept acquires with WAITERS set (it cannot know whether
 *   others still sleep). Waking one thread is therefore enough: when it takes
 *   the lock it keeps the bit, and its own release wakes the next sleeper.
 *   A timed-out waiter leaves the bit set; that costs one spurious wake-up
 *   at most, never a lost one.
 * - All `Atomics` are sequentially consistent, so the exchange in release
 *   orders the critical section's writes before the next acquirer's reads.
 *
 * The contended path spins a bounded number of reads (never writes, to stay
 * off the cache line) before it sleeps.
 *
 * @module
 */

import type { Memory } from "../shm/memory.ts";
import { Deadline } from "../shm/timeout.ts";
import { OWNER_MASK } from "./_owner.ts";

/** Set in the lock word while some thread may be asleep waiting for it. */
export const WAITERS = 0x40000000;

/** Reads of the lock word before going to sleep. */
const SPIN_LIMIT = 100;

/** One attempt; never waits. */
export function tryAcquireLock(memory: Memory, cell: number, owner: number): boolean {
  return memory.compareExchange(cell, 0, owner) === 0;
}

/** Spins (reads only) while the lock is held and nobody sleeps; returns the last word seen. */
function spin(memory: Memory, cell: number): number {
  let state = memory.load(cell);
  for (let i = 0; i < SPIN_LIMIT && state !== 0 && (state & WAITERS) === 0; i++) {
    state = memory.load(cell);
  }
  return state;
}

/**
 * Blocking acquire with a timeout in ms (`Infinity`: forever).
 * Returns whether the lock was acquired.
 */
export function acquireLock(
  memory: Memory,
  cell: number,
  owner: number,
  timeout: number,
): boolean {
  if (memory.compareExchange(cell, 0, owner) === 0) return true;
  if (timeout <= 0) return false;
  let state = spin(memory, cell);
  if (state === 0) {
    state = memory.compareExchange(cell, 0, owner);
    if (state === 0) return true;
  }
  const deadline = new Deadline(timeout);
  for (;;) {
    if (state === 0) {
      // Acquire with WAITERS: we may have slept, others may still be asleep.
      state = memory.compareExchange(cell, 0, owner | WAITERS);
      if (state === 0) return true;
      continue;
    }
    const remaining = deadline.remaining();
    if (remaining === 0) return false;
    if ((state & WAITERS) === 0) {
      const seen = memory.compareExchange(cell, state, state | WAITERS);
      if (seen !== state) {
        state = seen;
        continue;
      }
      state |= WAITERS;
    }
    memory.wait(cell, state, remaining);
    state = memory.load(cell);
  }
}

/** The same as {@linkcode acquireLock} without blocking the thread. */
export async function acquireLockAsync(
  memory: Memory,
  cell: number,
  owner: number,
  timeout: number,
  signal: AbortSignal | undefined,
): Promise<boolean> {
  signal?.throwIfAborted();
  if (memory.compareExchange(cell, 0, owner) === 0) return true;
  if (timeout <= 0) return false;
  const deadline = new Deadline(timeout);
  let state = memory.load(cell);
  for (;;) {
    if (state === 0) {
      state = memory.compareExchange(cell, 0, owner | WAITERS);
      if (state === 0) return true;
      continue;
    }
    const remaining = deadline.remaining();
    if (remaining === 0) return false;
    if ((state & WAITERS) === 0) {
      const seen = memory.compareExchange(cell, state, state | WAITERS);
      if (seen !== state) {
        state = seen;
        continue;
      }
      state |= WAITERS;
    }
    await memory.waitAsync(cell, state, remaining, signal);
    state = memory.load(cell);
  }
}

/**
 * Releases the lock; returns the word it held (0 means it was not locked, and
 * nothing was changed). Wakes one sleeper if any may be asleep.
 */
export function releaseLock(memory: Memory, cell: number): number {
  const previous = memory.exchange(cell, 0);
  if ((previous & WAITERS) !== 0) memory.notify(cell, 1);
  return previous;
}

/** The owner id recorded in a lock word (0: unlocked). */
export function ownerOf(word: number): number {
  return word & OWNER_MASK;
}
