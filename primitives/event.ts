/**
 * `Event`: a flag threads can wait for (Python's `threading.Event`).
 *
 * Layout: one cell after the header, `STATE`:
 *
 * | bits  | content                                                      |
 * |-------|--------------------------------------------------------------|
 * | 0     | the flag (1: set)                                            |
 * | 1..31 | the generation: how many times the flag went from clear to set |
 *
 * Invariants and why they hold:
 * - `set()` moves the word from `(g, clear)` to `(g + 1, set)` in one
 *   compare-exchange, then wakes every waiter on the word. `clear()` only
 *   flips bit 0 back. So, seen from a waiter that read `(g, clear)`, the
 *   word changes only if some `set()` happened after that read.
 * - A waiter reads the word once, returns `true` if the flag is set, and
 *   otherwise sleeps while the word still holds what it read (`wait` checks
 *   and sleeps atomically with respect to `notify`). When it wakes, ANY
 *   change of the word means a `set()` happened while it was waiting, so it
 *   returns `true` even if a `clear()` followed at once: `set(); clear()`
 *   wakes every current waiter with `true` (`threading` semantics, EV-4).
 * - The generation wraps after 2^31 sets; a waiter would have to miss
 *   exactly 2^31 sets between its read and its sleep to be confused.
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
} from "./_header.ts";
import { DENO_INSPECT, describeState } from "./_inspect.ts";

const VERSION = 1;
/** Flag (bit 0) and generation (bits 1..31). */
const STATE = HEADER_CELLS;
const BYTE_LENGTH = HEADER_BYTES + 4;
const FLAG = 1;

/**
 * The structured-cloneable form of an {@linkcode Event}.
 *
 * @example
 * ```ts
 * import { Event, type EventHandle } from "@concur/shm";
 *
 * const done = new Event();
 * const handle: EventHandle = done.handle; // postMessage(handle) to a worker
 * Event.from(handle).set(); // in the worker
 * console.log(done.isSet()); // true
 * ```
 */
export type EventHandle = PrimitiveHandle<"Event">;

/**
 * A boolean flag in shared memory that threads can wait for: `set()` wakes
 * every waiter, `clear()` resets it.
 *
 * @example Start workers together
 * ```ts
 * import { Event } from "@concur/shm";
 *
 * const go = new Event();
 * // post go.handle to workers; there: Event.from(handle).wait();
 * setTimeout(() => go.set(), 10);
 * console.log(await go.waitAsync({ timeout: 1000 })); // true
 * ```
 */
export class Event {
  readonly #memory: Memory;

  /**
   * Creates an event whose flag is clear.
   *
   * @param options Where to allocate it (default: fresh shared memory).
   */
  constructor(options?: CreateOptions);
  /** @internal Wraps an already checked memory. */
  constructor(memory: Memory);
  constructor(arg?: CreateOptions | Memory) {
    this.#memory = isMemory(arg)
      ? arg
      : createMemory("Event", VERSION, BYTE_LENGTH, [], arg?.allocate);
  }

  /**
   * Revives an event from its handle (typically in a worker).
   *
   * @example
   * ```ts
   * import { Event } from "@concur/shm";
   *
   * const event = new Event();
   * Event.from(event.handle).set();
   * console.log(event.isSet()); // true
   * ```
   *
   * @param handle The {@linkcode Event.handle} of an event.
   * @returns An event on the same shared state.
   * @throws {LayoutError} If the handle is not a valid event.
   */
  static from(handle: EventHandle): Event {
    return new Event(attachPrimitive(handle, "Event", VERSION, BYTE_LENGTH));
  }

