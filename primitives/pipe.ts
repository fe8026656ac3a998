/**
 * `Pipe`: two connected ends, duplex or one-way (Python's
 * `multiprocessing.Pipe`), made of {@linkcode RingBuffer}-style rings in
 * one shared memory.
 *
 * Layout (cells): the header (params: ring capacity in cells, duplex flag,
 * codec id), END_CLOSED flags for end 0 and end 1 (cells 8 and 9), then one
 * ring (one-way) or two (duplex) from cell 16, each starting on a cache line.
 * In a duplex pipe, ring 0 carries end 0 → end 1 and ring 1 carries
 * end 1 → end 0; in a one-way pipe, end 1 (the writer) feeds ring 0 and
 * end 0 (the reader) drains it.
 *
 * Each direction has one writer and one reader, as the ring requires: like
 * Python's, a pipe end must not be used by two threads at once. A message
 * that takes more than half a ring (and does not fit at once) is sent as
 * parts that the reader joins; the common message, which fits, is one frame.
 * Every part names the ring position of the message's previous part (the
 * first names its own), and the last part is marked (see the frame table in
 * `_spsc_ring.ts`), so a reader never delivers a message merged with another
 * or cut short:
 * - a sender that gives up in the middle of a message (its timeout or abort
 *   signal, a `TerminatedError` in a terminated worker, the reader's close)
 *   just stops; readers drop the unfinished message when the next one
 *   starts, so nothing of it is delivered;
 * - a `recv` that times out in the middle of a message keeps the parts it
 *   took in its `PipeEnd` object, and the next `recv` on that object goes
 *   on; if another `PipeEnd` object of the same end reads the rest instead,
 *   its `recv` consumes that rest (waiting for it, within its timeout) and
 *   throws {@linkcode MessageCorruptError}, and its next `recv` returns the
 *   next message.
 *
 * Closing an end closes it for every thread holding it (there is no per-
 * thread copy to keep open, unlike Python's file descriptors): the peer reads
 * what was sent before, then gets {@linkcode PipeClosedError}; the peer's
 * `send` throws it at once.
 *
 * @module
 */

import { type Codec, type CodecName, resolveCodec } from "../shm/codec.ts";
import type { Memory } from "../shm/memory.ts";
import {
  type AsyncWaitOptions,
  Deadline,
  TIMED_OUT,
  type WaitOptions,
  waitWithin,
} from "../shm/timeout.ts";
import {
  attachPrimitive,
  createMemory,
  type CreateOptions,
  type PrimitiveHandle,
  readParam,
} from "./_header.ts";
import { codecFor } from "./_queue_layout.ts";
import { ceilPow2, LazyDeadline, Ready, spinsFor, SpscRing } from "./_spsc_ring.ts";
import { ConcurrencyError, LayoutError, PipeClosedError, TimeoutError } from "./errors.ts";

/**
 * Layout version. 2: a chunk frame names its message's previous part and
 * marks its last part (version 1 ended a chunked message with an ordinary
 * byte frame, so a reader could not tell a message given up halfway from the
 * next one).
 */
const VERSION = 2;
const END_CLOSED = 8;
const RINGS = 16;
const MIN_CELLS = 16;
const MAX_CELLS = 1 << 28;
const DEFAULT_CAPACITY = 64 * 1024;

/**
 * The structured-cloneable form of one end of a {@linkcode Pipe}.
 *
 * @example
 * ```ts
 * import { Pipe, PipeEnd, type PipeEndHandle } from "@concur/shm";
 *
 * const [here, there] = Pipe<string>({ codec: "string" });
 * const handle: PipeEndHandle = there.handle; // postMessage(handle) to a worker
 * const end = PipeEnd.from<string>(handle); // in the worker (the codec is stored)
 * end.send("hello");
 * console.log(handle.end, here.recv()); // 1 "hello"
 * ```
 */
export interface PipeEndHandle extends PrimitiveHandle<"Pipe"> {
  /** Which end: 0 (the first returned by `Pipe()`) or 1. */
  readonly end: 0 | 1;
}

