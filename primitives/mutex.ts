/**
 * `Mutex`: a futex-style lock in shared memory (Python's `Lock`).
 *
 * @module
 */

import { type AsyncWaitOptions, normalizeTimeout, type WaitOptions } from "../shm/timeout.ts";
import type { Memory } from "../shm/memory.ts";
import {
  ACQUIRED_OWNER_DIED,
  acquireLockAsyncOutcome,
  acquireLockOutcome,
  type AcquireOutcome,
  NOT_ACQUIRED,
  ownerOf,
  releaseLock,
  tryAcquireLockOutcome,
} from "./_futex_lock.ts";
import {
  attachPrimitive,
  createMemory,
  type CreateOptions,
  HEADER_BYTES,
  HEADER_CELLS,
  isMemory,
  type PrimitiveHandle,
} from "./_header.ts";
import { currentOwnerId } from "./_owner.ts";
import { LockNotHeldError, NotOwnerError, TimeoutError } from "./errors.ts";
import { type LockGuard, makeGuard } from "./lock_guard.ts";
import { DENO_INSPECT, describeState } from "./_inspect.ts";

const VERSION = 2;
/** The lock word (see `_futex_lock.ts` for its states). */
const STATE = HEADER_CELLS;
/**
 * Robustness flags: {@linkcode OWNER_DIED} is set by the locker that took the
 * lock over from a dead owner, and cleared only by `markConsistent()` (so it
 * stays visible to every later holder until someone repairs the state).
 * Written only while holding the lock.
 */
const FLAGS = HEADER_CELLS + 1;
const OWNER_DIED = 1;
const BYTE_LENGTH = HEADER_BYTES + 8;

/**
 * The structured-cloneable form of a {@linkcode Mutex}.
 *
 * @example
 * ```ts
 * import { Mutex, type MutexHandle } from "@concur/shm";
 *
 * const mutex = new Mutex();
 * const handle: MutexHandle = mutex.handle; // postMessage(handle) to a worker
 * const there = Mutex.from(handle); // in the worker: the same lock
 * mutex.lock();
 * console.log(there.locked(), there.tryLock()); // true false
 * mutex.unlock();
 * ```
 */
export type MutexHandle = PrimitiveHandle<"Mutex">;

/**
 * A mutual-exclusion lock that works across workers: blocking `lock()` for
 * workers, `lockAsync()` for the main thread, `tryLock()`, timeouts, and
 * scoped release with `using` or `withLock`.
 *
 * Like Python's `Lock`, it is not re-entrant (a second `lock()` by the holder
 * waits) and any thread may unlock it. It records its holder, so
 * {@linkcode Mutex.heldByCurrentThread} can tell who holds it.
 *
 * Uncontended, `lock()` + `unlock()` is one compare-exchange and one
 * exchange; contended, a thread spins briefly and then sleeps on a futex
 * wait, and is woken by the release.
 *
 * **Robust** (POSIX `EOWNERDEAD`): if the holder was a worker started by
 * `WorkerProcess` or `Pool` and it ended or was terminated without
 * unlocking, the next `lock()` / `lockAsync()` / `tryLock()` does not hang:
 * it takes the lock over and returns `true`, and {@linkcode Mutex.ownerDied}
 * becomes `true`. The flag is sticky: every later holder sees it until one
 * of them repairs the protected state and calls
 * {@linkcode Mutex.markConsistent}, so ignoring it once cannot hide it.
 * Threads already blocked in `lock()` notice the death within about 100 ms.
 * (Holders not started by this module cannot be detected as dead.)
 *
 * @example Guard a counter shared with workers
 * ```ts
 * import { Mutex } from "@concur/shm";
 *
 * const mutex = new Mutex();
 * const counter = new Int32Array(new SharedArrayBuffer(4));
 * // new Worker(url).postMessage({ mutex: mutex.handle, counter });
 * // in the worker: const mutex = Mutex.from(data.mutex);
 * mutex.withLock(() => {
 *   counter[0] += 1; // a plain, non-atomic update: the lock makes it safe
 * });
 * await mutex.withLockAsync(() => counter[0]++); // never blocks the event loop
 * console.log(counter[0]); // 2
 * ```
 */
