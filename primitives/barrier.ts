/**
 * `Barrier`: a cyclic rendezvous of a fixed number of parties (Python's
 * `Barrier`).
 *
 * Layout (cells after the header):
 *
 * | cell      | content                                                       |
 * |-----------|---------------------------------------------------------------|
 * | `LOCK`    | internal futex lock word (`_futex_lock.ts`) guarding the rest  |
 * | `COUNT`   | parties arrived in the current generation, `0..parties-1`     |
 * | `GEN`     | the generation number; waiters sleep on it                    |
 * | `BROKEN`  | 1 while the barrier is broken (until `reset()`)               |
 * | `OUTCOME` | bit `g mod 32`: 1 if generation `g` ended broken, 0 if released |
 *
 * Header params: `[parties, default timeout in ms or -1 for none]`.
 *
 * Invariants and why they hold:
 * - `COUNT`, `BROKEN` and `OUTCOME` are written only with `LOCK` held, and
 *   `GEN` is incremented only with `LOCK` held, after the generation's
 *   outcome bit is written. A party takes its index (the old `COUNT`) and
 *   the generation it belongs to in the same critical section, so indices of
 *   one generation are distinct, `0` for the first arriver and `parties - 1`
 *   for the last, which ends the generation (runs the action, records
 *   "released", increments `GEN`, wakes every sleeper).
 * - A waiter sleeps while `GEN` still holds its generation (`wait(GEN, g)`
 *   re-checks atomically with respect to `notify(GEN)`), so a generation
 *   that ends while it is on its way to sleep is never missed. Once `GEN`
 *   moved, the outcome bit of ITS generation says whether it passed or the
 *   barrier broke, even if later generations started since (`OUTCOME` keeps
 *   the last 32 generations; a waiter would have to sleep through 32 whole
 *   generations, impossible when exactly `parties` threads use the barrier).
 * - A timed-out (or aborted) waiter takes the lock; if its generation is
 *   still current it breaks it for everyone, otherwise the generation ended
 *   in the meantime and it reports that outcome instead.
 * - The action runs in the last arriver with `LOCK` held, before any party
 *   is released, so it runs exactly once per generation. `abort()`,
 *   `reset()` and the getters work from inside the action (they see that
 *   the calling thread holds `LOCK`).
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
import { acquireLock, acquireLockAsync, ownerOf, releaseLock } from "./_futex_lock.ts";
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
import { currentOwnerId } from "./_owner.ts";
import { BrokenBarrierError, LayoutError } from "./errors.ts";
import { DENO_INSPECT, describeState } from "./_inspect.ts";

const VERSION = 1;
const LOCK = HEADER_CELLS;
const COUNT = HEADER_CELLS + 1;
const GEN = HEADER_CELLS + 2;
const BROKEN = HEADER_CELLS + 3;
const OUTCOME = HEADER_CELLS + 4;
const BYTE_LENGTH = HEADER_BYTES + 5 * 4;
const NO_TIMEOUT = -1;
const MAX_PARTIES = 0x3fffffff;

/**
 * The structured-cloneable form of a {@linkcode Barrier}.
 *
 * @example
 * ```ts
 * import { Barrier, type BarrierHandle } from "@concur/shm";
 *
 * const barrier = new Barrier(3);
 * const handle: BarrierHandle = barrier.handle; // postMessage(handle) to each worker
 * const there = Barrier.from(handle); // in a worker
 * console.log(there.parties); // 3
 * ```
 */
export type BarrierHandle = PrimitiveHandle<"Barrier">;

/**
 * Local (per-instance) options: code cannot travel in shared memory.
 *
 * @example
 * ```ts
 * import { Barrier, type BarrierLocalOptions } from "@concur/shm";
 *
 * const barrier = new Barrier(1);
 * // functions cannot be posted: a worker gives its own action when reviving
 * const local: BarrierLocalOptions = { action: () => console.log("round done") };
 * const there = Barrier.from(barrier.handle, local);
 * await there.waitAsync({ timeout: 1000 }); // prints "round done"
 * ```
 */
export interface BarrierLocalOptions {
  /**
   * Runs once per generation, in the last party to arrive, before any party
   * is released, if that party's instance was given one (give the same
   * action to every instance). If it throws, the barrier breaks: the last
   * arriver gets the error, every other party a `BrokenBarrierError`.
   */
  action?: () => void;
}

/**
 * Options of the {@linkcode Barrier} constructor.
 *
 * @example
 * ```ts
 * import { Barrier, type BarrierOptions } from "@concur/shm";
 *
 * let rounds = 0;
 * const options: BarrierOptions = { timeout: 1000, action: () => rounds++ };
 * const barrier = new Barrier(2, options);
 * await Promise.all([barrier.waitAsync(), barrier.waitAsync()]); // each stands in for a worker
 * console.log(rounds); // 1
 * ```
 */