/**
 * Options of {@linkcode Pipe}.
 *
 * @example
 * ```ts
 * import { Pipe, type PipeOptions } from "@concur/shm";
 *
 * const options: PipeOptions<number> = { duplex: false, capacity: 1024, codec: "number" };
 * const [reader, writer] = Pipe(options);
 * writer.send(42);
 * console.log(reader.recv()); // 42
 * ```
 */
export interface PipeOptions<T> extends CreateOptions {
  /**
   * Whether both ends can send and receive. A one-way pipe returns
   * `[reader, writer]`, as in Python.
   *
   * @default {true}
   */
  duplex?: boolean;
  /**
   * Bytes buffered per direction (rounded up to a power of two). A `send`
   * waits while the buffer is full; longer messages are sent in chunks.
   *
   * @default {65536}
   */
  capacity?: number;
  /**
   * How values become bytes for `send`/`recv` (`sendBytes`/`recvBytes`
   * always carry raw bytes).
   *
   * @default {"structured"}
   */
  codec?: CodecName | Codec<T>;
}

function ringStride(cells: number): number {
  return (SpscRing.cells(cells) + 15) & ~15;
}

function byteLengthFor(cells: number, rings: number): number {
  return (RINGS + rings * ringStride(cells)) * 4;
}

/**
 * Creates a pipe and returns its two ends: `[a, b]` for a duplex pipe (both
 * ends send and receive), `[reader, writer]` for a one-way pipe.
 *
 * @typeParam T The values `send`/`recv` carry.
 * @param options `duplex`, `capacity`, `codec`, and where to allocate it.
 * @returns The two ends; post `end.handle` to a worker and revive it there
 * with {@linkcode PipeEnd.from}.
 * @throws {RangeError} If `capacity` is out of range.
 *
 * @example A request and its reply
 * ```ts
 * import { Pipe } from "@concur/shm";
 *
 * const [here, there] = Pipe<string>({ codec: "string" });
 * // new Worker(url).postMessage(there.handle); in the worker: PipeEnd.from(handle)
 * here.send("ping");
 * there.send(there.recv() + " pong");
 * console.log(here.recv()); // "ping pong"
 * ```
 */
export function Pipe<T = unknown>(options?: PipeOptions<T>): [PipeEnd<T>, PipeEnd<T>] {
  const duplex = options?.duplex ?? true;
  const capacity = options?.capacity ?? DEFAULT_CAPACITY;
  if (!Number.isInteger(capacity) || capacity < 1 || capacity > MAX_CELLS * 4) {
    throw new RangeError(
      `Cannot create Pipe: capacity must be an integer in [1, ${
        MAX_CELLS * 4
      }] bytes, received ${capacity}`,
    );
  }
  const { codec, id } = resolveCodec(options?.codec, "structured");
  const cells = Math.max(MIN_CELLS, ceilPow2(Math.ceil(capacity / 4)));
  const memory = createMemory(
    "Pipe",
    VERSION,
    byteLengthFor(cells, duplex ? 2 : 1),
    [cells, duplex ? 1 : 0, id],
    options?.allocate,
  );
  return [new PipeEnd<T>(memory, 0, codec), new PipeEnd<T>(memory, 1, codec)];
}

/**
 * One end of a {@linkcode Pipe} (Python's `Connection`).
 *
 * `send`/`recv` carry values through the pipe's codec; `sendBytes`/
 * `recvBytes` carry raw bytes. Message boundaries are kept, the empty
 * message is a message, and order is kept per direction. Blocking calls take
 * a `timeout` (ms) and throw {@linkcode TimeoutError} when it expires; the
 * `...Async` forms also take an `AbortSignal` and never block the event loop.
 *
 * @typeParam T The values `send`/`recv` carry.
 *
 * @example
 * ```ts
 * import { Pipe } from "@concur/shm";
 *
 * const [reader, writer] = Pipe({ duplex: false });
 * writer.send({ hello: "world" });
 * writer.close();
 * console.log(reader.recv()); // { hello: "world" }
 * // reader.recv() now throws PipeClosedError (end of stream)
 * ```
 */
