/**
 * The single-producer single-consumer ring of framed messages that
 * `RingBuffer` and `Pipe` are made of. It lives in a {@linkcode Memory} at a
 * base cell, so one memory can hold several rings (a duplex pipe holds two).
 *
 * Layout (cells, relative to the base; lines of 16 cells = 64 bytes so that
 * the producer's and the consumer's hot cells never share a cache line):
 *
 * | cell | name              | written by                  | read by            |
 * |------|-------------------|-----------------------------|--------------------|
 * | 0    | TAIL              | producer (publishes frames) | consumer           |
 * | 1    | CONSUMER_SLEEPING | consumer, before it sleeps  | producer, per push |
 * | 2    | CONSUMER_BELL     | producer (wake), closers    | consumer (futex)   |
 * | 16   | HEAD              | consumer (frees cells)      | producer           |
 * | 17   | PRODUCER_SLEEPING | producer, before it sleeps: the room (cells) it waits for | consumer, per pop |
 * | 18   | PRODUCER_BELL     | consumer (wake), closers    | producer (futex)   |
 * | 32   | WRITER_CLOSED     | the writing side's close    | both               |
 * | 33   | READER_CLOSED     | the reading side's close    | both               |
 * | 48.. | data              | frames, a circle of `capacity` cells (a power of two) |
 *
 * TAIL and HEAD are free-running cell counters (wrapping at 2^32); a
 * position's cell is `position & (capacity - 1)`, and `TAIL - HEAD` (as
 * int32) is the number of cells holding frames.
 *
 * Frames start on a cell. The first cell `h` says what follows:
 * - `h >>> 30 === 0`: a byte message of `h` bytes in the next
 *   `ceil(h / 4)` cells (it may wrap around the end of the circle);
 * - `h >>> 30 === 1`: one part of a message longer than half the ring
 *   (pipes only): `h & 0x1fffffff` bytes in the cells after the next one;
 *   bit 29 marks the message's last part, and the next cell holds the ring
 *   position (TAIL value) of the message's previous part, or the frame's own
 *   position in the first part. So every part says which message it
 *   belongs to and where it goes, and a reader joins a part only to the part
 *   it took just before (positions are unique until TAIL wraps around 2^32
 *   cells): a part naming itself starts a new message (dropping an
 *   unfinished one, whose sender gave up: a timeout, an abort, a terminated
 *   worker), an ordinary byte frame drops an unfinished one too, and a part
 *   that continues nothing this reader holds (another reader object of the
 *   same end took the start) makes the reader drop the rest of that
 *   message, then throw {@linkcode MessageCorruptError} once (after the
 *   last part, or before the next message if the sender gave up);
 * - `h >>> 30 === 2`: `h & 0x1fffffff` int32 numbers, one per cell;
 * - `h >>> 30 === 3`: `h & 0x1fffffff` float64 numbers, two cells each.
 * In a run's header, bit 29 says that one unused cell comes before the
 * numbers: the producer pads a long run so that its numbers sit at the
 * source array's alignment modulo 8 bytes, where V8 copies them into shared
 * memory word by word (see `shm/_cell_copy.ts`). A consumer that takes part
 * of a run rewrites the rest's header (without the bit) in the cell just
 * before the rest.
 * A frame that claims more cells than TAIL published, or an empty run, is
 * corrupt and throws {@linkcode MessageCorruptError}.
 *
 * Invariants and why they hold:
 * - Only the producer writes TAIL and the cells in `[TAIL, HEAD + capacity)`;
 *   only the consumer writes HEAD and the cells in `[HEAD, TAIL)` (it rewrites
 *   a run's header when it takes part of the run). Each side therefore reads
 *   its own index from memory (so the role can move to another thread; a
 *   plain read suffices, since only its own side writes it and a hand-over
 *   of the role between threads is itself synchronised) and caches the
 *   other's (rigtorp's trick): a stale cached index only makes the ring look
 *   fuller (to the producer) or emptier (to the consumer) than it is, never
 *   the reverse. That holds while the cache is this object's: an object
 *   whose own index moved since it last used it (another object of its end
 *   worked meanwhile) reloads it, since a cache 2^32 cells old would give a
 *   plausible but wrong distance.
 * - Publication: frame cells and bytes are written first (plain writes),
 *   then TAIL is stored; the consumer loads TAIL before it reads them (plain
 *   reads: the seq-cst TAIL store and load order them). Symmetrically, the
 *   consumer has finished reading cells before it stores HEAD. Only the
 *   indices, the SLEEPING flags and the bells are accessed atomically: on a
 *   shared buffer every `Atomics` call costs about 8 ns here (V8 calls a
 *   builtin), a plain access under 1 ns.
 * - No lost wake-up (Dekker, with seq-cst cells): a side about to sleep
 *   stores its SLEEPING flag, loads its bell, then re-checks the ring and the
 *   closed flags, and sleeps on the bell only if the bell still holds the
 *   value it loaded. The other side stores its index, then loads SLEEPING;
 *   if set, it clears it with an exchange (so one notify per sleep, not one
 *   per push while the woken side is on its way back; a side that must sleep
 *   again sets the flag again first), increments the bell and notifies.
 *   Either the sleeper's re-check
 *   sees the new index, or the waker sees the flag and changes the bell after
 *   the sleeper loaded it (so the futex wait returns at once). `close()`
 *   stores its flag and then rings both bells, with the same argument.
 * - The waker pays a notify only when the flag is set: on the fast path a
 *   push is stores of the frame, one store of TAIL and one load of the flag.
 *
 * @module
 */

