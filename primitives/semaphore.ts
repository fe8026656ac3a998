/**
 * `Semaphore`: a counting semaphore in shared memory (Python's `Semaphore`
 * and, with `bounded: true`, `BoundedSemaphore`).
 *
 * Naming: `acquire()` / `acquireAsync()` / `tryAcquire()` return booleans
 * (Python's `acquire`), `release(n)` adds permits, and the scoped forms are
 * `guard()` / `guardAsync()` (a `LockGuard` for `using`) and
 * `withPermit(fn)` / `withPermitAsync(fn)`.
 *
 * Layout (cells after the header):
 *
 * | cell      | content                                                    |
 * |-----------|------------------------------------------------------------|
 * | `VALUE`   | permits available, `0..MAX_VALUE` (never negative)          |
 * | `WAITERS` | how many threads are registered as (about to be) asleep     |
 *
 * Header params: `[initial value, bounded ? 1 : 0]`.
 *
 * Why no wake-up is lost (every cell operation is sequentially consistent,
 * so all of them fall in one total order):
 * - A waiter (1) increments `WAITERS`, (2) reads `VALUE`, and (3) sleeps
 *   only while `VALUE` still holds the 0 it read: `wait(VALUE, 0)` checks
 *   and sleeps atomically with respect to `notify(VALUE)`.
 * - A releaser (a) adds to `VALUE`, then (b) reads `WAITERS` and notifies
 *   `VALUE` if it is positive.
 * - If (b) reads 0, then (b) precedes (1), so (a) precedes (2): the waiter
 *   sees the new permits (or another thread already took them) and does not
 *   sleep on them. If (b) reads a positive count, the notify comes after
 *   (a); a waiter that checked before (a) is asleep in the wait list and is
 *   woken, one that checks after (a) sees `VALUE != 0` and does not sleep.
 * - A woken waiter always tries to take a permit before it looks at its
 *   deadline, so a wake-up meant for it is never dropped by a timeout; a
 *   waiter that is woken but finds the permit taken by a barging
 *   `tryAcquire` goes back to sleep, because that permit was consumed.
 * - `release(n)` wakes `n` sleepers: exactly as many as it released.
 *
 * @module
 */

import type { Memory } from "../shm/memory.ts";
import {
  type AsyncWaitOptions,
  Deadline,
  normalizeTimeout,
  type WaitOptions,
} from "../shm/timeout.ts";
import {
  attachPrimitive,
  createMemory,
  type CreateOptions,
  HEADER_BYTES,
  HEADER_CELLS,
  isMemory,
  type PrimitiveHandle,
  readParam,
} from "./_header.ts";
import { LayoutError, SemaphoreOverflowError, TimeoutError } from "./errors.ts";
import { type LockGuard, makeGuard } from "./lock_guard.ts";
import { DENO_INSPECT, describeState } from "./_inspect.ts";

const VERSION = 1;
/** Permits available. */
const VALUE = HEADER_CELLS;
/** Threads that may be asleep on `VALUE`. */
const WAITERS = HEADER_CELLS + 1;
const BYTE_LENGTH = HEADER_BYTES + 8;
/** The largest value a semaphore can hold (Linux `SEM_VALUE_MAX`). */
const MAX_VALUE = 0x7fffffff;

/**
 * The structured-cloneable form of a {@linkcode Semaphore}.
 *
 * @example
 * ```ts
 * import { Semaphore, type SemaphoreHandle } from "@concur/shm";
 *
 * const slots = new Semaphore(2);
 * const handle: SemaphoreHandle = slots.handle; // postMessage(handle) to a worker
 * Semaphore.from(handle).tryAcquire(); // in the worker
 * console.log(slots.value); // 1
 * ```
 */
export type SemaphoreHandle = PrimitiveHandle<"Semaphore">;

/**
 * Options of the {@linkcode Semaphore} constructor.
 *
 * @example
 * ```ts
 * import { Semaphore, type SemaphoreOptions, SemaphoreOverflowError } from "@concur/shm";
 *
 * const options: SemaphoreOptions = { bounded: true }; // Python's BoundedSemaphore
 * const sem = new Semaphore(1, options);
 * try {
 *   sem.release(); // one more than the initial value
 * } catch (err) {
 *   console.log(err instanceof SemaphoreOverflowError); // true
 * }
 * ```
 */
