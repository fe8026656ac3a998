/**
 * `Condition`: a condition variable bound to a lock (Python's `Condition`).
 *
 * Layout (cells after the header):
 *
 * | cell        | content                                                    |
 * |-------------|------------------------------------------------------------|
 * | `HEAD`      | tickets below `HEAD` have been notified (sleepers wait here) |
 * | `TAIL`      | the next ticket to hand out                                 |
 * | `CANCELLED` | `WINDOW` bits: ticket `t` (with `HEAD <= t < TAIL`) gave up  |
 * | `OWNERS`    | `WINDOW` cells: the owner id of the thread holding ticket `t` |
 *
 * Every `wait()` takes a ticket `t = TAIL++` while it holds the lock, then
 * releases the lock and sleeps until `HEAD > t`. `notify(n)` (lock held)
 * moves `HEAD` forward over the next `n` tickets whose waiters have not given
 * up, skipping (and forgetting) cancelled ones and those of waiters known to
 * be dead (a process killed while it waited never settles its ticket, and
 * would otherwise swallow a notification; see `diedWaiting` for which deaths
 * are known), and wakes the sleepers on `HEAD`. Tickets compare with wrap-around (`(HEAD - t) | 0 > 0`).
 *
 * Guarantees, and why they hold:
 * - **Exactly who was waiting.** `HEAD`, `TAIL` and the cancelled bits are
 *   written only by threads that hold the lock, and a waiter takes its
 *   ticket before it releases the lock. So `notify(n)` wakes exactly
 *   `min(n, live waiters)` of the threads whose `wait()` began before it
 *   took the lock, oldest first (FIFO), and never a later one (a later
 *   ticket is `>= TAIL` at notify time): notifications are not remembered.
 *   This includes a waiter still in the window between releasing the lock
 *   and going to sleep: it holds a ticket, so it is counted once; if not
 *   notified it sees `HEAD` change, re-checks its ticket and sleeps again.
 * - **No lost wake-up.** A waiter sleeps only while `HEAD` still holds the
 *   value it read after checking its ticket (`wait(HEAD, head)` re-checks
 *   atomically with respect to `notify(HEAD)`), and every move of `HEAD`
 *   that signals someone is followed by a notify of all sleepers on `HEAD`.
 * - **No spurious `true`.** `wait()` returns `true` only if its ticket was
 *   notified (sleepers woken for other tickets go back to sleep), except in
 *   one pathological case: more than `WINDOW` (1024) waits outstanding at
 *   once (live or timed out behind a live one); the oldest are then woken
 *   early to make room, which a caller of `waitFor` never notices.
 * - **Timeouts.** A waiter whose deadline expires re-takes the lock, then
 *   either finds that it was notified in the meantime (returns `true`) or
 *   marks its ticket cancelled so that no later notify counts it. A
 *   cancelled async waiter (AbortSignal) that had been notified passes the
 *   notification on to the next waiter, so it steals nothing.
 *
 * Cost: a notify wakes every sleeper to re-check its ticket (only the
 * notified ones return), so prefer `notify()` with few waiters and
 * `notifyAll()` with many.
 *
 * @module
 */

import { EXTERNAL_OWNER_BIT, isOwnerDead } from "../shm/liveness.ts";
import type { Memory, MemoryHandle } from "../shm/memory.ts";
import {
  type AsyncWaitOptions,
  Deadline,
  normalizeTimeout,
  type WaitOptions,
} from "../shm/timeout.ts";
import { type AnyLock, type AnyLockHandle, isLock, reviveLock } from "./_any_lock.ts";
import {
  attachPrimitive,
  createMemory,
  type CreateOptions,
  HEADER_BYTES,
  HEADER_CELLS,
  isMemory,
} from "./_header.ts";
import { NotOwnerError } from "./errors.ts";
import { currentOwnerId } from "./_owner.ts";
import type { LockGuard } from "./lock_guard.ts";
import { Mutex } from "./mutex.ts";
import { RecursiveMutex } from "./recursive_mutex.ts";
import { DENO_INSPECT, describeState } from "./_inspect.ts";