export interface BarrierOptions extends CreateOptions, BarrierLocalOptions {
  /**
   * Default timeout in ms of `wait()` calls that give none (stored in shared
   * memory, so revived barriers use it too). Default: wait forever.
   */
  timeout?: number;
}

/**
 * A cyclic barrier shared between workers: `wait()` blocks until `parties`
 * threads have called it, then releases them all, each with a distinct index
 * `0..parties-1`. A timeout, `abort()` or `reset()` breaks it for every
 * waiter with `BrokenBarrierError`.
 *
 * @example Rounds in lockstep
 * ```ts
 * import { Barrier } from "@concur/shm";
 *
 * const barrier = new Barrier(2);
 * // post barrier.handle to a worker; there: Barrier.from(handle).wait();
 * const [a, b] = await Promise.all([
 *   barrier.waitAsync({ timeout: 1000 }),
 *   barrier.waitAsync({ timeout: 1000 }), // stands in for the worker
 * ]);
 * console.log(a + b); // 1: the indices are 0 and 1
 * ```
 */
export class Barrier {
  readonly #memory: Memory;
  readonly #parties: number;
  readonly #timeout: number | undefined;
  readonly #action: (() => void) | undefined;

  /**
   * Creates a barrier for `parties` threads.
   *
   * @param parties How many threads must call `wait()`, an integer `>= 1`.
   * @param options `timeout` (default for `wait()`), `action`, and where to allocate it.
   * @throws {RangeError} If `parties` is not an integer `>= 1`.
   */
  constructor(parties: number, options?: BarrierOptions);
  /** @internal Wraps an already checked memory. */
  constructor(memory: Memory, options?: BarrierLocalOptions);
  constructor(arg: number | Memory, options?: BarrierOptions) {
    if (options?.action !== undefined && typeof options.action !== "function") {
      throw new TypeError("Barrier action must be a function");
    }
    this.#action = options?.action;
    if (isMemory(arg)) {
      this.#memory = arg;
      this.#parties = readParam(arg, 0);
      const stored = readParam(arg, 1);
      this.#timeout = stored === NO_TIMEOUT ? undefined : stored;
      return;
    }
    if (!Number.isInteger(arg) || arg < 1 || arg > MAX_PARTIES) {
      throw new RangeError(`Barrier parties must be an integer >= 1: received ${arg}`);
    }
    const timeout = normalizeTimeout(options?.timeout);
    const stored = timeout > 0x7fffffff ? NO_TIMEOUT : Math.ceil(timeout);
    this.#memory = createMemory("Barrier", VERSION, BYTE_LENGTH, [arg, stored], options?.allocate);
    this.#parties = arg;
    this.#timeout = stored === NO_TIMEOUT ? undefined : stored;
  }

  /**
   * Revives a barrier from its handle. The action is local code, so it is
   * given here: give the same one to every instance. It runs in whichever
   * party arrives last, and an instance revived without it runs none (so a
   * generation whose last party has no action runs no action, unlike
   * Python's, which always runs it).
   *
   * @example
   * ```ts
   * import { Barrier } from "@concur/shm";
   *
   * const barrier = new Barrier(1);
   * const same = Barrier.from(barrier.handle, { action: () => console.log("all here") });
   * console.log(same.wait()); // "all here", then 0
   * ```
   *
   * @param handle The {@linkcode Barrier.handle} of a barrier.
   * @param options The `action` this instance runs when it arrives last.
   * @returns A barrier on the same shared state.
   * @throws {LayoutError} If the handle is not a valid barrier.
   */
  static from(handle: BarrierHandle, options?: BarrierLocalOptions): Barrier {
    const memory = attachPrimitive(handle, "Barrier", VERSION, BYTE_LENGTH);
    const parties = readParam(memory, 0);
    const timeout = readParam(memory, 1);
    if (parties < 1 || parties > MAX_PARTIES || timeout < NO_TIMEOUT) {
      throw new LayoutError(
        "bad-parameters",
        `Cannot revive Barrier: stored parameters [${parties}, ${timeout}] are invalid`,
      );
    }
    return new Barrier(memory, { action: options?.action });
  }

