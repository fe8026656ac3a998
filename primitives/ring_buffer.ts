/**
 * `RingBuffer`: a single-producer single-consumer ring of messages in shared
 * memory, lock-free and wait-free on its fast path.
 *
 * @module
 */

import type { Memory } from "../shm/memory.ts";
import type { AsyncWaitOptions, WaitOptions } from "../shm/timeout.ts";
import {
  attachPrimitive,
  createMemory,
  type CreateOptions,
  isMemory,
  type PrimitiveHandle,
  readParam,
} from "./_header.ts";
import { ceilPow2, LazyDeadline, Ready, spinsFor, SpscRing } from "./_spsc_ring.ts";
import { ClosedError, LayoutError } from "./errors.ts";
import { DENO_INSPECT, describeState } from "./_inspect.ts";

/** 2: a run of numbers may be padded (see `_spsc_ring.ts`). */
const VERSION = 2;
/** The ring starts on the second cache line, away from the header. */
const BASE = 16;
const MIN_CELLS = 4;
const MAX_CELLS = 1 << 28;

/**
 * The structured-cloneable form of a {@linkcode RingBuffer}.
 *
 * @example
 * ```ts
 * import { RingBuffer, type RingBufferHandle } from "@concur/shm";
 *
 * const ring = new RingBuffer(64);
 * const handle: RingBufferHandle = ring.handle; // postMessage(handle) to a worker
 * RingBuffer.from(handle).pushNumber(3); // in the worker
 * console.log(ring.popNumber()); // 3
 * ```
 */
export type RingBufferHandle = PrimitiveHandle<"RingBuffer">;

function checkMax(max: number): void {
  if (!Number.isInteger(max) || max < 1) {
    throw new RangeError(`Cannot pop: max must be an integer >= 1, received ${max}`);
  }
}

function byteLengthFor(cells: number): number {
  return (BASE + SpscRing.cells(cells)) * 4;
}

/**
 * A ring of messages between exactly one producer and one consumer (each may
 * be any thread, but only one of each at a time): variable-length byte
 * messages, and numbers on a typed fast path.
 *
 * - `push`/`pop` carry `Uint8Array` messages, length-prefixed and kept
 *   whole (boundaries preserved, wrap-around handled, the empty message is a
 *   message). `pushMany`/`popMany` move batches with one publication.
 * - `pushNumber`/`popNumber` carry single numbers (int32 when the value is
 *   one, float64 otherwise); `pushNumbers`/`popNumbers` move whole
 *   `Int32Array`/`Float64Array` batches with one copy.
 * - The fast path is a few loads and stores on cells and a byte copy; no
 *   lock, no allocation on the number paths. A side that must wait spins
 *   briefly, then sleeps on a futex wait, and the other side pays a notify
 *   only when someone sleeps.
 * - `try...` forms never wait; the blocking forms take a `timeout` (ms) and
 *   return `false`/`undefined` when it expires; `...Async` forms take a
 *   `signal` too and never block the event loop.
 * - `close()` ends it: pushes then throw {@linkcode ClosedError}; pops
 *   drain what is left, then throw it.
 *
 * Messages of different kinds can be mixed; a typed pop that meets the other
 * kind throws a `TypeError` and takes nothing.
 *
 * @example Bytes and numbers through one ring
 * ```ts
 * import { RingBuffer } from "@concur/shm";
 *
 * const ring = new RingBuffer(1024); // bytes of capacity
 * // new Worker(url).postMessage(ring.handle); in the worker: RingBuffer.from(handle)
 * ring.push(new TextEncoder().encode("hello"));
 * ring.pushNumber(42);
 * console.log(new TextDecoder().decode(ring.pop()!)); // "hello"
 * console.log(ring.popNumber()); // 42
 * ```
 */
export class RingBuffer {
  readonly #memory: Memory;
  readonly #ring: SpscRing;