export class PipeEnd<T = unknown> implements Disposable {
  readonly #memory: Memory;
  readonly #end: 0 | 1;
  readonly #codec: Codec<T>;
  readonly #in: SpscRing | undefined;
  readonly #out: SpscRing | undefined;
  /**
   * This object's async sends, chained in call order: a long message goes
   * out in parts, and no other message of this end may come between them
   * (a reader would drop the message it interrupts). Never rejects.
   */
  #lastAsyncSend: Promise<void> = Promise.resolve();
  /** Async sends not yet settled. */
  #asyncSends = 0;

  /** @internal Use {@linkcode Pipe} or {@linkcode PipeEnd.from}. */
  constructor(memory: Memory, end: 0 | 1, codec: Codec<T>) {
    this.#memory = memory;
    this.#end = end;
    this.#codec = codec;
    const cells = readParam(memory, 0);
    const duplex = readParam(memory, 1) === 1;
    const ring = (i: number) => new SpscRing(memory, RINGS + i * ringStride(cells), cells);
    if (duplex) {
      this.#out = ring(end);
      this.#in = ring(1 - end);
    } else if (end === 0) {
      this.#in = ring(0);
    } else {
      this.#out = ring(0);
    }
  }

  /**
   * Revives a pipe end from its handle (typically in a worker).
   *
   * @param handle The {@linkcode PipeEnd.handle} of an end.
   * @param options The `codec`, if the pipe was created with a custom one.
   * @returns The same end, usable here.
   * @throws {LayoutError} If the handle is not a valid pipe end.
   *
   * @example
   * ```ts
   * import { Pipe, PipeEnd } from "@concur/shm";
   *
   * const [a, b] = Pipe<number>({ codec: "number" });
   * PipeEnd.from<number>(b.handle).send(3);
   * console.log(a.recv()); // 3
   * ```
   */
  static from<T = unknown>(handle: PipeEndHandle, options?: { codec?: Codec<T> }): PipeEnd<T> {
    const memory = attachPrimitive(handle, "Pipe", VERSION, byteLengthFor(MIN_CELLS, 1));
    const cells = readParam(memory, 0);
    const duplex = readParam(memory, 1);
    if (
      cells < MIN_CELLS || cells > MAX_CELLS || (cells & (cells - 1)) !== 0 ||
      (duplex !== 0 && duplex !== 1) ||
      memory.byteLength !== byteLengthFor(cells, duplex === 1 ? 2 : 1)
    ) {
      throw new LayoutError(
        "bad-parameters",
        `Cannot revive Pipe: stored capacity ${cells} cells and duplex ${duplex} do not match ${memory.byteLength} bytes`,
      );
    }
    if (handle.end !== 0 && handle.end !== 1) {
      throw new LayoutError(
        "bad-parameters",
        `Cannot revive Pipe: end must be 0 or 1, received ${String(handle.end)}`,
      );
    }
    return new PipeEnd<T>(memory, handle.end, codecFor<T>(memory, "Pipe", options?.codec));
  }