/** 2: the owner of each outstanding ticket is recorded (dead waiters are skipped). */
const VERSION = 2;
/** Tickets below HEAD are notified; sleepers wait on this cell. */
const HEAD = HEADER_CELLS;
/** Next ticket. */
const TAIL = HEADER_CELLS + 1;
/** First cell of the cancelled-ticket bitmap. */
const CANCELLED = HEADER_CELLS + 2;
const BITMAP_CELLS = 32;
/** How many tickets can be outstanding at once. */
const WINDOW = BITMAP_CELLS * 32;
/** First cell of the ticket owners (one per ticket of the window). */
const OWNERS = CANCELLED + BITMAP_CELLS;
const BYTE_LENGTH = HEADER_BYTES + (2 + BITMAP_CELLS + WINDOW) * 4;

/**
 * The structured-cloneable form of a {@linkcode Condition}: its state and its lock's.
 *
 * @example
 * ```ts
 * import { Condition, type ConditionHandle } from "@concur/shm";
 *
 * const cond = new Condition();
 * const handle: ConditionHandle = cond.handle; // postMessage(handle) to a worker
 * const there = Condition.from(handle); // in the worker: same condition, same lock
 * cond.lock();
 * console.log(handle.lock.kind, there.getLock().locked()); // "Mutex" true
 * cond.unlock();
 * ```
 */
export interface ConditionHandle {
  /** Always `"Condition"`. */
  readonly kind: "Condition";
  /** Where its state lives. */
  readonly memory: MemoryHandle;
  /** The handle of the lock it is bound to. */
  readonly lock: AnyLockHandle;
}

/**
 * Options of the {@linkcode Condition} constructor.
 *
 * @example
 * ```ts
 * import { Condition, type ConditionOptions, RecursiveMutex } from "@concur/shm";
 *
 * const lock = new RecursiveMutex();
 * const options: ConditionOptions = { lock }; // Python's default, an RLock
 * const cond = new Condition(options);
 * console.log(cond.getLock() === lock); // true
 * ```
 */
export interface ConditionOptions extends CreateOptions {
  /**
   * The lock to bind to. Default: a new `Mutex`. Pass a `RecursiveMutex` to
   * get Python's default (`RLock`): `wait()` then releases every level and
   * restores the depth. On the main thread, where several async tasks are
   * one owner, prefer a `Mutex`: a `RecursiveMutex` lets every task of the
   * thread in at once.
   */
  lock?: AnyLock;
}

/**
 * A condition variable shared between workers: threads holding the lock
 * `wait()` until another thread holding the lock calls `notify()`.
 *
 * Waiters are woken in FIFO order, `notify(n)` wakes exactly
 * `min(n, waiting)` of the threads already waiting, and `wait()` does not
 * return `true` spuriously (see the module doc for the one exception). Still,
 * re-check your condition in a loop, or use {@linkcode Condition.waitFor}.
 *
 * @example Producer/consumer on a shared counter
 * ```ts
 * import { Condition } from "@concur/shm";
 *
 * const cond = new Condition();
 * const items = new Int32Array(new SharedArrayBuffer(4));
 * // consumer (a worker): cond.withLock(() => { cond.waitFor(() => items[0] > 0); items[0]--; });
 * setTimeout(() => cond.withLock(() => { items[0]++; cond.notify(); }), 5);
 * await cond.withLockAsync(async () => {
 *   await cond.waitForAsync(() => items[0] > 0, { timeout: 1000 });
 *   items[0]--;
 * });
 * console.log(items[0]); // 0
 * ```
 */
export class Condition {
  readonly #memory: Memory;
  readonly #lock: AnyLock;

  /**
   * Creates a condition bound to `lock` (default: a new `Mutex`).
   *
   * @param lock The lock, or options with `lock` and `allocate`.
   * @throws {TypeError} If `lock` is not a `Mutex` or `RecursiveMutex`.
   */
  constructor(lock?: AnyLock | ConditionOptions);
  /** @internal Wraps an already checked memory and revived lock. */
  constructor(memory: Memory, lock: AnyLock);
  constructor(arg?: AnyLock | ConditionOptions | Memory, lock?: AnyLock) {
    if (isMemory(arg)) {
      this.#memory = arg;
      this.#lock = lock!;
      return;
    }
    if (arg !== undefined && !isLock(arg) && (arg === null || typeof arg !== "object")) {
      throw new TypeError("Condition takes a Mutex, a RecursiveMutex or options");
    }
    const options: ConditionOptions = isLock(arg) ? { lock: arg } : arg ?? {};
    if (options.lock !== undefined && !isLock(options.lock)) {
      throw new TypeError("Condition lock must be a Mutex or a RecursiveMutex");
    }
    this.#lock = options.lock ?? new Mutex({ allocate: options.allocate });
    this.#memory = createMemory("Condition", VERSION, BYTE_LENGTH, [], options.allocate);
  }