  /**
   * Plain data to post to a worker; revive it with {@linkcode Event.from}.
   *
   * @example
   * ```ts
   * import { Event } from "@concur/shm";
   *
   * console.log(new Event().handle.kind); // "Event"
   * ```
   */
  get handle(): EventHandle {
    return { kind: "Event", memory: this.#memory.handle() };
  }

  /**
   * Whether the flag is set.
   *
   * @example
   * ```ts
   * import { Event } from "@concur/shm";
   *
   * const event = new Event();
   * event.set();
   * console.log(event.isSet()); // true
   * ```
   */
  isSet(): boolean {
    return (this.#memory.load(STATE) & FLAG) !== 0;
  }

  /**
   * Sets the flag and wakes every waiter. Setting a set event does nothing.
   *
   * @example
   * ```ts
   * import { Event } from "@concur/shm";
   *
   * const event = new Event();
   * event.set();
   * event.set(); // harmless
   * console.log(event.wait({ timeout: 0 })); // true
   * ```
   */
  set(): void {
    const memory = this.#memory;
    let state = memory.load(STATE);
    while ((state & FLAG) === 0) {
      const seen = memory.compareExchange(STATE, state, ((state + 2) | FLAG) | 0);
      if (seen === state) {
        memory.notify(STATE);
        return;
      }
      state = seen;
    }
  }

  /**
   * Clears the flag; later waits block until the next `set()`. Threads
   * already woken by a `set()` still return `true`.
   *
   * @example
   * ```ts
   * import { Event } from "@concur/shm";
   *
   * const event = new Event();
   * event.set();
   * event.clear();
   * console.log(event.isSet()); // false
   * ```
   */
  clear(): void {
    const memory = this.#memory;
    let state = memory.load(STATE);
    while ((state & FLAG) !== 0) {
      const seen = memory.compareExchange(STATE, state, state & ~FLAG);
      if (seen === state) return;
      state = seen;
    }
  }

  /**
   * Blocks the thread until the flag is set. On the main thread prefer
   * {@linkcode Event.waitAsync}.
   *
   * @example
   * ```ts
   * import { Event } from "@concur/shm";
   *
   * console.log(new Event().wait({ timeout: 5 })); // false
   * ```
   *
   * @param options `timeout` in ms (default: forever; negative: poll once).
   * @returns `true` if the flag is set or was set while waiting, `false` on timeout.
   */
  wait(options?: WaitOptions): boolean {
    // Checked before the fast path: a bad timeout is an error whether or not it would wait.
    const timeout = normalizeTimeout(options?.timeout);
    const memory = this.#memory;
    const start = memory.load(STATE);
    if ((start & FLAG) !== 0) return true;
    if (timeout === 0) return false;
    const deadline = new Deadline(timeout);
    for (;;) {
      const remaining = deadline.remaining();
      if (remaining === 0) return this.isSet();
      memory.wait(STATE, start, remaining);
      // Any change of the word since `start` is a set() (see the module doc).
      if (memory.load(STATE) !== start) return true;
    }
  }

  /**
   * Waits for the flag without blocking the thread or the event loop.
   *
   * @example
   * ```ts
   * import { Event } from "@concur/shm";
   *
   * const event = new Event();
   * setTimeout(() => event.set(), 5);
   * console.log(await event.waitAsync({ timeout: 1000 })); // true
   * ```
   *
   * @param options `timeout` in ms and a `signal` that cancels the wait.
   * @returns `true` if the flag is set or was set while waiting, `false` on timeout.
   * @throws The signal's reason, if it aborts first.
   */
  async waitAsync(options?: AsyncWaitOptions): Promise<boolean> {
    const signal = options?.signal;
    signal?.throwIfAborted();
    const memory = this.#memory;
    const start = memory.load(STATE);
    if ((start & FLAG) !== 0) return true;
    const timeout = normalizeTimeout(options?.timeout);
    if (timeout === 0) return false;
    const deadline = new Deadline(timeout);
    for (;;) {
      const remaining = deadline.remaining();
      if (remaining === 0) return this.isSet();
      await memory.waitAsync(STATE, start, remaining, signal);
      if (memory.load(STATE) !== start) return true;
    }
  }

  /**
   * What `console.log` and `Deno.inspect` show: the state at this moment
   * (a snapshot), like Python's repr.
   *
   * @example
   * ```ts
   * import { Event } from "@concur/shm";
   *
   * console.log(new Event()); // Event { set: false }
   * ```
   */
  [DENO_INSPECT](): string {
    return describeState("Event", { set: this.isSet() });
  }
}