  /**
   * Plain data to post to a worker; revive it with {@linkcode PipeEnd.from}.
   *
   * @example
   * ```ts
   * import { Pipe } from "@concur/shm";
   *
   * const [a] = Pipe();
   * console.log(a.handle.end); // 0
   * ```
   */
  get handle(): PipeEndHandle {
    return { kind: "Pipe", memory: this.#memory.handle(), end: this.#end };
  }

  /**
   * Whether this end can receive.
   *
   * @example
   * ```ts
   * import { Pipe } from "@concur/shm";
   *
   * const [reader, writer] = Pipe({ duplex: false });
   * console.log(reader.readable, writer.readable); // true false
   * ```
   */
  get readable(): boolean {
    return this.#in !== undefined;
  }

  /**
   * Whether this end can send.
   *
   * @example
   * ```ts
   * import { Pipe } from "@concur/shm";
   *
   * const [reader, writer] = Pipe({ duplex: false });
   * console.log(reader.writable, writer.writable); // false true
   * ```
   */
  get writable(): boolean {
    return this.#out !== undefined;
  }

  /**
   * Whether this end was closed (here or in any thread holding it).
   *
   * @example
   * ```ts
   * import { Pipe } from "@concur/shm";
   *
   * const [a] = Pipe();
   * a.close();
   * console.log(a.closed); // true
   * ```
   */
  get closed(): boolean {
    return this.#memory.load(END_CLOSED + this.#end) !== 0;
  }

  /**
   * Closes this end: the peer reads what was already sent, then gets
   * {@linkcode PipeClosedError}; the peer's `send` fails from now on; any
   * use of this end throws it. Closing twice does nothing.
   *
   * @example
   * ```ts
   * import { Pipe } from "@concur/shm";
   *
   * const [a, b] = Pipe<string>({ codec: "string" });
   * a.send("last words");
   * a.close();
   * console.log(b.recv()); // "last words"; then b.recv() throws PipeClosedError
   * ```
   */
  close(): void {
    if (this.#memory.exchange(END_CLOSED + this.#end, 1) !== 0) return;
    this.#out?.closeWriter();
    this.#in?.closeReader();
  }

  /** Closes this end (for `using`). */
  [Symbol.dispose](): void {
    this.close();
  }

  #outRing(verb: string): SpscRing {
    const out = this.#out;
    if (out === undefined) throw new TypeError(`Cannot ${verb}: this pipe end is read-only`);
    if (this.closed) throw new PipeClosedError(`Cannot ${verb}: this pipe end is closed`);
    if (out.readerClosed()) {
      throw new PipeClosedError(`Cannot ${verb}: the other end is closed (broken pipe)`);
    }
    return out;
  }

  #inRing(verb: string): SpscRing {
    const ring = this.#in;
    if (ring === undefined) throw new TypeError(`Cannot ${verb}: this pipe end is write-only`);
    if (this.closed) throw new PipeClosedError(`Cannot ${verb}: this pipe end is closed`);
    return ring;
  }