import type { Memory } from "../shm/memory.ts";
import { WORD_COPY_IN_MIN } from "../shm/_cell_copy.ts";
import { normalizeTimeout } from "../shm/timeout.ts";
import { allocateBytes } from "./_byte_pool.ts";
import { MessageCorruptError } from "./errors.ts";

/** Cells before the data area. */
export const RING_CONTROL_CELLS = 48;

const TAIL = 0;
const CONSUMER_SLEEPING = 1;
const CONSUMER_BELL = 2;
const HEAD = 16;
const PRODUCER_SLEEPING = 17;
const PRODUCER_BELL = 18;
const WRITER_CLOSED = 32;
const READER_CLOSED = 33;

const KIND_BYTES = 0;
const KIND_CHUNK = 1;
const KIND_I32 = 2;
const KIND_F64 = 3;
/** In a chunk header: this part ends its message. */
const CHUNK_LAST = 0x20000000;
const CHUNK_LENGTH_MASK = 0x1fffffff;
/** Cells of a chunk frame before its bytes: the header and the previous part's position. */
const CHUNK_HEADER_CELLS = 2;
const RUN_COUNT_MASK = 0x1fffffff;
const RUN_PADDED = 0x20000000;
const I32_RUN = 0x80000000 | 0;
const F64_RUN = 0xc0000000 | 0;
const CHUNK = 0x40000000;

/**
 * CPU pauses a side spends polling the other side's index before it goes to
 * sleep (about 25 µs here, half a futex sleep/wake round trip: a side that
 * sleeps sooner makes the two sides take turns sleeping). Every poll follows
 * a pause: a tight poll loop keeps pulling the cache line the other side is
 * about to store to.
 */
const SPIN = 600;
/**
 * How long a sleeping producer asks for half the ring before it settles for
 * the room it needs. Waiting for half the ring avoids a convoy (one wake-up
 * per freed frame) while the consumer drains; but a consumer that stops
 * draining with less than half the ring free (it waits for something the
 * producer does after this push) would otherwise never wake the producer
 * although its push fits.
 */
const HIGH_WATER_MS = 1;

/**
 * Whether a blocking call with this timeout should spin before it sleeps:
 * not when it only polls (timeout <= 0).
 */
export function spinsFor(timeout: number | undefined): boolean {
  return timeout === undefined || !(timeout <= 0);
}

/** What a wait needs of its deadline. */
export interface Remaining {
  /** Milliseconds left, never negative; `Infinity` for no deadline. */
  remaining(): number;
}

/**
 * A deadline that starts counting the first time it is asked: a blocking
 * call that finds its answer while spinning never reads the clock (a
 * `performance.now()` costs about as much as a whole push). The wait it
 * bounds therefore starts after the spin (at most about 10 µs late, never
 * early).
 */
