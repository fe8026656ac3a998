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
 * Robustness (POSIX robust mutexes, `EOWNERDEAD`): when the owner id in the
 * word is one the liveness table reports dead (`shm/liveness.ts`), a locker
 * takes the lock over with a compare-exchange from exactly that word to its
 * own id with WAITERS set (others may still sleep; one spurious wake-up at
 * most), and the `...Outcome` functions report
 * {@linkcode ACQUIRED_OWNER_DIED}. The compare-exchange makes the take-over
 * exclusive: of several lockers that saw the same dead word, one wins and the
 * others see the new owner. A sleeper cannot be woken by a death (the dead
 * thread never releases), so while the owner is a managed id the sleep is
 * sliced into {@linkcode LIVENESS_SLICE_MS} waits that re-check its
 * liveness. None of this touches the uncontended path: it runs only after
 * the first compare-exchange failed.
 *
 * @module
 */

import type { Memory } from "../shm/memory.ts";
import { Deadline } from "../shm/timeout.ts";
import { isManagedOwner, isOwnerDead } from "../shm/liveness.ts";
import { OWNER_MASK } from "./_owner.ts";

/** Set in the lock word while some thread may be asleep waiting for it. */
export const WAITERS = 0x40000000;

/** Reads of the lock word before going to sleep. */
const SPIN_LIMIT = 100;

/** Longest sleep before a waiter re-checks whether a managed owner died. */
export const LIVENESS_SLICE_MS = 100;

/** Outcome of an acquire: not acquired (timed out / busy). */
export const NOT_ACQUIRED = 0;
/** Outcome of an acquire: acquired normally. */
export const ACQUIRED = 1;
/** Outcome of an acquire: acquired by taking it over from a dead owner. */
export const ACQUIRED_OWNER_DIED = 2;
/** What an acquire did: {@linkcode NOT_ACQUIRED}, {@linkcode ACQUIRED} or {@linkcode ACQUIRED_OWNER_DIED}. */
export type AcquireOutcome = 0 | 1 | 2;

/**
 * Takes over a lock whose word is `state` if its owner is dead. Returns
 * whether the caller now owns it.
 */
function takeOverIfDead(memory: Memory, cell: number, state: number, owner: number): boolean {
  if (state === 0 || !isOwnerDead(state & OWNER_MASK)) return false;
  return memory.compareExchange(cell, state, owner | WAITERS) === state;
}

/** How long to sleep on `state`: sliced while its owner's death could be detected. */
function sleepBound(state: number, remaining: number): number {
  return isManagedOwner(state & OWNER_MASK) ? Math.min(remaining, LIVENESS_SLICE_MS) : remaining;
}

/** One attempt; never waits. Takes over a lock whose owner died. */
export function tryAcquireLockOutcome(memory: Memory, cell: number, owner: number): AcquireOutcome {
  const state = memory.compareExchange(cell, 0, owner);
  if (state === 0) return ACQUIRED;
  return takeOverIfDead(memory, cell, state, owner) ? ACQUIRED_OWNER_DIED : NOT_ACQUIRED;
}

/** One attempt; never waits. */
export function tryAcquireLock(memory: Memory, cell: number, owner: number): boolean {
  return tryAcquireLockOutcome(memory, cell, owner) !== NOT_ACQUIRED;
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
 * Returns whether the lock was acquired (taking over from a dead owner counts).
 */
export function acquireLock(
  memory: Memory,
  cell: number,
  owner: number,
  timeout: number,
): boolean {
  return acquireLockOutcome(memory, cell, owner, timeout) !== NOT_ACQUIRED;
}

/** {@linkcode acquireLock}, reporting whether the previous owner died. */
export function acquireLockOutcome(
  memory: Memory,
  cell: number,
  owner: number,
  timeout: number,
): AcquireOutcome {
  let state = memory.compareExchange(cell, 0, owner);
  if (state === 0) return ACQUIRED;
  if (takeOverIfDead(memory, cell, state, owner)) return ACQUIRED_OWNER_DIED;
  if (timeout <= 0) return NOT_ACQUIRED;
  state = spin(memory, cell);
  if (state === 0) {
    state = memory.compareExchange(cell, 0, owner);
    if (state === 0) return ACQUIRED;
  }
  const deadline = new Deadline(timeout);
  for (;;) {
    if (state === 0) {
      // Acquire with WAITERS: we may have slept, others may still be asleep.
      state = memory.compareExchange(cell, 0, owner | WAITERS);
      if (state === 0) return ACQUIRED;
      continue;
    }
    if (takeOverIfDead(memory, cell, state, owner)) return ACQUIRED_OWNER_DIED;
    const remaining = deadline.remaining();
    if (remaining === 0) return NOT_ACQUIRED;
    if ((state & WAITERS) === 0) {
      const seen = memory.compareExchange(cell, state, state | WAITERS);
      if (seen !== state) {
        state = seen;
        continue;
      }
      state |= WAITERS;
    }
    memory.wait(cell, state, sleepBound(state, remaining));
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
  return (await acquireLockAsyncOutcome(memory, cell, owner, timeout, signal)) !== NOT_ACQUIRED;
}

/** {@linkcode acquireLockAsync}, reporting whether the previous owner died. */
export async function acquireLockAsyncOutcome(
  memory: Memory,
  cell: number,
  owner: number,
  timeout: number,
  signal: AbortSignal | undefined,
): Promise<AcquireOutcome> {
  signal?.throwIfAborted();
  let state = memory.compareExchange(cell, 0, owner);
  if (state === 0) return ACQUIRED;
  if (takeOverIfDead(memory, cell, state, owner)) return ACQUIRED_OWNER_DIED;
  if (timeout <= 0) return NOT_ACQUIRED;
  const deadline = new Deadline(timeout);
  for (;;) {
    if (state === 0) {
      state = memory.compareExchange(cell, 0, owner | WAITERS);
      if (state === 0) return ACQUIRED;
      continue;
    }
    if (takeOverIfDead(memory, cell, state, owner)) return ACQUIRED_OWNER_DIED;
    const remaining = deadline.remaining();
    if (remaining === 0) return NOT_ACQUIRED;
    if ((state & WAITERS) === 0) {
      const seen = memory.compareExchange(cell, state, state | WAITERS);
      if (seen !== state) {
        state = seen;
        continue;
      }
      state |= WAITERS;
    }
    await memory.waitAsync(cell, state, sleepBound(state, remaining), signal);
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