export class Mutex {
  readonly #memory: Memory;

  /**
   * Creates an unlocked mutex.
   *
   * @param options Where to allocate it (default: fresh shared memory).
   */
  constructor(options?: CreateOptions);
  /** @internal Wraps an already checked memory. */
  constructor(memory: Memory);
  constructor(arg?: CreateOptions | Memory) {
    this.#memory = isMemory(arg)
      ? arg
      : createMemory("Mutex", VERSION, BYTE_LENGTH, [], arg?.allocate);
  }

  /**
   * Revives a mutex from its handle (typically in a worker).
   *
   * @param handle The {@linkcode Mutex.handle} of a mutex.
   * @returns A mutex on the same shared state.
   * @throws {LayoutError} If the handle is not a valid mutex.
   */
  static from(handle: MutexHandle): Mutex {
    return new Mutex(attachPrimitive(handle, "Mutex", VERSION, BYTE_LENGTH));
  }

  /** Plain data to post to a worker; revive it with {@linkcode Mutex.from}. */
  get handle(): MutexHandle {
    return { kind: "Mutex", memory: this.#memory.handle() };
  }

  /**
   * Takes the lock if it is free, without waiting.
   *
   * @returns Whether the lock is now held by the caller.
   */
  tryLock(): boolean {
    const owner = currentOwnerId();
    if (this.#memory.compareExchange(STATE, 0, owner) === 0) return true;
    return this.#settle(tryAcquireLockOutcome(this.#memory, STATE, owner));
  }

  /**
   * Takes the lock, blocking the thread while it is held elsewhere. On the
   * main thread prefer {@linkcode Mutex.lockAsync}.
   *
   * @param options `timeout` in ms (default: wait forever; negative: poll once).
   * @returns `true` once held, `false` if the timeout expired first.
   */
  lock(options?: WaitOptions): boolean {
    // Checked before the fast path: a bad timeout is an error whether or not it would wait.
    const timeout = normalizeTimeout(options?.timeout);
    const owner = currentOwnerId();
    if (this.#memory.compareExchange(STATE, 0, owner) === 0) return true;
    return this.#settle(acquireLockOutcome(this.#memory, STATE, owner, timeout));
  }

  /**
   * A guard that releases the lock only if the calling thread still owns it:
   * a worker that was stopped by force and unwinds later (see
   * `WorkerProcess.terminate`) cannot release a lock another thread has
   * taken over since.
   */
  #guard(): LockGuard {
    return makeGuard(() => {
      if (this.heldByCurrentThread()) this.unlock();
    });
  }

  /** Records a take-over from a dead owner; returns whether the lock is held. */
  #settle(outcome: AcquireOutcome): boolean {
    if (outcome === ACQUIRED_OWNER_DIED) this.#memory.store(FLAGS, OWNER_DIED);
    return outcome !== NOT_ACQUIRED;
  }

  /**
   * Takes the lock without blocking the thread or the event loop.
   *
   * @param options `timeout` in ms, and a `signal` that cancels the wait.
   * @returns `true` once held, `false` if the timeout expired first.
   * @throws The signal's reason, if it aborts first.
   */
  async lockAsync(options?: AsyncWaitOptions): Promise<boolean> {
    return this.#settle(
      await acquireLockAsyncOutcome(
        this.#memory,
        STATE,
        currentOwnerId(),
        normalizeTimeout(options?.timeout),
        options?.signal,
      ),
    );
  }

  /**
   * Whether a holder of this mutex died while holding it and the protected
   * state has not been declared repaired since (see the class doc). Check it
   * right after taking the lock.
   *
   * @example Repair after a dead holder
   * ```ts
   * import { Mutex } from "@concur/shm";
   *
   * const mutex = new Mutex();
   * mutex.lock();
   * if (mutex.ownerDied) {
   *   // ...bring the shared state back to a consistent value...
   *   mutex.markConsistent();
   * }
   * mutex.unlock();
   * ```
   */
  get ownerDied(): boolean {
    return this.#memory.load(FLAGS) !== 0;
  }