export class LazyDeadline implements Remaining {
  readonly #timeout: number;
  #end = NaN;
  /** @param timeout Milliseconds (normalised: undefined is forever, negative is 0). */
  constructor(timeout: number | undefined) {
    this.#timeout = normalizeTimeout(timeout);
  }
  remaining(): number {
    if (this.#timeout === Infinity) return Infinity;
    if (this.#end !== this.#end) this.#end = performance.now() + this.#timeout;
    const left = this.#end - performance.now();
    return left > 0 ? left : 0;
  }
}

/** What the next frame holds, as `peekKind` reports it. */
export type FrameKind = "bytes" | "number" | "none";

/**
 * Outcome of waiting for room or for data: `Ok` (there is room / data),
 * `TimedOut`, or `Closed` (the other side closed; for the consumer: and
 * nothing is left).
 */
export const Ready = { Ok: 1, TimedOut: 0, Closed: -1 } as const;
/** One of the {@linkcode Ready} outcomes. */
export type Ready = typeof Ready[keyof typeof Ready];

const pause: () => void = typeof Atomics.pause === "function" ? () => Atomics.pause() : () => {};

const f64 = new Float64Array(1);
const f64Cells = new Int32Array(f64.buffer);
/** How far a chunked push got: the next byte to send, and the ring position of the last part sent. */
interface ChunkedPush {
  offset: number;
  prev: number | undefined;
}

/** A frame of up to 3 cells composed here, then written into the ring. */
const frame = new Int32Array(3);

/** Smallest power of two >= n. */
export function ceilPow2(n: number): number {
  let p = 1;
  while (p < n) p *= 2;
  return p;
}

/** One SPSC ring inside a memory (see the module doc for the layout). */
export class SpscRing {
  readonly memory: Memory;
  /** Capacity in cells (a power of two). */
  readonly capacity: number;
  readonly #mask: number;
  readonly #base: number;
  readonly #data: number;
  readonly #dataByte: number;
  /** Producer's cache of HEAD. */
  #head = 0;
  /** Consumer's cache of TAIL. */
  #tail = 0;
  /** TAIL as this object last saw or stored it (NaN: never): the HEAD cache is this object's. */
  #tailLeft = NaN;
  /** HEAD as this object last saw or stored it (NaN: never): the TAIL cache is this object's. */
  #headLeft = NaN;
  /** Where {@linkcode SpscRing.#locate} found the next frame. */
  #at = 0;
  /** The number array whose cells {@linkcode SpscRing.#cellsOf} cached, per side. */
  readonly #viewed: [Int32Array | Float64Array | undefined, Int32Array | Float64Array | undefined] =
    [
      undefined,
      undefined,
    ];
  readonly #viewedCells: [Int32Array | undefined, Int32Array | undefined] = [undefined, undefined];
  /** Parts of the chunked message being joined (consumer side). */
  #parts: Uint8Array[] = [];
  /** Ring position of the last part taken of a chunked message in progress; NaN if none. */
  #partAt = NaN;
  /** Whether the message in progress is being dropped (this reader did not take its start). */
  #dropping = false;

  constructor(memory: Memory, baseCell: number, capacityCells: number) {
    this.memory = memory;
    this.capacity = capacityCells;
    this.#mask = capacityCells - 1;
    this.#base = baseCell;
    this.#data = baseCell + RING_CONTROL_CELLS;
    this.#dataByte = this.#data * 4;
    this.#head = memory.load(baseCell + HEAD);
    this.#tail = memory.load(baseCell + TAIL);
  }

  /** Total cells a ring of `capacityCells` takes, control included. */
  static cells(capacityCells: number): number {
    return RING_CONTROL_CELLS + capacityCells;
  }

  // ---------------------------------------------------------------- state

  /** Cells holding frames (a snapshot). */
  usedCells(): number {
    const m = this.memory;
    return (m.load(this.#base + TAIL) - m.load(this.#base + HEAD)) | 0;
  }

  writerClosed(): boolean {
    return this.memory.load(this.#base + WRITER_CLOSED) !== 0;
  }

  /**
   * Whether the reader closed, as the producer checks it before each push:
   * an unordered read (a close that races with a push may or may not stop
   * it either way; the waits re-check the flag with seq-cst loads).
   */
  readerClosed(): boolean {
    return this.memory.loadPlain(this.#base + READER_CLOSED) !== 0;
  }

  /** The writing side will write no more: the reader drains, then sees the end. */
  closeWriter(): void {
    this.memory.store(this.#base + WRITER_CLOSED, 1);
    this.#ringBoth();
  }

  /** The reading side will read no more: the writer's pushes fail. */
  closeReader(): void {
    this.memory.store(this.#base + READER_CLOSED, 1);
    this.#ringBoth();
  }

  #ringBoth(): void {
    const m = this.memory;
    m.add(this.#base + CONSUMER_BELL, 1);
    m.notify(this.#base + CONSUMER_BELL);
    m.add(this.#base + PRODUCER_BELL, 1);
    m.notify(this.#base + PRODUCER_BELL);
  }

  // ------------------------------------------------------------- producer

  /** Free cells as the producer sees them, refreshing its cached HEAD if fewer than `need`. */
  #free(tail: number, need: number): number {
    let free = this.capacity - ((tail - this.#head) | 0);
    // TAIL not where this object left it: another object of this end pushed
    // since, so the cached HEAD may be any age (over 2^32 cells, its distance
    // wraps into a plausible one); it is trusted only while this object is
    // the one pushing.
    if (free < need || tail !== this.#tailLeft) {
      this.#head = this.memory.load(this.#base + HEAD);
      this.#tailLeft = tail;
      free = this.capacity - ((tail - this.#head) | 0);
    }
    return free;
  }

  /** Publishes `tail` and wakes the consumer if it sleeps. */
  #publish(tail: number): void {
    const m = this.memory;
    m.store(this.#base + TAIL, tail);
    this.#tailLeft = tail;
    // Clearing the flag here means one notify per sleep, not one per push
    // while the woken consumer is still on its way back.
    if (
      m.load(this.#base + CONSUMER_SLEEPING) !== 0 &&
      m.exchange(this.#base + CONSUMER_SLEEPING, 0) !== 0
    ) {
      m.add(this.#base + CONSUMER_BELL, 1);
      m.notify(this.#base + CONSUMER_BELL, 1);
    }
  }

  /**
   * The cells of a whole number array (the array itself for an
   * `Int32Array`), cached for the last array each side used: a caller that
   * moves batches through the same array allocates no view (the producer's
   * and the consumer's caches are separate, so one object used for both
   * does not thrash them).
   */
  #cellsOf(array: Int32Array | Float64Array, side: 0 | 1): Int32Array {
    if (array instanceof Int32Array) return array;
    if (array !== this.#viewed[side]) {
      this.#viewed[side] = array;
      this.#viewedCells[side] = new Int32Array(array.buffer, array.byteOffset, array.length * 2);
    }
    return this.#viewedCells[side]!;
  }

  /** The cells of `array[from..from + count)`, a view allocated for a part, cached for the whole. */
  #cellsOfPart(array: Int32Array | Float64Array, from: number, count: number, side: 0 | 1) {
    if (from === 0 && count === array.length) return this.#cellsOf(array, side);
    const perItem = array instanceof Int32Array ? 1 : 2;
    return new Int32Array(array.buffer, array.byteOffset + from * perItem * 4, count * perItem);
  }

  /** Writes `cells` at cell position `position` (wrapping). */
  #writeCells(position: number, cells: Int32Array): void {
    const cell = position & this.#mask;
    const room = this.capacity - cell;
    if (cells.length <= room) {
      this.memory.writeCells(this.#data + cell, cells);
    } else {
      this.memory.writeCells(this.#data + cell, cells.subarray(0, room));
      this.memory.writeCells(this.#data, cells.subarray(room));
    }
  }

  /** Reads `target.length` cells at cell position `position` (wrapping). */
  #readCells(position: number, target: Int32Array): void {
    const cell = position & this.#mask;
    const room = this.capacity - cell;
    if (target.length <= room) {
      this.memory.readCells(this.#data + cell, target);
    } else {
      this.memory.readCells(this.#data + cell, target.subarray(0, room));
      this.memory.readCells(this.#data, target.subarray(room));
    }
  }

  /** Cells a byte frame of `length` bytes takes. */
  static frameCells(length: number): number {
    return 1 + ((length + 3) >>> 2);
  }

  /** Writes `bytes` at cell position `position` (wrapping). */
  #writePayload(position: number, bytes: Uint8Array): void {
    const length = bytes.length;
    if (length === 0) return;
    const cell = position & this.#mask;
    const room = (this.capacity - cell) * 4;
    if (length <= room) {
      this.memory.writeBytes(this.#dataByte + cell * 4, bytes);
    } else {
      this.memory.writeBytes(this.#dataByte + cell * 4, bytes.subarray(0, room));
      this.memory.writeBytes(this.#dataByte, bytes.subarray(room));
    }
  }

  /** Reads `target.length` bytes at cell position `position` (wrapping). */
  #readPayload(position: number, target: Uint8Array): void {
    const length = target.length;
    if (length === 0) return;
    const cell = position & this.#mask;
    const room = (this.capacity - cell) * 4;
    if (length <= room) {
      this.memory.readBytes(this.#dataByte + cell * 4, target);
    } else {
      this.memory.readBytes(this.#dataByte + cell * 4, target.subarray(0, room));
      this.memory.readBytes(this.#dataByte, target.subarray(room));
    }
  }

  /** Pushes one byte frame if it fits now. */
  tryPushBytes(bytes: Uint8Array): boolean {
    const m = this.memory;
    let tail = m.loadPlain(this.#base + TAIL);
    const need = 1 + ((bytes.length + 3) >>> 2);
    if (this.#free(tail, need) < need) return false;
    this.#writeHeader(tail, bytes.length);
    this.#writePayload(tail + 1, bytes);
    tail = (tail + need) | 0;
    this.#publish(tail);
    return true;
  }

  /**
   * Pushes one part of a chunked message if it fits now: `prev` is the ring
   * position of the message's previous part (undefined for the first part,
   * which names itself). Returns the part's position, or undefined if there
   * is no room.
   */
  #tryPushPart(part: Uint8Array, last: boolean, prev: number | undefined): number | undefined {
    const tail = this.memory.loadPlain(this.#base + TAIL);
    const need = CHUNK_HEADER_CELLS + ((part.length + 3) >>> 2);
    if (this.#free(tail, need) < need) return undefined;
    this.#writeHeader(tail, CHUNK | (last ? CHUNK_LAST : 0) | part.length);
    this.#writeHeader(tail + 1, prev ?? tail);
    this.#writePayload(tail + CHUNK_HEADER_CELLS, part);
    this.#publish((tail + need) | 0);
    return tail;
  }

  /** Bytes of one part of a chunked message: a part takes half the ring. */
  #partBytes(): number {
    return ((this.capacity >>> 1) - CHUNK_HEADER_CELLS) * 4;
  }

  /**
   * Pushes a message, waiting for room: as one byte frame if that takes at
   * most half the ring, else as chunk frames (only pipes use them). The
   * deadline bounds the whole push; a push that stops after some parts
   * (deadline, the reader's close, a `TerminatedError` from a terminated
   * worker's wait) leaves them behind, and readers drop them when the next
   * message starts (see the module doc).
   */
  pushChunked(bytes: Uint8Array, deadline: Remaining): Ready {
    const progress: ChunkedPush = { offset: 0, prev: undefined };
    for (let need = this.#pushSome(bytes, progress); need > 0;) {
      const ready = this.awaitWritable(need, deadline);
      if (ready !== Ready.Ok) return ready;
      need = this.#pushSome(bytes, progress);
    }
    return Ready.Ok;
  }

  /** Async {@linkcode SpscRing.pushChunked}; the signal, like the deadline, bounds the whole push. */
  async pushChunkedAsync(
    bytes: Uint8Array,
    deadline: Remaining,
    signal: AbortSignal | undefined,
  ): Promise<Ready> {
    const progress: ChunkedPush = { offset: 0, prev: undefined };
    for (let need = this.#pushSome(bytes, progress); need > 0;) {
      const ready = await this.awaitWritableAsync(need, deadline, signal);
      if (ready !== Ready.Ok) return ready;
      need = this.#pushSome(bytes, progress);
    }
    return Ready.Ok;
  }

  /**
   * The step of {@linkcode SpscRing.pushChunked}: pushes what fits now of
   * `bytes` (one byte frame if it takes at most half the ring, else the next
   * parts) and returns the free cells to wait for before going on (0: all
   * pushed).
   */
  #pushSome(bytes: Uint8Array, progress: ChunkedPush): number {
    const whole = SpscRing.frameCells(bytes.length);
    if (whole <= this.capacity >>> 1) return this.tryPushBytes(bytes) ? 0 : whole;
    const size = this.#partBytes();
    while (progress.offset < bytes.length) {
      const end = Math.min(progress.offset + size, bytes.length);
      const part = bytes.subarray(progress.offset, end);
      const at = this.#tryPushPart(part, end === bytes.length, progress.prev);
      if (at === undefined) return CHUNK_HEADER_CELLS + ((part.length + 3) >>> 2);
      progress.prev = at;
      progress.offset = end;
    }
    return 0;
  }

  /**
   * Pushes `messages[from..]` as byte frames while they fit, publishing once;
   * returns how many were pushed. Every message must fit an empty ring.
   */
  tryPushManyBytes(messages: readonly Uint8Array[], from: number): number {
    const m = this.memory;
    const start = m.loadPlain(this.#base + TAIL);
    let tail = start;
    let i = from;
    for (; i < messages.length; i++) {
      const bytes = messages[i];
      const need = 1 + ((bytes.length + 3) >>> 2);
      if (this.#free(tail, need) < need) break;
      this.#writeHeader(tail, bytes.length);
      this.#writePayload(tail + 1, bytes);
      tail = (tail + need) | 0;
    }
    if (tail !== start) this.#publish(tail);
    return i - from;
  }

  /**
   * Writes the first `cells` cells of the frame scratch at `position` with a
   * plain copy (cheaper than a seq-cst store per cell; TAIL's store
   * publishes them).
   */
  #writeFrame(position: number, cells: number): void {
    const m = this.memory;
    for (let i = 0; i < cells; i++) {
      m.storePlain(this.#data + ((position + i) & this.#mask), frame[i]);
    }
  }

  /**
   * Writes a frame header with a plain copy: a seq-cst store would stall on
   * the cache line the consumer last read, and TAIL's store publishes the
   * header anyway.
   */
  #writeHeader(position: number, header: number): void {
    this.memory.storePlain(this.#data + (position & this.#mask), header);
  }

  /** Pushes one int32 if a cell pair is free. */
  tryPushInt32(value: number): boolean {
    const m = this.memory;
    const tail = m.loadPlain(this.#base + TAIL);
    if (this.#free(tail, 2) < 2) return false;
    frame[0] = I32_RUN | 1;
    frame[1] = value;
    this.#writeFrame(tail, 2);
    this.#publish((tail + 2) | 0);
    return true;
  }

  /** Pushes one float64 if three cells are free. */
  tryPushFloat64(value: number): boolean {
    const m = this.memory;
    const tail = m.loadPlain(this.#base + TAIL);
    if (this.#free(tail, 3) < 3) return false;
    f64[0] = value;
    frame[0] = F64_RUN | 1;
    frame[1] = f64Cells[0];
    frame[2] = f64Cells[1];
    this.#writeFrame(tail, 3);
    this.#publish((tail + 3) | 0);
    return true;
  }

  /**
   * Pushes as many numbers of `source[from..]` as fit now, as one run, if
   * that is at least `atLeast` of them; returns how many.
   */
  tryPushRun(source: Int32Array | Float64Array, from: number, atLeast: number = 1): number {
    const m = this.memory;
    const tail = m.loadPlain(this.#base + TAIL);
    const perItem = source instanceof Int32Array ? 1 : 2;
    const wanted = source.length - from;
    const free = this.#free(tail, 2 + wanted * perItem);
    // A padding cell only when the whole run fits with it, so that padding
    // never makes a push take fewer numbers; only for runs long enough to be
    // copied with `set` (the first cell of the memory is assumed to be
    // 8-byte aligned, as a fresh buffer or a mapping is); and only with at
    // least half the ring free. Measured with batches of 64 int32 between
    // two workers: padding a producer that writes a stretch ahead of the
    // consumer (a blocking push waits for half the ring) ran 5-10% faster,
    // but padding one that refills the ring right behind the consumer as it
    // drains (a busy-polling `tryPushNumbers`) ran a third slower.
    const pad = wanted * perItem >= WORD_COPY_IN_MIN && free >= 2 + wanted * perItem &&
        free >= this.capacity >>> 1 &&
        ((this.#data + tail + 1 + (source.byteOffset >>> 2) + from * perItem) & 1) !== 0
      ? 1
      : 0;
    const room = free - 1 - pad;
    if (room < atLeast * perItem) return 0;
    const count = Math.min(wanted, (room / perItem) | 0, RUN_COUNT_MASK);
    const header = (perItem === 1 ? I32_RUN : F64_RUN) | (pad === 1 ? RUN_PADDED : 0) | count;
    this.#writeHeader(tail, header);
    this.#writeCells(tail + 1 + pad, this.#cellsOfPart(source, from, count, 0));
    this.#publish((tail + 1 + pad + count * perItem) | 0);
    return count;
  }

  // ------------------------------------------------------------- consumer

  /** Cells readable as the consumer sees them, refreshing its cached TAIL if none. */
  #available(head: number): number {
    let used = (this.#tail - head) | 0;
    // HEAD moved by another object of this end: the cached TAIL may be any
    // age (see #free).
    if (used <= 0 || head !== this.#headLeft) {
      this.#tail = this.memory.load(this.#base + TAIL);
      this.#headLeft = head;
      used = (this.#tail - head) | 0;
    }
    return used;
  }

  /** Frees cells up to `head` and wakes the producer if it sleeps. */
  #release(head: number): void {
    const m = this.memory;
    m.store(this.#base + HEAD, head);
    this.#headLeft = head;
    // The sleeping producer said how much room it waits for (half the ring,
    // so that it wakes to push a lot rather than once per freed frame; after
    // HIGH_WATER_MS of sleep it asks only for the room its push needs). The
    // cached TAIL is never ahead of the real one, so the room computed here
    // is never less than the real room: a wake-up may come early, never late.
    const want = m.load(this.#base + PRODUCER_SLEEPING);
    if (
      want !== 0 && this.capacity - ((this.#tail - head) | 0) >= want &&
      m.exchange(this.#base + PRODUCER_SLEEPING, 0) !== 0
    ) {
      m.add(this.#base + PRODUCER_BELL, 1);
      m.notify(this.#base + PRODUCER_BELL, 1);
    }
  }

  #corrupt(what: string): never {
    throw new MessageCorruptError(`Cannot read message: ${what} (the ring is corrupt)`);
  }

  /**
   * Finds the next frame: loads HEAD, leaves it in `#at` and returns the
   * cells readable from there (<= 0: none).
   */
  #locate(): number {
    const m = this.memory;
    const head = m.loadPlain(this.#base + HEAD);
    this.#at = head;
    return this.#available(head);
  }

  /** What the next frame is, without taking it. */
  peekKind(): FrameKind {
    if (this.#locate() <= 0) return "none";
    const head = this.#at;
    const kind = this.memory.loadPlain(this.#data + (head & this.#mask)) >>> 30;
    return kind === KIND_I32 || kind === KIND_F64 ? "number" : "bytes";
  }

  /**
   * Takes the next byte message, or returns undefined if none is complete.
   * Throws a TypeError (taking nothing) if the next frame holds numbers, and
   * a {@linkcode MessageCorruptError} once it has dropped a message whose
   * start this reader did not take (see the module doc).
   */
  tryPopBytes(): Uint8Array | undefined {
    const m = this.memory;
    for (;;) {
      const used = this.#locate();
      if (used <= 0) return undefined;
      const head = this.#at;
      const header = m.loadPlain(this.#data + (head & this.#mask));
      const kind = header >>> 30;
      if (kind === KIND_CHUNK) {
        const message = this.#popPart(head, header, used);
        if (message !== undefined) return message;
        continue;
      }
      if (kind !== KIND_BYTES) {
        throw new TypeError("Cannot pop bytes: the next message is a number (use popNumber)");
      }
      // A chunked message still in progress was given up by its sender.
      if (this.#partAt === this.#partAt) this.#endMessage();
      const cells = 1 + ((header + 3) >>> 2);
      if (cells > used || cells > this.capacity) {
        this.#corrupt(`a frame of ${header} bytes exceeds the ${used} cells published`);
      }
      const out = allocateBytes(header);
      this.#readPayload(head + 1, out);
      this.#release((head + cells) | 0);
      return out;
    }
  }

  /**
   * Takes the part of a chunked message at `head` (see the module doc):
   * returns the message if this part completes it, else undefined.
   */
  #popPart(head: number, header: number, used: number): Uint8Array | undefined {
    const length = header & CHUNK_LENGTH_MASK;
    const cells = CHUNK_HEADER_CELLS + ((length + 3) >>> 2);
    if (cells > used || cells > this.capacity) {
      this.#corrupt(`a part of ${length} bytes exceeds the ${used} cells published`);
    }
    const prev = this.memory.loadPlain(this.#data + ((head + 1) & this.#mask));
    const last = (header & CHUNK_LAST) !== 0;
    const next = (head + cells) | 0;
    if (prev === head) {
      // A new message: one still in progress was given up by its sender.
      if (this.#partAt === this.#partAt) this.#endMessage();
    } else if (prev !== this.#partAt) {
      // It continues no message this reader holds: another reader object of
      // this end took the start (or an earlier part). Drop it to its end.
      this.#parts = [];
      this.#dropping = true;
    }
    if (this.#dropping) {
      this.#release(next);
      this.#partAt = head;
      if (last) this.#endMessage();
      return undefined;
    }
    const part = allocateBytes(length);
    this.#readPayload(head + CHUNK_HEADER_CELLS, part);
    this.#release(next);
    this.#parts.push(part);
    this.#partAt = head;
    if (!last) return undefined;
    const message = this.#joinParts();
    this.#endMessage();
    return message;
  }

  /**
   * Ends the chunked message in progress; throws {@linkcode MessageCorruptError}
   * if it was being dropped (the frame that ended it is left in the ring).
   */
  #endMessage(): void {
    this.#parts = [];
    this.#partAt = NaN;
    if (!this.#dropping) return;
    this.#dropping = false;
    throw new MessageCorruptError(
      "Cannot read message: its start was taken by another reader object of this end " +
        "(a receive that timed out in the middle of a long message); the rest was dropped",
    );
  }

  /**
   * Takes up to `max` complete byte messages into `out`, freeing their cells
   * once; stops early at a number frame or a chunk. Returns how many.
   */
  tryPopManyBytes(max: number, out: Uint8Array[]): number {
    if (this.midMessage()) {
      const one = this.tryPopBytes();
      if (one === undefined) return 0;
      out.push(one);
      return 1;
    }
    const m = this.memory;
    const start = m.loadPlain(this.#base + HEAD);
    let head = start;
    let taken = 0;
    while (taken < max) {
      const used = this.#available(head);
      if (used <= 0) break;
      const header = m.loadPlain(this.#data + (head & this.#mask));
      if (header >>> 30 !== KIND_BYTES) break;
      const cells = 1 + ((header + 3) >>> 2);
      if (cells > used || cells > this.capacity) {
        if (head !== start) break; // deliver what is good first
        this.#corrupt(`a frame of ${header} bytes exceeds the ${used} cells published`);
      }
      const bytes = allocateBytes(header);
      this.#readPayload(head + 1, bytes);
      out.push(bytes);
      head = (head + cells) | 0;
      taken++;
    }
    if (head !== start) this.#release(head);
    if (taken === 0 && this.nextKindCode() === KIND_CHUNK) {
      const one = this.tryPopBytes();
      if (one !== undefined) {
        out.push(one);
        return 1;
      }
    }
    return taken;
  }

  #joinParts(): Uint8Array {
    const chunks = this.#parts;
    let total = 0;
    for (const chunk of chunks) total += chunk.length;
    const out = new Uint8Array(total);
    let offset = 0;
    for (const chunk of chunks) {
      out.set(chunk, offset);
      offset += chunk.length;
    }
    return out;
  }

  /** Whether a chunked message is in progress here (half received, or being dropped). */
  midMessage(): boolean {
    return this.#partAt === this.#partAt;
  }

  /**
   * Takes the next number; returns undefined if the ring is empty. Throws a
   * TypeError (taking nothing) if the next frame is a byte message.
   */
  tryPopNumber(): number | undefined {
    const m = this.memory;
    const used = this.#locate();
    if (used <= 0) return undefined;
    const head = this.#at;
    const mask = this.#mask;
    const header = m.loadPlain(this.#data + (head & mask));
    const kind = header >>> 30;
    const count = header & RUN_COUNT_MASK;
    const payload = head + 1 + ((header & RUN_PADDED) >>> 29);
    let value: number;
    let taken: number;
    if (kind === KIND_I32) {
      if (count === 0 || payload + count - head > used) {
        this.#corrupt(`a run of ${count} int32 is invalid`);
      }
      value = m.loadPlain(this.#data + (payload & mask));
      taken = 1;
    } else if (kind === KIND_F64) {
      if (count === 0 || payload + 2 * count - head > used) {
        this.#corrupt(`a run of ${count} float64 is invalid`);
      }
      f64Cells[0] = m.loadPlain(this.#data + (payload & mask));
      f64Cells[1] = m.loadPlain(this.#data + ((payload + 1) & mask));
      value = f64[0];
      taken = 2;
    } else {
      throw new TypeError("Cannot pop a number: the next message is bytes (use pop)");
    }
    if (count > 1) {
      // Rewrite the rest of the run as a run starting where this one ends:
      // the cells are ours until HEAD moves past them.
      const rest = (payload + taken - 1) | 0;
      m.storePlain(this.#data + (rest & mask), (header & ~RUN_PADDED) - 1);
      this.#release(rest);
    } else {
      this.#release((payload + taken) | 0);
    }
    return value;
  }

  /**
   * Takes up to `target.length - from` numbers into `target[from..]` from
   * the runs at the head (as many consecutive runs of the target's type as
   * it takes), freeing their cells with one store of HEAD; returns how many
   * (0 if the ring is empty or the next frame does not hold numbers of the
   * target's type). A run that does not fit whole is split: the rest stays,
   * as a run whose header is the cell before it (see the module doc).
   */
  tryPopRuns(target: Int32Array | Float64Array, from: number): number {
    const m = this.memory;
    let used = this.#locate();
    if (used <= 0) return 0;
    const start = this.#at;
    const mask = this.#mask;
    const perItem = target instanceof Int32Array ? 1 : 2;
    const wanted = perItem === 1 ? KIND_I32 : KIND_F64;
    let head = start;
    let done = from;
    while (done < target.length && used > 0) {
      const header = m.loadPlain(this.#data + (head & mask));
      if (header >>> 30 !== wanted) break;
      const count = header & RUN_COUNT_MASK;
      const payload = head + 1 + ((header & RUN_PADDED) >>> 29);
      if (count === 0 || payload + count * perItem - head > used) {
        if (done > from) break; // deliver what is good first
        this.#corrupt(`a run of ${count} is invalid`);
      }
      const taken = Math.min(count, target.length - done);
      this.#readCells(payload, this.#cellsOfPart(target, done, taken, 1));
      done += taken;
      if (taken < count) {
        const rest = (payload + taken * perItem - 1) | 0;
        m.storePlain(this.#data + (rest & mask), (header & ~RUN_PADDED) - taken);
        head = rest;
        break;
      }
      const next = (payload + count * perItem) | 0;
      used -= (next - head) | 0;
      head = next;
      if (used <= 0) used = this.#available(head);
    }
    if (head !== start) this.#release(head);
    return done - from;
  }

  /** The kind code of the next frame's header, or -1 if empty. */
  nextKindCode(): number {
    if (this.#locate() <= 0) return -1;
    const head = this.#at;
    return this.memory.loadPlain(this.#data + (head & this.#mask)) >>> 30;
  }

  // ------------------------------------------------------------- waiting

  /**
   * Waits until some frame is readable (Ok), the writer closed with nothing
   * left (Closed), or the deadline passes (TimedOut). Spins briefly first.
   */
  awaitReadable(deadline: Remaining, spin: boolean = true): Ready {
    const m = this.memory;
    const base = this.#base;
    const spins = spin ? SPIN : 0;
    // HEAD is ours (the consumer is blocked here), so only TAIL is polled.
    const head = m.load(base + HEAD);
    for (let i = 0; i < spins; i++) {
      pause();
      if (((m.load(base + TAIL) - head) | 0) > 0) return Ready.Ok;
    }
    for (;;) {
      m.store(base + CONSUMER_SLEEPING, 1);
      const bell = m.load(base + CONSUMER_BELL);
      const state = this.#readableState();
      if (state !== Ready.TimedOut) {
        m.store(base + CONSUMER_SLEEPING, 0);
        return state;
      }
      const remaining = deadline.remaining();
      if (remaining === 0) {
        m.store(base + CONSUMER_SLEEPING, 0);
        return Ready.TimedOut;
      }
      m.wait(base + CONSUMER_BELL, bell, remaining);
      m.store(base + CONSUMER_SLEEPING, 0);
    }
  }

  /** Async {@linkcode SpscRing.awaitReadable}. */
  async awaitReadableAsync(deadline: Remaining, signal: AbortSignal | undefined): Promise<Ready> {
    const m = this.memory;
    const base = this.#base;
    for (;;) {
      m.store(base + CONSUMER_SLEEPING, 1);
      const bell = m.load(base + CONSUMER_BELL);
      const state = this.#readableState();
      const remaining = deadline.remaining();
      if (state !== Ready.TimedOut || remaining === 0) {
        m.store(base + CONSUMER_SLEEPING, 0);
        return state;
      }
      try {
        await m.waitAsync(base + CONSUMER_BELL, bell, remaining, signal);
      } finally {
        m.store(base + CONSUMER_SLEEPING, 0);
      }
    }
  }

  /** Ok if data is readable, Closed if the writer closed and nothing is left, else TimedOut. */
  #readableState(): Ready {
    const m = this.memory;
    const base = this.#base;
    if (((m.load(base + TAIL) - m.load(base + HEAD)) | 0) > 0) return Ready.Ok;
    if (m.load(base + WRITER_CLOSED) !== 0) {
      // Re-check: frames published before the close are still delivered.
      return ((m.load(base + TAIL) - m.load(base + HEAD)) | 0) > 0 ? Ready.Ok : Ready.Closed;
    }
    return Ready.TimedOut;
  }

  /**
   * Waits until `need` cells are free (Ok), the reader closed (Closed), or the
   * deadline passes (TimedOut). Spins briefly first.
   */
  awaitWritable(need: number, deadline: Remaining, spin: boolean = true): Ready {
    const m = this.memory;
    const base = this.#base;
    // While spinning, wait for half the ring (or `need`, if more) rather
    // than for `need`: refilling a full ring frame by frame as the consumer
    // frees them keeps both sides on the same cache lines (each read of HEAD
    // here makes the consumer's next store of HEAD a miss). With slack the
    // consumer drains undisturbed while the producer pauses (longer the more
    // room is missing), then the producer writes a stretch the consumer is
    // not reading. The spin is a budget of pauses; at its end the producer
    // settles for `need` (a consumer that stopped draining delays a push by
    // one spin, never longer).
    const tail = m.load(base + TAIL);
    const spinWant = Math.max(need, this.capacity >>> 1);
    for (let budget = spin ? SPIN : 0; budget > 0;) {
      const free = this.capacity - ((tail - m.load(base + HEAD)) | 0);
      if (free >= spinWant) return Ready.Ok;
      // About one read of HEAD per 128 cells still missing, at most 16 pauses apart.
      let pauses = (spinWant - free) >>> 7;
      pauses = pauses < 1 ? 1 : pauses > 16 ? 16 : pauses;
      for (let j = 0; j < pauses; j++) pause();
      budget -= pauses;
    }
    if (spin && this.capacity - ((tail - m.load(base + HEAD)) | 0) >= need) return Ready.Ok;
    let want = Math.max(need, this.capacity >>> 1);
    for (;;) {
      m.store(base + PRODUCER_SLEEPING, want);
      const bell = m.load(base + PRODUCER_BELL);
      const state = this.#writableState(need);
      if (state !== Ready.TimedOut) {
        m.store(base + PRODUCER_SLEEPING, 0);
        return state;
      }
      const remaining = deadline.remaining();
      if (remaining === 0) {
        m.store(base + PRODUCER_SLEEPING, 0);
        return Ready.TimedOut;
      }
      const slice = want > need ? Math.min(remaining, HIGH_WATER_MS) : remaining;
      if (m.wait(base + PRODUCER_BELL, bell, slice) === "timed-out" && slice < remaining) {
        want = need;
      }
      m.store(base + PRODUCER_SLEEPING, 0);
    }
  }

  /** Async {@linkcode SpscRing.awaitWritable}. */
  async awaitWritableAsync(
    need: number,
    deadline: Remaining,
    signal: AbortSignal | undefined,
  ): Promise<Ready> {
    const m = this.memory;
    const base = this.#base;
    let want = Math.max(need, this.capacity >>> 1);
    for (;;) {
      m.store(base + PRODUCER_SLEEPING, want);
      const bell = m.load(base + PRODUCER_BELL);
      const state = this.#writableState(need);
      const remaining = deadline.remaining();
      if (state !== Ready.TimedOut || remaining === 0) {
        m.store(base + PRODUCER_SLEEPING, 0);
        return state;
      }
      const slice = want > need ? Math.min(remaining, HIGH_WATER_MS) : remaining;
      try {
        const result = await m.waitAsync(base + PRODUCER_BELL, bell, slice, signal);
        if (result === "timed-out" && slice < remaining) want = need;
      } finally {
        m.store(base + PRODUCER_SLEEPING, 0);
      }
    }
  }

  #writableState(need: number): Ready {
    const m = this.memory;
    const base = this.#base;
    if (m.load(base + READER_CLOSED) !== 0) return Ready.Closed;
    if (this.capacity - ((m.load(base + TAIL) - m.load(base + HEAD)) | 0) >= need) {
      return Ready.Ok;
    }
    return Ready.TimedOut;
  }
}
