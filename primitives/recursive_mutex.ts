/**
 * `RecursiveMutex`: a re-entrant lock (Python's `RLock`).
 *
 * @module
 */

import type { Memory } from "../shm/memory.ts";
import { type AsyncWaitOptions, normalizeTimeout, type WaitOptions } from "../shm/timeout.ts";
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
import { NotOwnerError, TimeoutError } from "./errors.ts";
import { type LockGuard, makeGuard } from "./lock_guard.ts";
import { DENO_INSPECT, describeState } from "./_inspect.ts";

const VERSION = 2;
/** The futex lock word; its owner bits name the holding thread. */
const STATE = HEADER_CELLS;
/** How many times the owner holds it; written only by the owner. */
const DEPTH = HEADER_CELLS + 1;
/** Robustness flags, as in `Mutex`: OWNER_DIED is sticky until `markConsistent()`. */
const FLAGS = HEADER_CELLS + 2;
const OWNER_DIED = 1;
const BYTE_LENGTH = HEADER_BYTES + 12;

/**
 * The structured-cloneable form of a {@linkcode RecursiveMutex}.
 *
 * @example
 * ```ts
 * import { RecursiveMutex, type RecursiveMutexHandle } from "@concur/shm";
 *
 * const rlock = new RecursiveMutex();
 * const handle: RecursiveMutexHandle = rlock.handle; // postMessage(handle) to a worker
 * const there = RecursiveMutex.from(handle); // in the worker: the same lock
 * rlock.lock();
 * console.log(there.locked()); // true
 * rlock.unlock();
 * ```
 */
export type RecursiveMutexHandle = PrimitiveHandle<"RecursiveMutex">;

/**
 * A lock its owner may take again: each `lock()` by the owner must be matched
 * by one `unlock()`, and only the owner may unlock.
 *
 * Ownership is per thread (per worker, or the main thread): two async tasks
 * of the same thread are the same owner.
 *
 * Robust like `Mutex`: when its holder (a worker started by this module)
 * ends without releasing it, the next locker takes it over at depth 1 and
 * {@linkcode RecursiveMutex.ownerDied} stays `true` until
 * {@linkcode RecursiveMutex.markConsistent}.
 *
 * @example
 * ```ts
 * import { RecursiveMutex } from "@concur/shm";
 *
 * const rlock = new RecursiveMutex();
 * rlock.lock();
 * rlock.lock(); // re-entry by the owner
 * console.log(rlock.depth); // 2
 * rlock.unlock();
 * rlock.unlock();
 * console.log(rlock.locked()); // false
 * ```
 */
export class RecursiveMutex {
  readonly #memory: Memory;

  /**
   * Creates an unlocked recursive mutex.
   *
   * @param options Where to allocate it (default: fresh shared memory).
   */
  constructor(options?: CreateOptions);
  /** @internal Wraps an already checked memory. */
  constructor(memory: Memory);
  constructor(arg?: CreateOptions | Memory) {
    this.#memory = isMemory(arg)
      ? arg
      : createMemory("RecursiveMutex", VERSION, BYTE_LENGTH, [], arg?.allocate);
  }

  /**
   * Revives a recursive mutex from its handle.
   *
   * @param handle The {@linkcode RecursiveMutex.handle} of a recursive mutex.
   * @returns A recursive mutex on the same shared state.
   * @throws {LayoutError} If the handle is not a valid recursive mutex.
   */
  static from(handle: RecursiveMutexHandle): RecursiveMutex {
    return new RecursiveMutex(attachPrimitive(handle, "RecursiveMutex", VERSION, BYTE_LENGTH));
  }