  /**
   * Declares the protected state repaired after a dead holder: clears
   * {@linkcode Mutex.ownerDied}. Call it while holding the lock.
   *
   * @throws {NotOwnerError} If the calling thread does not hold the lock.
   *
   * @example
   * ```ts
   * import { Mutex } from "@concur/shm";
   *
   * const mutex = new Mutex();
   * mutex.withLock(() => mutex.markConsistent());
   * console.log(mutex.ownerDied); // false
   * ```
   */
  markConsistent(): void {
    if (!this.heldByCurrentThread()) {
      throw new NotOwnerError("Cannot mark mutex consistent: the calling thread does not hold it");
    }
    this.#memory.store(FLAGS, 0);
  }

  /**
   * Releases the lock and wakes one waiter, if any.
   *
   * @throws {LockNotHeldError} If the mutex is not locked.
   */
  unlock(): void {
    if (releaseLock(this.#memory, STATE) === 0) {
      throw new LockNotHeldError("Cannot unlock mutex: it is not locked");
    }
  }

  /** Whether some thread holds the lock (a snapshot). */
  locked(): boolean {
    return this.#memory.load(STATE) !== 0;
  }

  /** Whether the calling thread holds the lock. */
  heldByCurrentThread(): boolean {
    return ownerOf(this.#memory.load(STATE)) === currentOwnerId();
  }

  /**
   * Takes the lock and returns a guard that releases it: `using _ = mutex.acquire()`.
   *
   * @param options `timeout` in ms (default: forever).
   * @returns The guard.
   * @throws {TimeoutError} If the timeout expired before the lock was taken.
   */
  acquire(options?: WaitOptions): LockGuard {
    if (!this.lock(options)) {
      throw new TimeoutError(`Cannot acquire mutex: timed out after ${options?.timeout} ms`);
    }
    return this.#guard();
  }

  /**
   * Async {@linkcode Mutex.acquire}: `using _ = await mutex.acquireAsync()`.
   *
   * @param options `timeout` in ms and an abort `signal`.
   * @returns The guard.
   * @throws {TimeoutError} If the timeout expired before the lock was taken.
   */
  async acquireAsync(options?: AsyncWaitOptions): Promise<LockGuard> {
    if (!(await this.lockAsync(options))) {
      throw new TimeoutError(`Cannot acquire mutex: timed out after ${options?.timeout} ms`);
    }
    return this.#guard();
  }

  /**
   * Runs `fn` while holding the lock, and releases it however `fn` ends.
   *
   * @param fn The critical section.
   * @param options `timeout` in ms for taking the lock.
   * @returns What `fn` returned.
   * @throws {TimeoutError} If the lock could not be taken in time (then `fn` does not run).
   */
  withLock<T>(fn: () => T, options?: WaitOptions): T {
    using _guard = this.acquire(options);
    return fn();
  }

  /**
   * Runs `fn` (sync or async) while holding the lock taken with
   * {@linkcode Mutex.lockAsync}, and releases it however `fn` ends.
   *
   * @param fn The critical section.
   * @param options `timeout` in ms and an abort `signal` for taking the lock.
   * @returns What `fn` returned (awaited).
   * @throws {TimeoutError} If the lock could not be taken in time (then `fn` does not run).
   */
  async withLockAsync<T>(fn: () => T | Promise<T>, options?: AsyncWaitOptions): Promise<T> {
    using _guard = await this.acquireAsync(options);
    return await fn();
  }

  /**
   * What `console.log` and `Deno.inspect` show: the state at this moment
   * (a snapshot), like Python's repr.
   *
   * @example
   * ```ts
   * import { Mutex } from "@concur/shm";
   *
   * console.log(new Mutex()); // Mutex { locked: false, ownerDied: false }
   * ```
   */
  [DENO_INSPECT](): string {
    return describeState("Mutex", { locked: this.locked(), ownerDied: this.ownerDied });
  }
}