  /**
   * Revives a condition (and its lock) from its handle.
   *
   * @example
   * ```ts
   * import { Condition } from "@concur/shm";
   *
   * const cond = new Condition();
   * const same = Condition.from(cond.handle); // in a worker, from a posted handle
   * same.lock();
   * console.log(cond.getLock().locked()); // true
   * same.unlock();
   * ```
   *
   * @param handle The {@linkcode Condition.handle} of a condition.
   * @returns A condition on the same shared state and lock.
   * @throws {LayoutError} If the handle or its lock handle is not valid.
   */
  static from(handle: ConditionHandle): Condition {
    const memory = attachPrimitive(handle, "Condition", VERSION, BYTE_LENGTH);
    return new Condition(memory, reviveLock(handle.lock, "Condition"));
  }

  /**
   * Plain data to post to a worker; revive it with {@linkcode Condition.from}.
   *
   * @example
   * ```ts
   * import { Condition } from "@concur/shm";
   *
   * const handle = new Condition().handle;
   * console.log(handle.kind, handle.lock.kind); // "Condition" "Mutex"
   * ```
   */
  get handle(): ConditionHandle {
    return { kind: "Condition", memory: this.#memory.handle(), lock: this.#lock.handle };
  }

  /**
   * The lock this condition is bound to (Python's `_lock`).
   *
   * @example
   * ```ts
   * import { Condition, Mutex } from "@concur/shm";
   *
   * const mutex = new Mutex();
   * console.log(new Condition(mutex).getLock() === mutex); // true
   * ```
   */
  getLock(): AnyLock {
    return this.#lock;
  }

  // ---- the lock, delegated (Python's cond.acquire() / cond.release()) ----

  /**
   * Takes the bound lock (see `Mutex.lock`).
   *
   * @example
   * ```ts
   * import { Condition } from "@concur/shm";
   *
   * const cond = new Condition();
   * cond.lock();
   * cond.unlock();
   * ```
   *
   * @param options `timeout` in ms.
   * @returns Whether the lock is held.
   */
  lock(options?: WaitOptions): boolean {
    return this.#lock.lock(options);
  }

  /**
   * Takes the bound lock without blocking the event loop.
   *
   * @example
   * ```ts
   * import { Condition } from "@concur/shm";
   *
   * const cond = new Condition();
   * console.log(await cond.lockAsync()); // true
   * cond.unlock();
   * ```
   *
   * @param options `timeout` in ms and an abort `signal`.
   * @returns Whether the lock is held.
   */
  lockAsync(options?: AsyncWaitOptions): Promise<boolean> {
    return this.#lock.lockAsync(options);
  }

  /**
   * Takes the bound lock if it is free.
   *
   * @example
   * ```ts
   * import { Condition } from "@concur/shm";
   *
   * const cond = new Condition();
   * console.log(cond.tryLock()); // true
   * cond.unlock();
   * ```
   *
   * @returns Whether the lock is held.
   */
  tryLock(): boolean {
    return this.#lock.tryLock();
  }

  /**
   * Releases the bound lock (one level of a `RecursiveMutex`).
   *
   * @example
   * ```ts
   * import { Condition } from "@concur/shm";
   *
   * const cond = new Condition();
   * cond.lock();
   * cond.unlock();
   * console.log(cond.getLock().locked()); // false
   * ```
   */
  unlock(): void {
    this.#lock.unlock();
  }

  /**
   * Takes the bound lock and returns a guard for `using`.
   *
   * @example
   * ```ts
   * import { Condition } from "@concur/shm";
   *
   * const cond = new Condition();
   * {
   *   using _held = cond.acquire();
   *   cond.notifyAll();
   * }
   * ```
   *
   * @param options `timeout` in ms.
   * @returns The guard.
   * @throws {TimeoutError} If the timeout expired first.
   */
  acquire(options?: WaitOptions): LockGuard {
    return this.#lock.acquire(options);
  }

  /**
   * Async {@linkcode Condition.acquire}.
   *
   * @example
   * ```ts
   * import { Condition } from "@concur/shm";
   *
   * const cond = new Condition();
   * {
   *   using _held = await cond.acquireAsync();
   *   cond.notify();
   * }
   * ```
   *
   * @param options `timeout` in ms and an abort `signal`.
   * @returns The guard.
   * @throws {TimeoutError} If the timeout expired first.
   */
  acquireAsync(options?: AsyncWaitOptions): Promise<LockGuard> {
    return this.#lock.acquireAsync(options);
  }

  /**
   * Runs `fn` holding the bound lock.
   *
   * @example
   * ```ts
   * import { Condition } from "@concur/shm";
   *
   * const cond = new Condition();
   * console.log(cond.withLock(() => cond.wait({ timeout: 0 }))); // false
   * ```
   *
   * @param fn The critical section.
   * @param options `timeout` in ms for taking the lock.
   * @returns What `fn` returned.
   */
  withLock<T>(fn: () => T, options?: WaitOptions): T {
    return this.#lock.withLock(fn, options);
  }

  /**
   * Runs `fn` (sync or async) holding the bound lock taken asynchronously.
   *
   * @example
   * ```ts
   * import { Condition } from "@concur/shm";
   *
   * const cond = new Condition();
   * console.log(await cond.withLockAsync(() => cond.waitAsync({ timeout: 1 }))); // false
   * ```
   *
   * @param fn The critical section.
   * @param options `timeout` in ms and an abort `signal` for taking the lock.
   * @returns What `fn` returned (awaited).
   */
  withLockAsync<T>(fn: () => T | Promise<T>, options?: AsyncWaitOptions): Promise<T> {
    return this.#lock.withLockAsync(fn, options);
  }

  // ---- waiting ----

  /**
   * Releases the lock (every level of a `RecursiveMutex`), blocks until
   * notified or the timeout expires, and re-takes the lock (restoring its
   * depth) before returning, in both cases. On the main thread prefer
   * {@linkcode Condition.waitAsync}.
   *
   * @example
   * ```ts
   * import { Condition } from "@concur/shm";
   *
   * const cond = new Condition();
   * cond.lock();
   * console.log(cond.wait({ timeout: 5 })); // false: nobody notified
   * cond.unlock();
   * ```
   *
   * @param options `timeout` in ms (default: forever; negative: 0).
   * @returns `true` if notified, `false` if the timeout expired.
   * @throws {NotOwnerError} If the calling thread does not hold the lock.
   */
  wait(options?: WaitOptions): boolean {
    this.#checkOwner("wait on");
    const timeout = normalizeTimeout(options?.timeout);
    const memory = this.#memory;
    const ticket = this.#enqueue();
    const depth = this.#releaseLock();
    let notified = false;
    try {
      const deadline = new Deadline(timeout);
      for (;;) {
        const head = memory.load(HEAD);
        if (((head - ticket) | 0) > 0) {
          notified = true;
          break;
        }
        const remaining = deadline.remaining();
        if (remaining === 0) break;
        memory.wait(HEAD, head, remaining);
      }
    } finally {
      this.#relock(depth);
      if (!notified) notified = this.#settle(ticket);
    }
    return notified;
  }

  /**
   * {@linkcode Condition.wait} without blocking the thread or the event
   * loop. If `signal` aborts, the lock is re-taken first, then the promise
   * rejects with the signal's reason (a notification it received is passed
   * on to the next waiter).
   *
   * @example
   * ```ts
   * import { Condition } from "@concur/shm";
   *
   * const cond = new Condition();
   * await cond.lockAsync();
   * console.log(await cond.waitAsync({ timeout: 5 })); // false
   * cond.unlock();
   * ```
   *
   * @param options `timeout` in ms and an abort `signal`.
   * @returns `true` if notified, `false` if the timeout expired.
   * @throws {NotOwnerError} If the calling thread does not hold the lock.
   */
  async waitAsync(options?: AsyncWaitOptions): Promise<boolean> {
    this.#checkOwner("wait on");
    const signal = options?.signal;
    signal?.throwIfAborted();
    const timeout = normalizeTimeout(options?.timeout);
    const memory = this.#memory;
    const ticket = this.#enqueue();
    const depth = this.#releaseLock();
    let notified = false;
    let aborted: { reason: unknown } | undefined;
    try {
      const deadline = new Deadline(timeout);
      for (;;) {
        const head = memory.load(HEAD);
        if (((head - ticket) | 0) > 0) {
          notified = true;
          break;
        }
        const remaining = deadline.remaining();
        if (remaining === 0) break;
        await memory.waitAsync(HEAD, head, remaining, signal);
      }
    } catch (reason) {
      aborted = { reason };
    }
    await this.#relockAsync(depth);
    if (!notified) notified = this.#settle(ticket);
    if (aborted !== undefined) {
      if (notified) this.#advance(1); // pass the notification on: steal nothing
      throw aborted.reason;
    }
    return notified;
  }

  /**
   * Waits until `predicate()` returns a truthy value, with ONE overall
   * deadline. The predicate is called with the lock held, first before any
   * waiting.
   *
   * @example
   * ```ts
   * import { Condition } from "@concur/shm";
   *
   * const cond = new Condition();
   * cond.lock();
   * console.log(cond.waitFor(() => 42)); // 42, at once
   * console.log(cond.waitFor(() => 0, { timeout: 5 })); // 0 after 5 ms
   * cond.unlock();
   * ```
   *
   * @param predicate The condition to wait for.
   * @param options `timeout` in ms for the whole wait.
   * @returns The last value of `predicate()` (falsy only if the timeout expired).
   * @throws {NotOwnerError} If the calling thread does not hold the lock.
   */
  waitFor<T>(predicate: () => T, options?: WaitOptions): T {
    const deadline = new Deadline(options?.timeout);
    let result = predicate();
    while (!result) {
      const remaining = deadline.remaining();
      if (remaining === 0) break;
      this.wait({ timeout: remaining });
      result = predicate();
    }
    return result;
  }

  /**
   * Async {@linkcode Condition.waitFor}.
   *
   * @example
   * ```ts
   * import { Condition } from "@concur/shm";
   *
   * const cond = new Condition();
   * await cond.lockAsync();
   * console.log(await cond.waitForAsync(() => "ready")); // "ready"
   * cond.unlock();
   * ```
   *
   * @param predicate The condition to wait for (called with the lock held).
   * @param options `timeout` in ms for the whole wait and an abort `signal`.
   * @returns The last value of `predicate()`.
   * @throws {NotOwnerError} If the calling thread does not hold the lock.
   */
  async waitForAsync<T>(predicate: () => T, options?: AsyncWaitOptions): Promise<T> {
    const deadline = new Deadline(options?.timeout);
    let result = predicate();
    while (!result) {
      const remaining = deadline.remaining();
      if (remaining === 0) break;
      await this.waitAsync({ timeout: remaining, signal: options?.signal });
      result = predicate();
    }
    return result;
  }

  /**
   * Wakes up to `n` threads waiting on this condition, oldest first. They
   * return from `wait()` once they re-take the lock, so after the caller
   * releases it.
   *
   * @example
   * ```ts
   * import { Condition } from "@concur/shm";
   *
   * const cond = new Condition();
   * cond.withLock(() => cond.notify()); // nobody waits: a no-op
   * ```
   *
   * @param n How many waiters at most (default 1), an integer `>= 0`.
   * @returns How many waiters were woken.
   * @throws {NotOwnerError} If the calling thread does not hold the lock.
   * @throws {RangeError} If `n` is negative or not an integer.
   */
  notify(n: number = 1): number {
    this.#checkOwner("notify");
    if (!(Number.isInteger(n) || n === Infinity) || n < 0) {
      throw new RangeError(`Cannot notify: n must be an integer >= 0: received ${n}`);
    }
    return this.#advance(n);
  }

  /**
   * Wakes every thread waiting on this condition.
   *
   * @example
   * ```ts
   * import { Condition } from "@concur/shm";
   *
   * const cond = new Condition();
   * cond.withLock(() => cond.notifyAll());
   * ```
   *
   * @returns How many waiters were woken.
   * @throws {NotOwnerError} If the calling thread does not hold the lock.
   */
  notifyAll(): number {
    this.#checkOwner("notify");
    return this.#advance(Infinity);
  }

  // ---- internals (all but the sleeping run with the lock held) ----

  #checkOwner(what: string): void {
    if (!this.#lock.heldByCurrentThread()) {
      throw new NotOwnerError(
        `Cannot ${what} condition: the calling thread does not hold its lock`,
      );
    }
  }