  #sendRaw(bytes: Uint8Array, timeout: number | undefined, verb: string): void {
    const out = this.#outRing(verb);
    if (this.#asyncSends > 0) {
      // It would come between the parts of a pending async send, or before
      // a pending one: settle those first.
      throw new ConcurrencyError(
        `Cannot ${verb}: an async send of this pipe end is still pending (await it first)`,
      );
    }
    if (SpscRing.frameCells(bytes.length) <= out.capacity && out.tryPushBytes(bytes)) return;
    const ready = out.pushChunked(bytes, new LazyDeadline(timeout));
    if (ready === Ready.Closed) this.#outRing(verb);
    if (ready === Ready.TimedOut) throw this.#sendTimedOut(verb, timeout);
  }

  async #sendRawAsync(
    bytes: Uint8Array,
    options: AsyncWaitOptions | undefined,
    verb: string,
  ): Promise<void> {
    const signal = options?.signal;
    signal?.throwIfAborted();
    const out = this.#outRing(verb);
    if (
      this.#asyncSends === 0 && SpscRing.frameCells(bytes.length) <= out.capacity &&
      out.tryPushBytes(bytes)
    ) return;
    const copy = bytes.slice(); // the caller may reuse its buffer once this returns
    const deadline = new Deadline(options?.timeout); // the wait for the turn counts too
    // With no send pending, the push starts now (an async function runs
    // synchronously up to its first await), as a lone send always did.
    const link = this.#lastAsyncSend;
    const previous = this.#asyncSends === 0 ? undefined : link;
    const send = (async () => {
      if (
        previous !== undefined &&
        await waitWithin(previous, deadline.remaining(), signal) === TIMED_OUT
      ) {
        throw this.#sendTimedOut(verb, options?.timeout);
      }
      const ready = await this.#outRing(verb).pushChunkedAsync(copy, deadline, signal);
      if (ready === Ready.Closed) this.#outRing(verb);
      if (ready === Ready.TimedOut) throw this.#sendTimedOut(verb, options?.timeout);
    })();
    // This link settles once every earlier send and this one have: a send
    // that gives up while waiting for its turn must not let a later one in
    // before the earlier ones are out.
    this.#lastAsyncSend = Promise.all([link, send.catch(() => {})]).then(() => {});
    this.#asyncSends++;
    try {
      await send;
    } finally {
      // Before the caller goes on: a sync send right after may go.
      this.#asyncSends--;
    }
  }

  #sendTimedOut(verb: string, timeout: number | undefined): TimeoutError {
    return new TimeoutError(
      `Cannot ${verb}: the pipe stayed full for ${timeout} ms (nothing of the message is delivered)`,
    );
  }

  #recvRaw(timeout: number | undefined, verb: string): Uint8Array {
    const ring = this.#inRing(verb);
    let message = ring.tryPopBytes();
    if (message !== undefined) return message;
    const deadline = new LazyDeadline(timeout);
    for (;;) {
      const ready = ring.awaitReadable(deadline, spinsFor(timeout));
      if (ready === Ready.Closed) this.#eof(verb);
      if (ready === Ready.TimedOut) {
        throw new TimeoutError(`Cannot ${verb}: nothing arrived within ${timeout} ms`);
      }
      message = ring.tryPopBytes();
      if (message !== undefined) return message;
    }
  }

  async #recvRawAsync(options: AsyncWaitOptions | undefined, verb: string): Promise<Uint8Array> {
    options?.signal?.throwIfAborted();
    const ring = this.#inRing(verb);
    let message = ring.tryPopBytes();
    if (message !== undefined) return message;
    const deadline = new LazyDeadline(options?.timeout);
    for (;;) {
      const ready = await ring.awaitReadableAsync(deadline, options?.signal);
      if (ready === Ready.Closed) this.#eof(verb);
      if (ready === Ready.TimedOut) {
        throw new TimeoutError(`Cannot ${verb}: nothing arrived within ${options?.timeout} ms`);
      }
      message = ring.tryPopBytes();
      if (message !== undefined) return message;
    }
  }

  #eof(verb: string): never {
    if (this.closed) throw new PipeClosedError(`Cannot ${verb}: this pipe end is closed`);
    throw new PipeClosedError(`Cannot ${verb}: end of stream (the other end is closed)`);
  }

  /**
   * Sends a value (encoded with the pipe's codec), waiting while the pipe is
   * full.
   *
   * @param value The value.
   * @param options `timeout` in ms (default: forever), for the whole message.
   * @throws {PipeClosedError} If this end or the other end is closed.
   * @throws {TimeoutError} If the pipe stayed full for the whole timeout.
   * Nothing of the message is delivered: a long message may have been sent
   * in part, and readers drop that part when the next message starts.
   * @throws {TypeError} If this end is read-only, or the codec cannot encode the value.
   *
   * @example
   * ```ts
   * import { Pipe } from "@concur/shm";
   *
   * const [a, b] = Pipe();
   * a.send([1, 2.25, null]);
   * console.log(b.recv()); // [ 1, 2.25, null ]
   * ```
   */
  send(value: T, options?: WaitOptions): void {
    this.#outRing("send");
    this.#sendRaw(this.#codec.encode(value), options?.timeout, "send");
  }

  /**
   * Sends raw bytes (or the part `[offset, offset + size)` of them).
   *
   * @param bytes The message.
   * @param offset Where the message starts in `bytes` (default 0).
   * @param size Its length (default: the rest of `bytes`).
   * @param options `timeout` in ms.
   * @throws {RangeError} If `offset` or `size` is out of range.
   *
   * @example
   * ```ts
   * import { Pipe } from "@concur/shm";
   *
   * const [a, b] = Pipe();
   * a.sendBytes(new TextEncoder().encode("abcdefghij"), 2, 3);
   * console.log(new TextDecoder().decode(b.recvBytes())); // "cde"
   * ```
   */
  sendBytes(bytes: Uint8Array, offset?: number, size?: number, options?: WaitOptions): void {
    this.#sendRaw(slice(bytes, offset, size), options?.timeout, "send bytes");
  }

  /**
   * Receives the next value, waiting for one.
   *
   * @param options `timeout` in ms (default: forever).
   * @returns The value.
   * @throws {PipeClosedError} At end of stream (the other end closed and
   * everything it sent was read), or if this end is closed.
   * @throws {TimeoutError} If nothing arrived within the timeout.
   * @throws {MessageCorruptError} If the codec cannot decode the message, or
   * if its start was taken by another `PipeEnd` object of this end (whose
   * receive timed out in the middle of a long message): the rest is
   * consumed (waited for, within the timeout) and dropped, and the next call
   * returns the next message.
   * @throws {TypeError} If this end is write-only.
   *
   * @example
   * ```ts
   * import { Pipe } from "@concur/shm";
   *
   * const [a, b] = Pipe<string>({ codec: "string" });
   * b.send("hi");
   * console.log(a.recv({ timeout: 100 })); // "hi"
   * ```
   */
  recv(options?: WaitOptions): T {
    return this.#codec.decode(this.#recvRaw(options?.timeout, "recv"));
  }

  /**
   * Receives the next message as raw bytes.
   *
   * @param options `timeout` in ms.
   * @returns The bytes.
   * @throws {MessageCorruptError} If the next message's start was taken by
   * another `PipeEnd` object of this end (see {@linkcode PipeEnd.recv}).
   *
   * @example
   * ```ts
   * import { Pipe } from "@concur/shm";
   *
   * const [a, b] = Pipe();
   * b.sendBytes(new Uint8Array(0)); // the empty message is a message
   * console.log(a.recvBytes()); // Uint8Array(0) []
   * ```
   */
  recvBytes(options?: WaitOptions): Uint8Array {
    return this.#recvRaw(options?.timeout, "recv bytes");
  }

  /**
   * Whether a message (or the end of the stream) is waiting, waiting up to
   * `timeout` for one. Takes nothing. Like Python's `poll`, it sees data, not
   * whole messages: the first part of a long message still being sent (or
   * abandoned by a sender that gave up) counts, and `recv` then waits for
   * the rest (or for the next message).
   *
   * @param options `timeout` in ms (default 0: answer at once).
   * @returns `true` if data is waiting (a short message, or a part of a long one).
   *
   * @example
   * ```ts
   * import { Pipe } from "@concur/shm";
   *
   * const [a, b] = Pipe();
   * console.log(a.poll()); // false
   * b.send(1);
   * console.log(a.poll(), a.poll()); // true true
   * ```
   */
  poll(options?: WaitOptions): boolean {
    const ring = this.#inRing("poll");
    const timeout = options?.timeout ?? 0;
    return ring.awaitReadable(new LazyDeadline(timeout), spinsFor(timeout)) !== Ready.TimedOut;
  }

  /**
   * {@linkcode PipeEnd.send} without blocking the thread or the event loop.
   *
   * @param value The value.
   * @param options `timeout` in ms and an abort `signal`.
   *
   * @example
   * ```ts
   * import { Pipe } from "@concur/shm";
   *
   * const [a, b] = Pipe();
   * await a.sendAsync("x");
   * console.log(await b.recvAsync()); // "x"
   * ```
   */
  sendAsync(value: T, options?: AsyncWaitOptions): Promise<void> {
    try {
      this.#outRing("send");
      return this.#sendRawAsync(this.#codec.encode(value), options, "send");
    } catch (err) {
      return Promise.reject(err);
    }
  }

  /**
   * {@linkcode PipeEnd.sendBytes} without blocking the thread or the event loop.
   *
   * @param bytes The message.
   * @param options `timeout` in ms and an abort `signal`.
   *
   * @example
   * ```ts
   * import { Pipe } from "@concur/shm";
   *
   * const [a, b] = Pipe();
   * await a.sendBytesAsync(new Uint8Array([1]));
   * console.log(await b.recvBytesAsync()); // Uint8Array(1) [ 1 ]
   * ```
   */
  sendBytesAsync(bytes: Uint8Array, options?: AsyncWaitOptions): Promise<void> {
    try {
      return this.#sendRawAsync(slice(bytes), options, "send bytes");
    } catch (err) {
      return Promise.reject(err);
    }
  }

  /**
   * {@linkcode PipeEnd.recv} without blocking the thread or the event loop.
   *
   * @param options `timeout` in ms and an abort `signal`.
   * @returns The value.
   *
   * @example
   * ```ts
   * import { Pipe } from "@concur/shm";
   *
   * const [a, b] = Pipe();
   * setTimeout(() => b.send("later"), 10);
   * console.log(await a.recvAsync({ timeout: 1000 })); // "later"
   * ```
   */
  async recvAsync(options?: AsyncWaitOptions): Promise<T> {
    return this.#codec.decode(await this.#recvRawAsync(options, "recv"));
  }

  /**
   * {@linkcode PipeEnd.recvBytes} without blocking the thread or the event loop.
   *
   * @param options `timeout` in ms and an abort `signal`.
   * @returns The bytes.
   *
   * @example
   * ```ts
   * import { Pipe } from "@concur/shm";
   *
   * const [a, b] = Pipe();
   * b.sendBytes(new Uint8Array([2]));
   * console.log(await a.recvBytesAsync()); // Uint8Array(1) [ 2 ]
   * ```
   */
  recvBytesAsync(options?: AsyncWaitOptions): Promise<Uint8Array> {
    return this.#recvRawAsync(options, "recv bytes");
  }

  /**
   * {@linkcode PipeEnd.poll} without blocking the thread or the event loop.
   *
   * @param options `timeout` in ms (default 0) and an abort `signal`.
   * @returns `true` if `recv` would not wait.
   *
   * @example
   * ```ts
   * import { Pipe } from "@concur/shm";
   *
   * const [a, b] = Pipe();
   * setTimeout(() => b.send(1), 10);
   * console.log(await a.pollAsync({ timeout: 1000 })); // true
   * ```
   */
  async pollAsync(options?: AsyncWaitOptions): Promise<boolean> {
    options?.signal?.throwIfAborted();
    const ring = this.#inRing("poll");
    const ready = await ring.awaitReadableAsync(
      new LazyDeadline(options?.timeout ?? 0),
      options?.signal,
    );
    return ready !== Ready.TimedOut;
  }
}

/** `bytes[offset, offset + size)` with Python's checks (PP-12). */
function slice(bytes: Uint8Array, offset = 0, size?: number): Uint8Array {
  if (!(bytes instanceof Uint8Array)) {
    throw new TypeError(`Cannot send bytes: expected a Uint8Array, received ${typeof bytes}`);
  }
  if (!Number.isInteger(offset) || offset < 0) {
    throw new RangeError(`Cannot send bytes: offset must be an integer >= 0, received ${offset}`);
  }
  if (offset > bytes.length) {
    throw new RangeError(
      `Cannot send bytes: offset ${offset} is past the end of ${bytes.length} bytes`,
    );
  }
  const length = size ?? bytes.length - offset;
  if (!Number.isInteger(length) || length < 0) {
    throw new RangeError(`Cannot send bytes: size must be an integer >= 0, received ${size}`);
  }
  if (offset + length > bytes.length) {
    throw new RangeError(
      `Cannot send bytes: offset ${offset} + size ${length} is past the end of ${bytes.length} bytes`,
    );
  }
  return offset === 0 && length === bytes.length ? bytes : bytes.subarray(offset, offset + length);
}