  /** Plain data to post to a worker; revive it with {@linkcode RecursiveMutex.from}. */
  get handle(): RecursiveMutexHandle {
    return { kind: "RecursiveMutex", memory: this.#memory.handle() };
  }

  /** How many times the calling thread holds the lock (0 if it does not). */
  get depth(): number {
    return this.heldByCurrentThread() ? this.#memory.load(DEPTH) : 0;
  }

  /** Whether some thread holds the lock (a snapshot). */
  locked(): boolean {
    return this.#memory.load(STATE) !== 0;
  }

  /** Whether the calling thread holds the lock. */
  heldByCurrentThread(): boolean {
    return ownerOf(this.#memory.load(STATE)) === currentOwnerId();
  }

  #reenter(): boolean {
    if (!this.heldByCurrentThread()) return false;
    this.#memory.store(DEPTH, this.#memory.load(DEPTH) + 1);
    return true;
  }

  /**
   * Takes the lock (again, if the caller holds it) without waiting.
   *
   * @returns Whether the caller now holds it.
   */
  tryLock(): boolean {
    if (this.#reenter()) return true;
    return this.#settle(tryAcquireLockOutcome(this.#memory, STATE, currentOwnerId()));
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

  /** After an acquire: sets the depth to 1 and records a take-over from a dead owner. */
  #settle(outcome: AcquireOutcome): boolean {
    if (outcome === NOT_ACQUIRED) return false;
    if (outcome === ACQUIRED_OWNER_DIED) this.#memory.store(FLAGS, OWNER_DIED);
    this.#memory.store(DEPTH, 1);
    return true;
  }

  /**
   * Whether a holder died while holding this lock and the protected state has
   * not been declared repaired since.
   *
   * @example
   * ```ts
   * import { RecursiveMutex } from "@concur/shm";
   *
   * const rlock = new RecursiveMutex();
   * rlock.lock();
   * if (rlock.ownerDied) rlock.markConsistent();
   * rlock.unlock();
   * ```
   */
  get ownerDied(): boolean {
    return this.#memory.load(FLAGS) !== 0;
  }

  /**
   * Declares the protected state repaired: clears {@linkcode RecursiveMutex.ownerDied}.
   *
   * @throws {NotOwnerError} If the calling thread does not hold the lock.
   *
   * @example
   * ```ts
   * import { RecursiveMutex } from "@concur/shm";
   *
   * const rlock = new RecursiveMutex();
   * rlock.withLock(() => rlock.markConsistent());
   * ```
   */
  markConsistent(): void {
    if (!this.heldByCurrentThread()) {
      throw new NotOwnerError(
        "Cannot mark recursive mutex consistent: the calling thread does not hold it",
      );
    }
    this.#memory.store(FLAGS, 0);
  }

  /**
   * Takes the lock (again, if the caller holds it), blocking the thread.
   *
   * @param options `timeout` in ms (default: forever).
   * @returns `true` once held, `false` if the timeout expired first.
   */
  lock(options?: WaitOptions): boolean {
    // Checked before the fast path: a bad timeout is an error whether or not it would wait.
    const timeout = normalizeTimeout(options?.timeout);
    if (this.#reenter()) return true;
    return this.#settle(acquireLockOutcome(this.#memory, STATE, currentOwnerId(), timeout));
  }

  /**
   * Takes the lock without blocking the thread or the event loop.
   *
   * @param options `timeout` in ms and an abort `signal`.
   * @returns `true` once held, `false` if the timeout expired first.
   * @throws The signal's reason, if it aborts first.
   */
  async lockAsync(options?: AsyncWaitOptions): Promise<boolean> {
    // An aborted signal wins even when the lock could be re-entered at once,
    // as it does for every other async wait of this module.
    options?.signal?.throwIfAborted();
    if (this.#reenter()) return true;
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
   * Releases one level; the lock is free once every `lock()` is matched.
   *
   * @throws {NotOwnerError} If the calling thread does not hold the lock.
   */
  unlock(): void {
    if (!this.heldByCurrentThread()) {
      throw new NotOwnerError(
        "Cannot unlock recursive mutex: the calling thread does not hold it",
      );
    }
    const depth = this.#memory.load(DEPTH) - 1;
    this.#memory.store(DEPTH, depth);
    if (depth === 0) releaseLock(this.#memory, STATE);
  }

  /**
   * Takes the lock and returns a guard that releases one level.
   *
   * @param options `timeout` in ms (default: forever).
   * @returns The guard.
   * @throws {TimeoutError} If the timeout expired first.
   */
  acquire(options?: WaitOptions): LockGuard {
    if (!this.lock(options)) {
      throw new TimeoutError(
        `Cannot acquire recursive mutex: timed out after ${options?.timeout} ms`,
      );
    }
    return this.#guard();
  }

  /**
   * Async {@linkcode RecursiveMutex.acquire}.
   *
   * @param options `timeout` in ms and an abort `signal`.
   * @returns The guard.
   * @throws {TimeoutError} If the timeout expired first.
   */
  async acquireAsync(options?: AsyncWaitOptions): Promise<LockGuard> {
    if (!(await this.lockAsync(options))) {
      throw new TimeoutError(
        `Cannot acquire recursive mutex: timed out after ${options?.timeout} ms`,
      );
    }
    return this.#guard();
  }

  /**
   * Runs `fn` holding the lock.
   *
   * @param fn The critical section (it may take the lock again).
   * @param options `timeout` in ms for taking the lock.
   * @returns What `fn` returned.
   */
  withLock<T>(fn: () => T, options?: WaitOptions): T {
    using _guard = this.acquire(options);
    return fn();
  }

  /**
   * Runs `fn` holding the lock taken asynchronously.
   *
   * @param fn The critical section.
   * @param options `timeout` in ms and an abort `signal`.
   * @returns What `fn` returned (awaited).
   */
  async withLockAsync<T>(fn: () => T | Promise<T>, options?: AsyncWaitOptions): Promise<T> {
    using _guard = await this.acquireAsync(options);
    return await fn();
  }

  /**
   * @internal For `Condition`: releases every level at once, returning the
   * depth to restore with {@linkcode RecursiveMutex._restore}.
   */
  _releaseAll(): number {
    if (!this.heldByCurrentThread()) {
      throw new NotOwnerError(
        "Cannot release recursive mutex: the calling thread does not hold it",
      );
    }
    const depth = this.#memory.load(DEPTH);
    this.#memory.store(DEPTH, 0);
    releaseLock(this.#memory, STATE);
    return depth;
  }

  /** @internal For `Condition`: after re-taking the lock, restores its depth. */
  _restore(depth: number): void {
    this.#memory.store(DEPTH, depth);
  }

  /**
   * What `console.log` and `Deno.inspect` show: the state at this moment
   * (a snapshot), like Python's repr.
   *
   * @example
   * ```ts
   * import { RecursiveMutex } from "@concur/shm";
   *
   * console.log(new RecursiveMutex()); // RecursiveMutex { locked: false, depth: 0, ownerDied: false }
   * ```
   */
  [DENO_INSPECT](): string {
    return describeState("RecursiveMutex", {
      locked: this.locked(),
      depth: this.heldByCurrentThread() ? this.depth : 0,
      ownerDied: this.ownerDied,
    });
  }
}