  /** Hands out the next ticket, first making room if `WINDOW` are outstanding. */
  #enqueue(): number {
    const memory = this.#memory;
    const tail = memory.load(TAIL);
    // Pathological: WINDOW waits outstanding. Each advance passes at least
    // one ticket (a cancelled one, or the oldest live waiter, woken early).
    while (((tail - memory.load(HEAD)) | 0) >= WINDOW) this.#advance(1);
    memory.store(OWNERS + (tail & (WINDOW - 1)), currentOwnerId());
    memory.store(TAIL, (tail + 1) | 0);
    return tail;
  }

  /** Bit of ticket `t` in the cancelled bitmap: [cell, mask]. */
  #bit(ticket: number): [number, number] {
    const index = ticket & (WINDOW - 1);
    return [CANCELLED + (index >>> 5), 1 << (index & 31)];
  }

  #isCancelled(ticket: number): boolean {
    const [cell, mask] = this.#bit(ticket);
    return (this.#memory.load(cell) & mask) !== 0;
  }

  #setCancelled(ticket: number, on: boolean): void {
    const [cell, mask] = this.#bit(ticket);
    const word = this.#memory.load(cell);
    this.#memory.store(cell, on ? word | mask : word & ~mask);
  }

  /** Moves HEAD over the cancelled tickets at the front, forgetting them. */
  #skipFront(): void {
    const memory = this.#memory;
    const tail = memory.load(TAIL);
    let head = memory.load(HEAD);
    while (head !== tail && this.#isCancelled(head)) {
      this.#setCancelled(head, false);
      head = (head + 1) | 0;
    }
    memory.store(HEAD, head); // signals nobody: no notify needed
  }

  /** Notifies up to `n` live tickets; returns how many. */
  #advance(n: number): number {
    const memory = this.#memory;
    const tail = memory.load(TAIL);
    const start = memory.load(HEAD);
    let head = start;
    let woken = 0;
    while (head !== tail) {
      if (this.#isCancelled(head)) {
        this.#setCancelled(head, false);
      } else if (diedWaiting(memory.load(OWNERS + (head & (WINDOW - 1))))) {
        // Its waiter was killed while it waited: nobody would return for it.
      } else {
        if (woken === n) break;
        woken++;
      }
      head = (head + 1) | 0;
    }
    if (head !== start) {
      memory.store(HEAD, head);
      if (woken > 0) memory.notify(HEAD);
    }
    return woken;
  }

  /**
   * After a timeout or abort, with the lock re-taken: whether the ticket was
   * notified after all; if not, cancels it so that no notify counts it.
   */
  #settle(ticket: number): boolean {
    const memory = this.#memory;
    if (((memory.load(HEAD) - ticket) | 0) > 0) return true;
    const tail = memory.load(TAIL);
    if (((ticket + 1) | 0) === tail) {
      memory.store(TAIL, ticket); // the newest ticket: just take it back
    } else {
      this.#setCancelled(ticket, true);
      if (ticket === memory.load(HEAD)) this.#skipFront();
    }
    return false;
  }

  #releaseLock(): number {
    const lock = this.#lock;
    if (lock instanceof RecursiveMutex) return lock._releaseAll();
    lock.unlock();
    return 1;
  }

  #relock(depth: number): void {
    const lock = this.#lock;
    lock.lock();
    if (lock instanceof RecursiveMutex) lock._restore(depth);
  }

  async #relockAsync(depth: number): Promise<void> {
    const lock = this.#lock;
    await lock.lockAsync();
    if (lock instanceof RecursiveMutex) lock._restore(depth);
  }

  /**
   * What `console.log` and `Deno.inspect` show: the state at this moment
   * (a snapshot), like Python's repr.
   *
   * @example
   * ```ts
   * import { Condition } from "@concur/shm";
   *
   * console.log(new Condition()); // Condition { locked: false }
   * ```
   */
  [DENO_INSPECT](): string {
    return describeState("Condition", { locked: this.getLock().locked() });
  }
}

/**
 * Whether the owner of a ticket is known to have died: only for owner ids
 * unique across processes (a registered process's threads), whose death an
 * oracle knows. A worker thread's id from an unregistered program is unique
 * in that program only: another process sharing this condition could take
 * it for one of its own dead threads and skip a live waiter (a lost
 * wake-up); and a worker of this program that ends unwinds its wait itself.
 */
function diedWaiting(owner: number): boolean {
  return (owner & EXTERNAL_OWNER_BIT) !== 0 && isOwnerDead(owner);
}