export interface SemaphoreOptions extends CreateOptions {
  /**
   * If `true`, releasing past the initial value throws
   * `SemaphoreOverflowError` (Python's `BoundedSemaphore`). Default `false`.
   */
  bounded?: boolean;
}

/**
 * A counting semaphore shared between workers: `acquire()` takes a permit,
 * waiting while there is none; `release(n)` gives `n` back and wakes that
 * many waiters.
 *
 * Waiters are not served in FIFO order (a `tryAcquire` may take a permit
 * before a woken waiter does), like Python's semaphores. Ownership is not
 * tracked: any thread may release.
 *
 * @example Limit concurrency to 3
 * ```ts
 * import { Semaphore } from "@concur/shm";
 *
 * const slots = new Semaphore(3);
 * // post slots.handle to workers; there: const slots = Semaphore.from(handle)
 * const result = await slots.withPermitAsync(() => "work done with a permit");
 * console.log(result, slots.value); // "work done with a permit" 3
 * ```
 */
export class Semaphore {
  readonly #memory: Memory;
  readonly #initial: number;
  readonly #bounded: boolean;

  /**
   * Creates a semaphore holding `value` permits.
   *
   * @param value Initial permits (default 1), an integer `>= 0`.
   * @param options `bounded` and where to allocate it.
   * @throws {RangeError} If `value` is negative, not an integer or above 2^31 - 1.
   */
  constructor(value?: number, options?: SemaphoreOptions);
  /** @internal Wraps an already checked memory. */
  constructor(memory: Memory);
  constructor(arg: number | Memory = 1, options?: SemaphoreOptions) {
    if (isMemory(arg)) {
      this.#memory = arg;
      this.#initial = readParam(arg, 0);
      this.#bounded = readParam(arg, 1) === 1;
      return;
    }
    if (!Number.isInteger(arg) || arg < 0 || arg > MAX_VALUE) {
      throw new RangeError(
        `Semaphore initial value must be an integer in [0, ${MAX_VALUE}]: received ${arg}`,
      );
    }
    const bounded = options?.bounded === true;
    this.#memory = createMemory(
      "Semaphore",
      VERSION,
      BYTE_LENGTH,
      [arg, bounded ? 1 : 0],
      options?.allocate,
    );
    this.#memory.store(VALUE, arg);
    this.#initial = arg;
    this.#bounded = bounded;
  }

  /**
   * Revives a semaphore from its handle (typically in a worker).
   *
   * @example
   * ```ts
   * import { Semaphore } from "@concur/shm";
   *
   * const sem = new Semaphore(2);
   * const same = Semaphore.from(sem.handle); // in a worker, from a posted handle
   * same.acquire();
   * console.log(sem.value); // 1
   * ```
   *
   * @param handle The {@linkcode Semaphore.handle} of a semaphore.
   * @returns A semaphore on the same shared state.
   * @throws {LayoutError} If the handle is not a valid semaphore.
   */
  static from(handle: SemaphoreHandle): Semaphore {
    const memory = attachPrimitive(handle, "Semaphore", VERSION, BYTE_LENGTH);
    const initial = readParam(memory, 0);
    const bounded = readParam(memory, 1);
    if (initial < 0 || (bounded !== 0 && bounded !== 1)) {
      throw new LayoutError(
        "bad-parameters",
        `Cannot revive Semaphore: stored parameters [${initial}, ${bounded}] are invalid`,
      );
    }
    return new Semaphore(memory);
  }

  /**
   * Plain data to post to a worker; revive it with {@linkcode Semaphore.from}.
   *
   * @example
   * ```ts
   * import { Semaphore } from "@concur/shm";
   *
   * const handle = new Semaphore(3).handle;
   * console.log(handle.kind); // "Semaphore"
   * ```
   */
  get handle(): SemaphoreHandle {
    return { kind: "Semaphore", memory: this.#memory.handle() };
  }

  /**
   * Permits available now (a snapshot; Python's `get_value()`).
   *
   * @example
   * ```ts
   * import { Semaphore } from "@concur/shm";
   *
   * const sem = new Semaphore(2);
   * sem.tryAcquire();
   * console.log(sem.value); // 1
   * ```
   */
  get value(): number {
    return this.#memory.load(VALUE);
  }

  /**
   * Whether releases past the initial value are refused.
   *
   * @example
   * ```ts
   * import { Semaphore } from "@concur/shm";
   *
   * console.log(new Semaphore(1, { bounded: true }).bounded); // true
   * ```
   */
  get bounded(): boolean {
    return this.#bounded;
  }

  /**
   * Takes a permit if one is available, without waiting.
   *
   * @example
   * ```ts
   * import { Semaphore } from "@concur/shm";
   *
   * const sem = new Semaphore(1);
   * console.log(sem.tryAcquire(), sem.tryAcquire()); // true false
   * ```
   *
   * @returns Whether a permit was taken.
   */
  tryAcquire(): boolean {
    const memory = this.#memory;
    let value = memory.load(VALUE);
    while (value > 0) {
      const seen = memory.compareExchange(VALUE, value, value - 1);
      if (seen === value) return true;
      value = seen;
    }
    return false;
  }

  /**
   * Takes a permit, blocking the thread while there is none. On the main
   * thread prefer {@linkcode Semaphore.acquireAsync}.
   *
   * @example
   * ```ts
   * import { Semaphore } from "@concur/shm";
   *
   * const sem = new Semaphore(0);
   * console.log(sem.acquire({ timeout: 10 })); // false
   * sem.release();
   * console.log(sem.acquire({ timeout: 10 })); // true
   * ```
   *
   * @param options `timeout` in ms (default: forever; negative: poll once).
   * @returns `true` once a permit is taken, `false` if the timeout expired first.
   */
  acquire(options?: WaitOptions): boolean {
    // Checked before the fast path: a bad timeout is an error whether or not it would wait.
    const timeout = normalizeTimeout(options?.timeout);
    if (this.tryAcquire()) return true;
    if (timeout === 0) return false;
    const memory = this.#memory;
    const deadline = new Deadline(timeout);
    memory.add(WAITERS, 1);
    try {
      for (;;) {
        if (this.tryAcquire()) return true;
        const remaining = deadline.remaining();
        if (remaining === 0) return false;
        memory.wait(VALUE, 0, remaining);
      }
    } finally {
      memory.add(WAITERS, -1);
    }
  }

  /**
   * Takes a permit without blocking the thread or the event loop.
   *
   * @example
   * ```ts
   * import { Semaphore } from "@concur/shm";
   *
   * const sem = new Semaphore(0);
   * setTimeout(() => sem.release(), 10);
   * console.log(await sem.acquireAsync({ timeout: 1000 })); // true
   * ```
   *
   * @param options `timeout` in ms and a `signal` that cancels the wait.
   * @returns `true` once a permit is taken, `false` if the timeout expired first.
   * @throws The signal's reason, if it aborts first (no permit is taken).
   */
  async acquireAsync(options?: AsyncWaitOptions): Promise<boolean> {
    const signal = options?.signal;
    signal?.throwIfAborted();
    if (this.tryAcquire()) return true;
    const timeout = normalizeTimeout(options?.timeout);
    if (timeout === 0) return false;
    const memory = this.#memory;
    const deadline = new Deadline(timeout);
    memory.add(WAITERS, 1);
    try {
      for (;;) {
        if (this.tryAcquire()) return true;
        const remaining = deadline.remaining();
        if (remaining === 0) return false;
        await memory.waitAsync(VALUE, 0, remaining, signal);
      }
    } finally {
      memory.add(WAITERS, -1);
    }
  }

  /**
   * Gives `n` permits back and wakes up to `n` waiters.
   *
   * @example
   * ```ts
   * import { Semaphore } from "@concur/shm";
   *
   * const sem = new Semaphore(0);
   * sem.release(3);
   * console.log(sem.value); // 3
   * ```
   *
   * @param n How many permits (default 1), an integer `>= 1`.
   * @throws {RangeError} If `n` is not an integer `>= 1`.
   * @throws {SemaphoreOverflowError} If the semaphore is bounded and the
   * value would exceed the initial value, or if it would exceed 2^31 - 1;
   * the value is then unchanged.
   */
  release(n: number = 1): void {
    if (!Number.isInteger(n) || n < 1) {
      throw new RangeError(`Cannot release semaphore: n must be an integer >= 1: received ${n}`);
    }
    const memory = this.#memory;
    const limit = this.#bounded ? this.#initial : MAX_VALUE;
    let value = memory.load(VALUE);
    for (;;) {
      if (value > limit - n) {
        throw new SemaphoreOverflowError(
          this.#bounded
            ? `Cannot release bounded semaphore: value ${value} + ${n} exceeds its initial value ${limit}`
            : `Cannot release semaphore: value ${value} + ${n} exceeds ${MAX_VALUE}`,
        );
      }
      const seen = memory.compareExchange(VALUE, value, value + n);
      if (seen === value) break;
      value = seen;
    }
    // After the add (see the module doc): a waiter registered before this
    // read is asleep or will see the new value.
    if (memory.load(WAITERS) > 0) memory.notify(VALUE, n);
  }

  /**
   * Takes a permit and returns a guard that releases it: `using _ = sem.guard()`.
   *
   * @example
   * ```ts
   * import { Semaphore } from "@concur/shm";
   *
   * const sem = new Semaphore(1);
   * {
   *   using _permit = sem.guard();
   *   console.log(sem.value); // 0
   * }
   * console.log(sem.value); // 1
   * ```
   *
   * @param options `timeout` in ms (default: forever).
   * @returns The guard.
   * @throws {TimeoutError} If the timeout expired before a permit was taken.
   */
  guard(options?: WaitOptions): LockGuard {
    if (!this.acquire(options)) {
      throw new TimeoutError(`Cannot acquire semaphore: timed out after ${options?.timeout} ms`);
    }
    return makeGuard(() => this.release());
  }

  /**
   * Async {@linkcode Semaphore.guard}: `using _ = await sem.guardAsync()`.
   *
   * @example
   * ```ts
   * import { Semaphore } from "@concur/shm";
   *
   * const sem = new Semaphore(1);
   * {
   *   using _permit = await sem.guardAsync({ timeout: 100 });
   *   console.log(sem.value); // 0
   * }
   * ```
   *
   * @param options `timeout` in ms and an abort `signal`.
   * @returns The guard.
   * @throws {TimeoutError} If the timeout expired before a permit was taken.
   */
  async guardAsync(options?: AsyncWaitOptions): Promise<LockGuard> {
    if (!(await this.acquireAsync(options))) {
      throw new TimeoutError(`Cannot acquire semaphore: timed out after ${options?.timeout} ms`);
    }
    return makeGuard(() => this.release());
  }

  /**
   * Runs `fn` holding a permit, and releases it however `fn` ends.
   *
   * @example
   * ```ts
   * import { Semaphore } from "@concur/shm";
   *
   * const sem = new Semaphore(2);
   * console.log(sem.withPermit(() => sem.value)); // 1
   * ```
   *
   * @param fn The guarded section.
   * @param options `timeout` in ms for taking the permit.
   * @returns What `fn` returned.
   * @throws {TimeoutError} If no permit could be taken in time (then `fn` does not run).
   */
  withPermit<T>(fn: () => T, options?: WaitOptions): T {
    using _guard = this.guard(options);
    return fn();
  }

  /**
   * Runs `fn` (sync or async) holding a permit taken with
   * {@linkcode Semaphore.acquireAsync}, and releases it however `fn` ends.
   *
   * @example
   * ```ts
   * import { Semaphore } from "@concur/shm";
   *
   * const sem = new Semaphore(1);
   * console.log(await sem.withPermitAsync(async () => 42)); // 42
   * ```
   *
   * @param fn The guarded section.
   * @param options `timeout` in ms and an abort `signal` for taking the permit.
   * @returns What `fn` returned (awaited).
   * @throws {TimeoutError} If no permit could be taken in time (then `fn` does not run).
   */
  async withPermitAsync<T>(fn: () => T | Promise<T>, options?: AsyncWaitOptions): Promise<T> {
    using _guard = await this.guardAsync(options);
    return await fn();
  }

  /**
   * What `console.log` and `Deno.inspect` show: the state at this moment
   * (a snapshot), like Python's repr.
   *
   * @example
   * ```ts
   * import { Semaphore } from "@concur/shm";
   *
   * console.log(new Semaphore(2)); // Semaphore { value: 2, bounded: false }
   * ```
   */
  [DENO_INSPECT](): string {
    return describeState("Semaphore", { value: this.value, bounded: this.bounded });
  }
}