  /**
   * Creates an empty ring.
   *
   * @param capacity Bytes of message storage, rounded up to a power of two
   * (at least 16). A message takes 4 bytes plus its length rounded up to 4;
   * a number takes 8 (int32) or 12 (float64) bytes alone, 4 or 8 in a batch,
   * which adds a 4-byte header (and 4 bytes of padding when a batch of 16
   * cells or more fits whole with them into a ring at least half free:
   * they align the numbers for a faster copy).
   * @param options Where to allocate it (default: fresh shared memory).
   * @throws {RangeError} If `capacity` is not a positive integer up to 1 GiB.
   */
  constructor(capacity: number, options?: CreateOptions);
  /** @internal Wraps an already checked memory. */
  constructor(memory: Memory);
  constructor(arg: number | Memory, options?: CreateOptions) {
    if (isMemory(arg)) {
      this.#memory = arg;
    } else {
      if (!Number.isInteger(arg) || arg < 1 || arg > MAX_CELLS * 4) {
        throw new RangeError(
          `Cannot create RingBuffer: capacity must be an integer in [1, ${
            MAX_CELLS * 4
          }] bytes, received ${arg}`,
        );
      }
      const cells = Math.max(MIN_CELLS, ceilPow2(Math.ceil(arg / 4)));
      this.#memory = createMemory(
        "RingBuffer",
        VERSION,
        byteLengthFor(cells),
        [cells],
        options?.allocate,
      );
    }
    this.#ring = new SpscRing(this.#memory, BASE, readParam(this.#memory, 0));
  }

  /**
   * Revives a ring from its handle (typically in a worker).
   *
   * @param handle The {@linkcode RingBuffer.handle} of a ring.
   * @returns A ring on the same shared state.
   * @throws {LayoutError} If the handle is not a valid ring.
   *
   * @example
   * ```ts
   * import { RingBuffer } from "@concur/shm";
   *
   * const ring = new RingBuffer(64);
   * RingBuffer.from(ring.handle).pushNumber(1);
   * console.log(ring.popNumber()); // 1
   * ```
   */
  static from(handle: RingBufferHandle): RingBuffer {
    const memory = attachPrimitive(handle, "RingBuffer", VERSION, byteLengthFor(MIN_CELLS));
    const cells = readParam(memory, 0);
    if (
      cells < MIN_CELLS || cells > MAX_CELLS || (cells & (cells - 1)) !== 0 ||
      memory.byteLength !== byteLengthFor(cells)
    ) {
      throw new LayoutError(
        "bad-parameters",
        `Cannot revive RingBuffer: stored capacity ${cells} cells does not match ${memory.byteLength} bytes`,
      );
    }
    return new RingBuffer(memory);
  }

  /**
   * Plain data to post to a worker; revive it with {@linkcode RingBuffer.from}.
   *
   * @example
   * ```ts
   * import { RingBuffer } from "@concur/shm";
   *
   * console.log(new RingBuffer(64).handle.kind); // "RingBuffer"
   * ```
   */
  get handle(): RingBufferHandle {
    return { kind: "RingBuffer", memory: this.#memory.handle() };
  }

  /**
   * Bytes of message storage (a power of two).
   *
   * @example
   * ```ts
   * import { RingBuffer } from "@concur/shm";
   *
   * console.log(new RingBuffer(1000).capacity); // 1024
   * ```
   */
  get capacity(): number {
    return this.#ring.capacity * 4;
  }

  /**
   * The largest byte message that fits (capacity minus its 4-byte prefix).
   *
   * @example
   * ```ts
   * import { RingBuffer } from "@concur/shm";
   *
   * console.log(new RingBuffer(64).maxMessageBytes); // 60
   * ```
   */
  get maxMessageBytes(): number {
    return (this.#ring.capacity - 1) * 4;
  }

  /**
   * Bytes of storage in use by messages not yet popped (a snapshot).
   *
   * @example
   * ```ts
   * import { RingBuffer } from "@concur/shm";
   *
   * const ring = new RingBuffer(64);
   * ring.push(new Uint8Array(3));
   * console.log(ring.usedBytes()); // 8
   * ```
   */
  usedBytes(): number {
    return this.#ring.usedCells() * 4;
  }

  /**
   * Whether no message is waiting (a snapshot).
   *
   * @example
   * ```ts
   * import { RingBuffer } from "@concur/shm";
   *
   * console.log(new RingBuffer(64).empty()); // true
   * ```
   */
  empty(): boolean {
    return this.#ring.usedCells() === 0;
  }

  /**
   * Whether {@linkcode RingBuffer.close} was called.
   *
   * @example
   * ```ts
   * import { RingBuffer } from "@concur/shm";
   *
   * const ring = new RingBuffer(64);
   * ring.close();
   * console.log(ring.closed); // true
   * ```
   */
  get closed(): boolean {
    return this.#ring.writerClosed();
  }

  /**
   * Closes the ring for both sides: pushes throw {@linkcode ClosedError}
   * from now on; pops return what is left, then throw it. Blocked callers
   * wake. Closing twice does nothing.
   *
   * @example
   * ```ts
   * import { RingBuffer } from "@concur/shm";
   *
   * const ring = new RingBuffer(64);
   * ring.pushNumber(1);
   * ring.close();
   * console.log(ring.popNumber()); // 1, then popNumber() throws ClosedError
   * ```
   */
  close(): void {
    this.#ring.closeReader();
    this.#ring.closeWriter();
  }

  #checkPushable(): void {
    if (this.#ring.readerClosed()) {
      throw new ClosedError("Cannot push to RingBuffer: it is closed");
    }
  }

  #checkMessage(bytes: Uint8Array): number {
    if (!(bytes instanceof Uint8Array)) {
      throw new TypeError(
        `Cannot push to RingBuffer: expected a Uint8Array, received ${typeof bytes}`,
      );
    }
    if (bytes.length > this.maxMessageBytes) {
      throw new RangeError(
        `Cannot push to RingBuffer: a message of ${bytes.length} bytes can never fit (at most ${this.maxMessageBytes})`,
      );
    }
    return SpscRing.frameCells(bytes.length);
  }

  #throwClosedPop(): never {
    throw new ClosedError("Cannot pop from RingBuffer: it is closed and drained");
  }
  /**
   * The slow path of every blocking single push: waits until `need` cells are
   * free (spinning briefly, then sleeping) and retries `tryPut` until it
   * succeeds, the deadline passes (`false`) or the ring closes (throws).
   */
  #putWaiting(need: number, tryPut: () => boolean, options?: WaitOptions): boolean {
    const deadline = new LazyDeadline(options?.timeout);
    for (;;) {
      const ready = this.#ring.awaitWritable(need, deadline, spinsFor(options?.timeout));
      if (ready === Ready.Closed) this.#checkPushable();
      if (ready === Ready.TimedOut) return false;
      if (tryPut()) return true;
    }
  }

  /** {@linkcode RingBuffer.#putWaiting} without blocking the thread. */
  async #putWaitingAsync(
    need: number,
    tryPut: () => boolean,
    options?: AsyncWaitOptions,
  ): Promise<boolean> {
    const deadline = new LazyDeadline(options?.timeout);
    for (;;) {
      const ready = await this.#ring.awaitWritableAsync(need, deadline, options?.signal);
      if (ready === Ready.Closed) this.#checkPushable();
      if (ready === Ready.TimedOut) return false;
      if (tryPut()) return true;
    }
  }

  /**
   * The slow path of every blocking single pop: waits for a message and
   * retries `tryTake` until it yields one, the deadline passes (`undefined`)
   * or the ring is closed and drained (throws).
   */
  #takeWaiting<T>(tryTake: () => T | undefined, options?: WaitOptions): T | undefined {
    const deadline = new LazyDeadline(options?.timeout);
    for (;;) {
      const ready = this.#ring.awaitReadable(deadline, spinsFor(options?.timeout));
      if (ready === Ready.Closed) this.#throwClosedPop();
      if (ready === Ready.TimedOut) return undefined;
      const taken = tryTake();
      if (taken !== undefined) return taken;
    }
  }

  /** {@linkcode RingBuffer.#takeWaiting} without blocking the thread. */
  async #takeWaitingAsync<T>(
    tryTake: () => T | undefined,
    options?: AsyncWaitOptions,
  ): Promise<T | undefined> {
    const deadline = new LazyDeadline(options?.timeout);
    for (;;) {
      const ready = await this.#ring.awaitReadableAsync(deadline, options?.signal);
      if (ready === Ready.Closed) this.#throwClosedPop();
      if (ready === Ready.TimedOut) return undefined;
      const taken = tryTake();
      if (taken !== undefined) return taken;
    }
  }

  // --------------------------------------------------------------- bytes

  /**
   * Pushes a byte message if there is room now.
   *
   * @param bytes The message (copied).
   * @returns Whether it was pushed.
   * @throws {RangeError} If the message can never fit.
   * @throws {ClosedError} If the ring is closed.
   *
   * @example
   * ```ts
   * import { RingBuffer } from "@concur/shm";
   *
   * const ring = new RingBuffer(16);
   * console.log(ring.tryPush(new Uint8Array(8))); // true
   * console.log(ring.tryPush(new Uint8Array(8))); // false: full
   * ```
   */
  tryPush(bytes: Uint8Array): boolean {
    this.#checkMessage(bytes);
    this.#checkPushable();
    return this.#ring.tryPushBytes(bytes);
  }

  /**
   * Pushes a byte message, waiting for room.
   *
   * @param bytes The message (copied).
   * @param options `timeout` in ms (default: forever; negative: poll once).
   * @returns `true` once pushed, `false` if the timeout expired first.
   * @throws {RangeError} If the message can never fit.
   * @throws {ClosedError} If the ring is (or gets) closed.
   *
   * @example
   * ```ts
   * import { RingBuffer } from "@concur/shm";
   *
   * const ring = new RingBuffer(64);
   * ring.push(new Uint8Array([1, 2, 3]), { timeout: 100 });
   * console.log(ring.pop()); // Uint8Array(3) [ 1, 2, 3 ]
   * ```
   */
  push(bytes: Uint8Array, options?: WaitOptions): boolean {
    const need = this.#checkMessage(bytes);
    this.#checkPushable();
    if (this.#ring.tryPushBytes(bytes)) return true;
    return this.#putWaiting(need, () => this.#ring.tryPushBytes(bytes), options);
  }

  /**
   * {@linkcode RingBuffer.push} without blocking the thread.
   *
   * @param bytes The message (copied).
   * @param options `timeout` in ms and an abort `signal`.
   * @returns `true` once pushed, `false` if the timeout expired first.
   * @throws The signal's reason, if it aborts first.
   *
   * @example
   * ```ts
   * import { RingBuffer } from "@concur/shm";
   *
   * const ring = new RingBuffer(64);
   * console.log(await ring.pushAsync(new Uint8Array(4))); // true
   * ```
   */
  async pushAsync(bytes: Uint8Array, options?: AsyncWaitOptions): Promise<boolean> {
    const need = this.#checkMessage(bytes);
    options?.signal?.throwIfAborted();
    this.#checkPushable();
    if (this.#ring.tryPushBytes(bytes)) return true;
    return await this.#putWaitingAsync(need, () => this.#ring.tryPushBytes(bytes), options);
  }

  /**
   * Takes the next byte message if there is one.
   *
   * @returns The message, or `undefined` if the ring is empty.
   * @throws {ClosedError} If the ring is closed and drained.
   * @throws {TypeError} If the next message is a number (nothing is taken).
   * @throws {MessageCorruptError} If the ring's memory holds a malformed frame.
   *
   * @example
   * ```ts
   * import { RingBuffer } from "@concur/shm";
   *
   * const ring = new RingBuffer(64);
   * console.log(ring.tryPop()); // undefined
   * ```
   */
  tryPop(): Uint8Array | undefined {
    const message = this.#ring.tryPopBytes();
    if (message === undefined && this.#ring.writerClosed() && this.#ring.usedCells() === 0) {
      this.#throwClosedPop();
    }
    return message;
  }

  /**
   * Takes the next byte message, waiting for one.
   *
   * @param options `timeout` in ms (default: forever; negative: poll once).
   * @returns The message, or `undefined` if the timeout expired first.
   * @throws {ClosedError} If the ring is (or gets) closed and is drained.
   *
   * @example
   * ```ts
   * import { RingBuffer } from "@concur/shm";
   *
   * const ring = new RingBuffer(64);
   * console.log(ring.pop({ timeout: 10 })); // undefined after 10 ms
   * ```
   */
  pop(options?: WaitOptions): Uint8Array | undefined {
    const message = this.#ring.tryPopBytes();
    if (message !== undefined) return message;
    return this.#takeWaiting(() => this.#ring.tryPopBytes(), options);
  }

  /**
   * {@linkcode RingBuffer.pop} without blocking the thread.
   *
   * @param options `timeout` in ms and an abort `signal`.
   * @returns The message, or `undefined` if the timeout expired first.
   * @throws The signal's reason, if it aborts first.
   *
   * @example
   * ```ts
   * import { RingBuffer } from "@concur/shm";
   *
   * const ring = new RingBuffer(64);
   * ring.push(new Uint8Array([7]));
   * console.log(await ring.popAsync()); // Uint8Array(1) [ 7 ]
   * ```
   */
  async popAsync(options?: AsyncWaitOptions): Promise<Uint8Array | undefined> {
    options?.signal?.throwIfAborted();
    const message = this.#ring.tryPopBytes();
    if (message !== undefined) return message;
    return await this.#takeWaitingAsync(() => this.#ring.tryPopBytes(), options);
  }

  /**
   * Pushes as many of `messages` as fit now, in order, publishing them at
   * once.
   *
   * @param messages The messages (copied).
   * @returns How many were pushed (a prefix of `messages`).
   * @throws {RangeError} If any message can never fit (nothing is pushed).
   *
   * @example
   * ```ts
   * import { RingBuffer } from "@concur/shm";
   *
   * const ring = new RingBuffer(16);
   * console.log(ring.tryPushMany([new Uint8Array(4), new Uint8Array(4), new Uint8Array(4)])); // 2
   * ```
   */
  tryPushMany(messages: readonly Uint8Array[]): number {
    for (const bytes of messages) this.#checkMessage(bytes);
    this.#checkPushable();
    return this.#ring.tryPushManyBytes(messages, 0);
  }

  /**
   * Pushes all of `messages` in order, waiting for room as needed and
   * publishing as many at once as fit.
   *
   * @param messages The messages (copied).
   * @param options `timeout` in ms for the whole batch.
   * @returns How many were pushed: `messages.length`, or fewer if the timeout expired.
   *
   * @example
   * ```ts
   * import { RingBuffer } from "@concur/shm";
   *
   * const ring = new RingBuffer(64);
   * console.log(ring.pushMany([new Uint8Array(1), new Uint8Array(2)])); // 2
   * ```
   */
  pushMany(messages: readonly Uint8Array[], options?: WaitOptions): number {
    for (const bytes of messages) this.#checkMessage(bytes);
    this.#checkPushable();
    let done = this.#ring.tryPushManyBytes(messages, 0);
    if (done === messages.length) return done;
    const deadline = new LazyDeadline(options?.timeout);
    while (done < messages.length) {
      const ready = this.#ring.awaitWritable(
        SpscRing.frameCells(messages[done].length),
        deadline,
        spinsFor(options?.timeout),
      );
      if (ready === Ready.Closed) this.#checkPushable();
      if (ready === Ready.TimedOut) break;
      done += this.#ring.tryPushManyBytes(messages, done);
    }
    return done;
  }

  /**
   * {@linkcode RingBuffer.pushMany} without blocking the thread.
   *
   * @param messages The messages (copied).
   * @param options `timeout` in ms for the whole batch, and an abort `signal`.
   * @returns How many were pushed: `messages.length`, or fewer if the timeout expired.
   * @throws {RangeError} If any message can never fit (nothing is pushed).
   * @throws The signal's reason, if it aborts first.
   *
   * @example
   * ```ts
   * import { RingBuffer } from "@concur/shm";
   *
   * const ring = new RingBuffer(64);
   * console.log(await ring.pushManyAsync([new Uint8Array(1), new Uint8Array(2)])); // 2
   * ```
   */
  async pushManyAsync(
    messages: readonly Uint8Array[],
    options?: AsyncWaitOptions,
  ): Promise<number> {
    for (const bytes of messages) this.#checkMessage(bytes);
    options?.signal?.throwIfAborted();
    this.#checkPushable();
    let done = this.#ring.tryPushManyBytes(messages, 0);
    const deadline = new LazyDeadline(options?.timeout);
    while (done < messages.length) {
      const ready = await this.#ring.awaitWritableAsync(
        SpscRing.frameCells(messages[done].length),
        deadline,
        options?.signal,
      );
      if (ready === Ready.Closed) this.#checkPushable();
      if (ready === Ready.TimedOut) break;
      done += this.#ring.tryPushManyBytes(messages, done);
    }
    return done;
  }

  /**
   * Takes up to `max` byte messages that are waiting now.
   *
   * @param max The most to take.
   * @returns The messages (empty if none is waiting).
   * @throws {RangeError} If `max` is not an integer >= 1.
   * @throws {ClosedError} If the ring is closed and drained.
   *
   * @example
   * ```ts
   * import { RingBuffer } from "@concur/shm";
   *
   * const ring = new RingBuffer(64);
   * ring.pushMany([new Uint8Array(1), new Uint8Array(2)]);
   * console.log(ring.tryPopMany(10).length); // 2
   * ```
   */
  tryPopMany(max: number): Uint8Array[] {
    checkMax(max);
    const out: Uint8Array[] = [];
    this.#ring.tryPopManyBytes(max, out);
    if (out.length === 0 && this.#ring.writerClosed() && this.#ring.usedCells() === 0) {
      this.#throwClosedPop();
    }
    return out;
  }

  /**
   * Waits for at least one byte message, then takes up to `max` of those
   * waiting.
   *
   * @param max The most to take.
   * @param options `timeout` in ms.
   * @returns The messages (empty only if the timeout expired).
   * @throws {RangeError} If `max` is not an integer >= 1.
   * @throws {ClosedError} If the ring is (or gets) closed and is drained.
   *
   * @example
   * ```ts
   * import { RingBuffer } from "@concur/shm";
   *
   * const ring = new RingBuffer(64);
   * ring.push(new Uint8Array(1));
   * console.log(ring.popMany(8, { timeout: 100 }).length); // 1
   * ```
   */
  popMany(max: number, options?: WaitOptions): Uint8Array[] {
    checkMax(max);
    const out: Uint8Array[] = [];
    if (this.#ring.tryPopManyBytes(max, out) > 0) return out;
    const deadline = new LazyDeadline(options?.timeout);
    for (;;) {
      const ready = this.#ring.awaitReadable(deadline, spinsFor(options?.timeout));
      if (ready === Ready.Closed) this.#throwClosedPop();
      if (ready === Ready.TimedOut) return out;
      if (this.#ring.tryPopManyBytes(max, out) > 0) return out;
      if (this.#ring.nextKindCode() >= 2) {
        throw new TypeError("Cannot pop bytes: the next message is a number (use popNumber)");
      }
    }
  }

  /**
   * {@linkcode RingBuffer.popMany} without blocking the thread.
   *
   * @param max The most to take.
   * @param options `timeout` in ms and an abort `signal`.
   * @returns The messages (empty only if the timeout expired).
   * @throws {RangeError} If `max` is not an integer >= 1.
   * @throws {ClosedError} If the ring is (or gets) closed and is drained.
   * @throws The signal's reason, if it aborts first.
   *
   * @example
   * ```ts
   * import { RingBuffer } from "@concur/shm";
   *
   * const ring = new RingBuffer(64);
   * ring.push(new Uint8Array(1));
   * console.log((await ring.popManyAsync(8, { timeout: 100 })).length); // 1
   * ```
   */
  async popManyAsync(max: number, options?: AsyncWaitOptions): Promise<Uint8Array[]> {
    checkMax(max);
    options?.signal?.throwIfAborted();
    const out: Uint8Array[] = [];
    if (this.#ring.tryPopManyBytes(max, out) > 0) return out;
    const deadline = new LazyDeadline(options?.timeout);
    for (;;) {
      const ready = await this.#ring.awaitReadableAsync(deadline, options?.signal);
      if (ready === Ready.Closed) this.#throwClosedPop();
      if (ready === Ready.TimedOut) return out;
      if (this.#ring.tryPopManyBytes(max, out) > 0) return out;
      if (this.#ring.nextKindCode() >= 2) {
        throw new TypeError("Cannot pop bytes: the next message is a number (use popNumber)");
      }
    }
  }

  // ------------------------------------------------------------- numbers

  #pushOneNumber(value: number): boolean {
    if ((value | 0) === value && !Object.is(value, -0)) return this.#ring.tryPushInt32(value);
    return this.#ring.tryPushFloat64(value);
  }

  #checkNumber(value: number): void {
    if (typeof value !== "number") {
      throw new TypeError(
        `Cannot push to RingBuffer: expected a number, received ${typeof value}`,
      );
    }
  }

  /**
   * Pushes a number if there is room now (8 bytes for an int32, 12 for
   * another number).
   *
   * @param value The number.
   * @returns Whether it was pushed.
   * @throws {ClosedError} If the ring is closed.
   *
   * @example
   * ```ts
   * import { RingBuffer } from "@concur/shm";
   *
   * const ring = new RingBuffer(16);
   * console.log(ring.tryPushNumber(1.5)); // true
   * ```
   */
  tryPushNumber(value: number): boolean {
    this.#checkNumber(value);
    this.#checkPushable();
    return this.#pushOneNumber(value);
  }

  /**
   * Pushes a number, waiting for room.
   *
   * @param value The number.
   * @param options `timeout` in ms.
   * @returns `true` once pushed, `false` if the timeout expired first.
   * @throws {ClosedError} If the ring is (or gets) closed.
   *
   * @example
   * ```ts
   * import { RingBuffer } from "@concur/shm";
   *
   * const ring = new RingBuffer(64);
   * ring.pushNumber(-3);
   * console.log(ring.popNumber()); // -3
   * ```
   */
  pushNumber(value: number, options?: WaitOptions): boolean {
    this.#checkNumber(value);
    this.#checkPushable();
    if (this.#pushOneNumber(value)) return true;
    return this.#putWaiting(3, () => this.#pushOneNumber(value), options);
  }

  /**
   * {@linkcode RingBuffer.pushNumber} without blocking the thread.
   *
   * @param value The number.
   * @param options `timeout` in ms and an abort `signal`.
   * @returns `true` once pushed, `false` if the timeout expired first.
   *
   * @example
   * ```ts
   * import { RingBuffer } from "@concur/shm";
   *
   * const ring = new RingBuffer(64);
   * console.log(await ring.pushNumberAsync(5)); // true
   * ```
   */
  async pushNumberAsync(value: number, options?: AsyncWaitOptions): Promise<boolean> {
    this.#checkNumber(value);
    options?.signal?.throwIfAborted();
    this.#checkPushable();
    if (this.#pushOneNumber(value)) return true;
    return await this.#putWaitingAsync(3, () => this.#pushOneNumber(value), options);
  }

  /**
   * Takes the next number if there is one.
   *
   * @returns The number, or `undefined` if the ring is empty.
   * @throws {ClosedError} If the ring is closed and drained.
   * @throws {TypeError} If the next message is bytes (nothing is taken).
   *
   * @example
   * ```ts
   * import { RingBuffer } from "@concur/shm";
   *
   * console.log(new RingBuffer(64).tryPopNumber()); // undefined
   * ```
   */
  tryPopNumber(): number | undefined {
    const value = this.#ring.tryPopNumber();
    if (value === undefined && this.#ring.writerClosed() && this.#ring.usedCells() === 0) {
      this.#throwClosedPop();
    }
    return value;
  }

  /**
   * Takes the next number, waiting for one.
   *
   * @param options `timeout` in ms.
   * @returns The number, or `undefined` if the timeout expired first.
   * @throws {ClosedError} If the ring is (or gets) closed and is drained.
   *
   * @example
   * ```ts
   * import { RingBuffer } from "@concur/shm";
   *
   * const ring = new RingBuffer(64);
   * ring.pushNumber(2 ** 40);
   * console.log(ring.popNumber()); // 1099511627776
   * ```
   */
  popNumber(options?: WaitOptions): number | undefined {
    const value = this.#ring.tryPopNumber();
    if (value !== undefined) return value;
    return this.#takeWaiting(() => this.#ring.tryPopNumber(), options);
  }

  /**
   * {@linkcode RingBuffer.popNumber} without blocking the thread.
   *
   * @param options `timeout` in ms and an abort `signal`.
   * @returns The number, or `undefined` if the timeout expired first.
   *
   * @example
   * ```ts
   * import { RingBuffer } from "@concur/shm";
   *
   * const ring = new RingBuffer(64);
   * ring.pushNumber(9);
   * console.log(await ring.popNumberAsync()); // 9
   * ```
   */
  async popNumberAsync(options?: AsyncWaitOptions): Promise<number | undefined> {
    options?.signal?.throwIfAborted();
    const value = this.#ring.tryPopNumber();
    if (value !== undefined) return value;
    return await this.#takeWaitingAsync(() => this.#ring.tryPopNumber(), options);
  }

  #checkArray(values: Int32Array | Float64Array, verb: string): void {
    if (!(values instanceof Int32Array) && !(values instanceof Float64Array)) {
      throw new TypeError(`Cannot ${verb} numbers: expected an Int32Array or a Float64Array`);
    }
  }

  /**
   * Pushes as many of `values` as fit now, with one copy.
   *
   * @param values The numbers.
   * @returns How many were pushed (a prefix).
   *
   * @example
   * ```ts
   * import { RingBuffer } from "@concur/shm";
   *
   * const ring = new RingBuffer(16);
   * console.log(ring.tryPushNumbers(new Int32Array([1, 2, 3, 4, 5]))); // 3
   * ```
   */
  tryPushNumbers(values: Int32Array | Float64Array): number {
    this.#checkArray(values, "push");
    this.#checkPushable();
    return values.length === 0 ? 0 : this.#ring.tryPushRun(values, 0);
  }

  /**
   * Pushes all of `values`, waiting for room as needed.
   *
   * @param values The numbers.
   * @param options `timeout` in ms for the whole batch.
   * @returns How many were pushed: `values.length`, or fewer if the timeout expired.
   *
   * @example
   * ```ts
   * import { RingBuffer } from "@concur/shm";
   *
   * const ring = new RingBuffer(64);
   * console.log(ring.pushNumbers(new Float64Array([0.5, 1.5]))); // 2
   * ```
   */
  pushNumbers(values: Int32Array | Float64Array, options?: WaitOptions): number {
    this.#checkArray(values, "push");
    this.#checkPushable();
    let done = this.#pushRuns(values, 0);
    let deadline: LazyDeadline | undefined; // (the fast path allocates nothing)
    while (done < values.length) {
      deadline ??= new LazyDeadline(options?.timeout);
      const need = this.#nextRunCells(values, done);
      const ready = this.#ring.awaitWritable(need, deadline, spinsFor(options?.timeout));
      if (ready === Ready.Closed) this.#checkPushable();
      if (ready === Ready.TimedOut) break;
      done = this.#pushRuns(values, done);
    }
    return done;
  }

  /**
   * Pushes what fits now of `values[done..]` in runs of
   * {@linkcode RingBuffer.#nextRunCells}; returns how many are pushed in all.
   */
  #pushRuns(values: Int32Array | Float64Array, done: number): number {
    while (done < values.length) {
      const perItem = values instanceof Int32Array ? 1 : 2;
      const atLeast = (this.#nextRunCells(values, done) - 1) / perItem;
      const pushed = this.#ring.tryPushRun(values, done, atLeast);
      if (pushed === 0) break;
      done += pushed;
    }
    return done;
  }

  /**
   * Cells the next run of `values[done..]` needs: at least half a ring of
   * numbers (or the rest), since pushing whatever trickles free when the
   * ring is full would cut the batch into tiny runs.
   */
  #nextRunCells(values: Int32Array | Float64Array, done: number): number {
    const perItem = values instanceof Int32Array ? 1 : 2;
    const chunk = Math.max(1, ((this.#ring.capacity >>> 1) - 1) / perItem | 0);
    return 1 + Math.min(values.length - done, chunk) * perItem;
  }

  /**
   * {@linkcode RingBuffer.pushNumbers} without blocking the thread.
   *
   * @param values The numbers.
   * @param options `timeout` in ms for the whole batch, and an abort `signal`.
   * @returns How many were pushed: `values.length`, or fewer if the timeout expired.
   * @throws The signal's reason, if it aborts first.
   *
   * @example
   * ```ts
   * import { RingBuffer } from "@concur/shm";
   *
   * const ring = new RingBuffer(64);
   * console.log(await ring.pushNumbersAsync(new Int32Array([1, 2, 3]))); // 3
   * ```
   */
  async pushNumbersAsync(
    values: Int32Array | Float64Array,
    options?: AsyncWaitOptions,
  ): Promise<number> {
    this.#checkArray(values, "push");
    options?.signal?.throwIfAborted();
    this.#checkPushable();
    let done = this.#pushRuns(values, 0);
    const deadline = new LazyDeadline(options?.timeout);
    while (done < values.length) {
      const need = this.#nextRunCells(values, done);
      const ready = await this.#ring.awaitWritableAsync(need, deadline, options?.signal);
      if (ready === Ready.Closed) this.#checkPushable();
      if (ready === Ready.TimedOut) break;
      done = this.#pushRuns(values, done);
    }
    return done;
  }

  /**
   * Takes the numbers waiting now into `target`, up to its length.
   *
   * @param target Where to put them (an `Int32Array` takes int32 numbers,
   * a `Float64Array` takes the others).
   * @returns How many were taken (0 if none is waiting, or if the next
   * message is not a number of the target's type).
   * @throws {ClosedError} If the ring is closed and drained.
   *
   * @example
   * ```ts
   * import { RingBuffer } from "@concur/shm";
   *
   * const ring = new RingBuffer(64);
   * ring.pushNumbers(new Int32Array([4, 5, 6]));
   * const out = new Int32Array(2);
   * console.log(ring.tryPopNumbers(out), out); // 2 Int32Array(2) [ 4, 5 ]
   * ```
   */
  tryPopNumbers(target: Int32Array | Float64Array): number {
    this.#checkArray(target, "pop");
    const done = this.#ring.tryPopRuns(target, 0);
    if (done === 0 && this.#ring.writerClosed() && this.#ring.usedCells() === 0) {
      this.#throwClosedPop();
    }
    return done;
  }

  /**
   * Waits for at least one number, then takes those waiting into `target`.
   *
   * @param target Where to put them (see {@linkcode RingBuffer.tryPopNumbers}).
   * @param options `timeout` in ms.
   * @returns How many were taken (0 only if the timeout expired).
   * @throws {TypeError} If the next message is not a number of the target's type.
   * @throws {ClosedError} If the ring is (or gets) closed and is drained.
   *
   * @example
   * ```ts
   * import { RingBuffer } from "@concur/shm";
   *
   * const ring = new RingBuffer(64);
   * ring.pushNumbers(new Int32Array([1, 2]));
   * console.log(ring.popNumbers(new Int32Array(8))); // 2
   * ```
   */
  popNumbers(target: Int32Array | Float64Array, options?: WaitOptions): number {
    this.#checkArray(target, "pop");
    if (target.length === 0) return 0;
    let deadline: LazyDeadline | undefined;
    for (;;) {
      const done = this.#ring.tryPopRuns(target, 0);
      if (done > 0) return done;
      const kind = this.#ring.nextKindCode();
      if (kind === (target instanceof Int32Array ? 2 : 3)) continue;
      if (kind >= 0) {
        throw new TypeError(
          `Cannot pop numbers into a ${target.constructor.name}: the next message is of another kind`,
        );
      }
      deadline ??= new LazyDeadline(options?.timeout);
      const ready = this.#ring.awaitReadable(deadline, spinsFor(options?.timeout));
      if (ready === Ready.Closed) this.#throwClosedPop();
      if (ready === Ready.TimedOut) return 0;
    }
  }

  /**
   * {@linkcode RingBuffer.popNumbers} without blocking the thread.
   *
   * @param target Where to put them.
   * @param options `timeout` in ms and an abort `signal`.
   * @returns How many were taken (0 only if the timeout expired).
   *
   * @example
   * ```ts
   * import { RingBuffer } from "@concur/shm";
   *
   * const ring = new RingBuffer(64);
   * ring.pushNumbers(new Int32Array([1]));
   * console.log(await ring.popNumbersAsync(new Int32Array(4))); // 1
   * ```
   */
  async popNumbersAsync(
    target: Int32Array | Float64Array,
    options?: AsyncWaitOptions,
  ): Promise<number> {
    this.#checkArray(target, "pop");
    options?.signal?.throwIfAborted();
    if (target.length === 0) return 0;
    let deadline: LazyDeadline | undefined;
    for (;;) {
      const done = this.#ring.tryPopRuns(target, 0);
      if (done > 0) return done;
      const kind = this.#ring.nextKindCode();
      if (kind === (target instanceof Int32Array ? 2 : 3)) continue;
      if (kind >= 0) {
        throw new TypeError(
          `Cannot pop numbers into a ${target.constructor.name}: the next message is of another kind`,
        );
      }
      deadline ??= new LazyDeadline(options?.timeout);
      const ready = await this.#ring.awaitReadableAsync(deadline, options?.signal);
      if (ready === Ready.Closed) this.#throwClosedPop();
      if (ready === Ready.TimedOut) return 0;
    }
  }

  /**
   * What `console.log` and `Deno.inspect` show: the state at this moment
   * (a snapshot), like Python's repr.
   *
   * @example
   * ```ts
   * import { RingBuffer } from "@concur/shm";
   *
   * console.log(new RingBuffer(64)); // RingBuffer { usedBytes: 0, capacity: 64, closed: false }
   * ```
   */
  [DENO_INSPECT](): string {
    return describeState("RingBuffer", {
      usedBytes: this.usedBytes(),
      capacity: this.capacity,
      closed: this.closed,
    });
  }
}