  /**
   * Plain data to post to a worker; revive it with {@linkcode Barrier.from}.
   *
   * @example
   * ```ts
   * import { Barrier } from "@concur/shm";
   *
   * console.log(new Barrier(3).handle.kind); // "Barrier"
   * ```
   */
  get handle(): BarrierHandle {
    return { kind: "Barrier", memory: this.#memory.handle() };
  }

  /**
   * How many threads must call `wait()` to release them.
   *
   * @example
   * ```ts
   * import { Barrier } from "@concur/shm";
   *
   * console.log(new Barrier(3).parties); // 3
   * ```
   */
  get parties(): number {
    return this.#parties;
  }

  /**
   * How many threads wait in the current generation (a snapshot; 0 once a
   * generation completed).
   *
   * @example
   * ```ts
   * import { Barrier } from "@concur/shm";
   *
   * console.log(new Barrier(3).nWaiting); // 0
   * ```
   */
  get nWaiting(): number {
    return this.#memory.load(COUNT);
  }

  /**
   * Whether the barrier is broken (by a timeout, `abort()` or a failing
   * action) and not yet `reset()`.
   *
   * @example
   * ```ts
   * import { Barrier } from "@concur/shm";
   *
   * const barrier = new Barrier(2);
   * barrier.abort();
   * console.log(barrier.broken); // true
   * ```
   */
  get broken(): boolean {
    return this.#memory.load(BROKEN) !== 0;
  }

  /**
   * Blocks until `parties` threads have called `wait()`. On the main thread
   * prefer {@linkcode Barrier.waitAsync}.
   *
   * @example
   * ```ts
   * import { Barrier } from "@concur/shm";
   *
   * const barrier = new Barrier(1);
   * console.log(barrier.wait(), barrier.wait()); // 0 0: cyclic
   * ```
   *
   * @param options `timeout` in ms (default: the barrier's, else forever).
   * @returns This party's index: `0` for the first arriver, `parties - 1` for the last.
   * @throws {BrokenBarrierError} If the barrier is or becomes broken, or the
   * timeout expires (which breaks it for everyone).
   * @throws What the action threw, in the last arriver (the barrier is then broken).
   */
  wait(options?: WaitOptions): number {
    const memory = this.#memory;
    const deadline = new Deadline(options?.timeout ?? this.#timeout);
    acquireLock(memory, LOCK, currentOwnerId(), Infinity);
    const [generation, index] = this.#arrive();
    if (index === this.#parties - 1) return index;
    for (;;) {
      if (memory.load(GEN) !== generation) return this.#outcome(generation, index);
      const remaining = deadline.remaining();
      if (remaining === 0) {
        acquireLock(memory, LOCK, currentOwnerId(), Infinity);
        return this.#giveUp(generation, index);
      }
      try {
        memory.wait(GEN, generation, remaining);
      } catch (interrupt) {
        // The thread is being terminated (`TerminatedError`, see
        // shm/interrupt.ts): leave like a timeout, or the others would pass
        // with a party that is gone. `waitAsync` does the same on abort.
        acquireLock(memory, LOCK, currentOwnerId(), Infinity);
        try {
          this.#giveUp(generation, index);
        } catch {
          // The barrier is broken either way; the caller gets the interrupt.
        }
        throw interrupt;
      }
    }
  }

  /**
   * {@linkcode Barrier.wait} without blocking the thread or the event loop.
   * Aborting the `signal` breaks the barrier for everyone (like a timeout)
   * and rejects with the signal's reason.
   *
   * @example
   * ```ts
   * import { Barrier } from "@concur/shm";
   *
   * const barrier = new Barrier(2);
   * const indices = await Promise.all([barrier.waitAsync(), barrier.waitAsync()]);
   * console.log(indices.sort()); // [0, 1]
   * ```
   *
   * @param options `timeout` in ms (default: the barrier's) and an abort `signal`.
   * @returns This party's index.
   * @throws {BrokenBarrierError} If the barrier is or becomes broken, or the timeout expires.
   */
  async waitAsync(options?: AsyncWaitOptions): Promise<number> {
    const signal = options?.signal;
    signal?.throwIfAborted();
    const memory = this.#memory;
    const deadline = new Deadline(options?.timeout ?? this.#timeout);
    await acquireLockAsync(memory, LOCK, currentOwnerId(), Infinity, undefined);
    const [generation, index] = this.#arrive();
    if (index === this.#parties - 1) return index;
    for (;;) {
      if (memory.load(GEN) !== generation) return this.#outcome(generation, index);
      const remaining = deadline.remaining();
      let aborted: { reason: unknown } | undefined;
      if (remaining > 0) {
        try {
          await memory.waitAsync(GEN, generation, remaining, signal);
          continue;
        } catch (reason) {
          aborted = { reason };
        }
      }
      await acquireLockAsync(memory, LOCK, currentOwnerId(), Infinity, undefined);
      if (aborted === undefined) return this.#giveUp(generation, index);
      try {
        this.#giveUp(generation, index);
      } catch {
        // The barrier is broken either way; the caller asked for the abort reason.
      }
      throw aborted.reason;
    }
  }

  /**
   * Breaks the barrier: current and later waiters get `BrokenBarrierError`
   * until {@linkcode Barrier.reset}.
   *
   * @example
   * ```ts
   * import { Barrier } from "@concur/shm";
   *
   * const barrier = new Barrier(2);
   * barrier.abort();
   * console.log(barrier.broken); // true
   * ```
   */
  abort(): void {
    this.#locked(() => this.#break());
  }

  /**
   * Returns the barrier to its initial state. Threads waiting in the current
   * generation get `BrokenBarrierError`; a broken barrier becomes usable.
   *
   * @example
   * ```ts
   * import { Barrier } from "@concur/shm";
   *
   * const barrier = new Barrier(2);
   * barrier.abort();
   * barrier.reset();
   * console.log(barrier.broken); // false
   * ```
   */
  reset(): void {
    this.#locked(() => {
      const memory = this.#memory;
      if (memory.load(COUNT) > 0) this.#break();
      memory.store(BROKEN, 0);
    });
  }

  // ---- internals ----

  /** Runs `fn` with LOCK held (re-entrant for the action's thread). */
  #locked(fn: () => void): void {
    const memory = this.#memory;
    const owner = currentOwnerId();
    if (ownerOf(memory.load(LOCK)) === owner) return fn(); // inside our action
    acquireLock(memory, LOCK, owner, Infinity);
    try {
      fn();
    } finally {
      releaseLock(memory, LOCK);
    }
  }

  /**
   * With LOCK held: registers one party and releases LOCK. The last party
   * ends the generation here. Returns [generation, index].
   */
  #arrive(): [number, number] {
    const memory = this.#memory;
    let locked = true;
    try {
      if (memory.load(BROKEN) !== 0) {
        throw new BrokenBarrierError("Cannot wait on barrier: it is broken");
      }
      const generation = memory.load(GEN);
      const index = memory.load(COUNT);
      if (index < this.#parties - 1) {
        memory.store(COUNT, index + 1);
        return [generation, index];
      }
      // The last party: run the action (LOCK held), then release everyone.
      try {
        this.#action?.();
      } catch (err) {
        if (memory.load(GEN) === generation) this.#break();
        throw err;
      }
      if (memory.load(GEN) !== generation) {
        // The action called abort() or reset().
        throw new BrokenBarrierError("Cannot pass barrier: it was broken by its action");
      }
      const mask = 1 << (generation & 31);
      memory.store(OUTCOME, memory.load(OUTCOME) & ~mask);
      memory.store(COUNT, 0);
      memory.store(GEN, (generation + 1) | 0);
      releaseLock(memory, LOCK);
      locked = false;
      memory.notify(GEN);
      return [generation, index];
    } finally {
      if (locked) releaseLock(memory, LOCK);
    }
  }

  /** With LOCK held: ends the current generation as broken; wakes its waiters. */
  #break(): void {
    const memory = this.#memory;
    const generation = memory.load(GEN);
    memory.store(OUTCOME, memory.load(OUTCOME) | (1 << (generation & 31)));
    memory.store(COUNT, 0);
    memory.store(BROKEN, 1);
    memory.store(GEN, (generation + 1) | 0);
    memory.notify(GEN);
  }

  /** How `generation` ended, for one of its parties (LOCK not held). */
  #outcome(generation: number, index: number): number {
    if ((this.#memory.load(OUTCOME) & (1 << (generation & 31))) !== 0) {
      throw new BrokenBarrierError("Cannot pass barrier: it was broken while waiting");
    }
    return index;
  }

  /**
   * With LOCK held, after a timeout or abort: breaks `generation` if it is
   * still current, then releases LOCK and reports the outcome.
   */
  #giveUp(generation: number, index: number): number {
    const memory = this.#memory;
    try {
      if (memory.load(GEN) === generation) {
        this.#break();
        throw new BrokenBarrierError(
          "Cannot pass barrier: a wait timed out or was aborted, the barrier is now broken",
        );
      }
    } finally {
      releaseLock(memory, LOCK);
    }
    return this.#outcome(generation, index);
  }

  /**
   * What `console.log` and `Deno.inspect` show: the state at this moment
   * (a snapshot), like Python's repr.
   *
   * @example
   * ```ts
   * import { Barrier } from "@concur/shm";
   *
   * console.log(new Barrier(3)); // Barrier { parties: 3, waiting: 0, broken: false }
   * ```
   */
  [DENO_INSPECT](): string {
    return describeState("Barrier", {
      parties: this.parties,
      waiting: this.nWaiting,
      broken: this.broken,
    });
  }
}
