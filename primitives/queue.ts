/**
 * `Queue`: a bounded multi-producer multi-consumer queue in shared memory
 * (Python's `multiprocessing.Queue`, with a synchronous `put` and a real
 * `close()`).
 *
 * Algorithm: Dmitry Vyukov's bounded MPMC queue, in the form of crossbeam's
 * `ArrayQueue` — a ring of slots, each with a *stamp*; HEAD and TAIL are
 * stamps too (slot index in the low bits, lap count above, `oneLap` the
 * power of two above `capacity`). Layout: see `_queue_layout.ts`.
 *
 * Invariants and why they hold:
 * - A slot whose stamp equals TAIL is free for the producer that moves TAIL
 *   past it with a compare-exchange (one winner per stamp). That producer
 *   writes its owner id, the payload bytes and the length, and only then
 *   stores `stamp + 1`, which publishes the slot. A consumer reads a slot
 *   only after it loaded stamp `head + 1` and won the compare-exchange on
 *   HEAD; it reads the length and bytes, and only then stores
 *   `head + oneLap`, which hands the slot to the producer of the next lap.
 *   Payload bytes are plain copies ordered by these seq-cst cell operations.
 * - "Empty" is reported only when TAIL equals HEAD, and "full" only when
 *   `HEAD + oneLap` equals TAIL. A slot that was claimed but not yet
 *   published (or not yet released) makes the other side wait for it rather
 *   than report empty/full, so every operation is linearizable: a `put` that
 *   returned is visible to every later `get`, `qsize()` and `empty()`.
 * - No lost wake-up: a side that will sleep increments its SLEEPERS cell,
 *   loads its bell, re-tries, and sleeps on the bell only if it still holds
 *   the loaded value. The other side stores the stamp, then loads SLEEPERS
 *   and, if non-zero, increments the bell and notifies one sleeper per item
 *   (or slot) it made available. By seq-cst order either the re-try sees the
 *   stamp, or the bell changed after the sleeper loaded it.
 * - Close: CLOSED is stored, then both bells are rung for everyone. A
 *   producer checks CLOSED before claiming and again after claiming; if it
 *   finds it set after claiming, it publishes a *tombstone* (length -1) that
 *   consumers skip, and throws. A consumer reports "closed" only when it
 *   loaded CLOSED = 1 and then TAIL = HEAD: every later claim comes after
 *   the close and turns into a tombstone, so no item is ever stranded.
 *
 * Crash recovery (matters for killed workers and processes): a producer
 * that dies after its compare-exchange on TAIL and before it publishes
 * leaves a claimed slot. Consumers never read it half-written (so no torn
 * message is ever delivered) and do not wait for it forever either. Each
 * claimed slot names its claimer in its claimer cell (`CLAIMED - owner`):
 * a producer names itself with a compare-exchange from 0 *before* its
 * compare-exchange on TAIL, and only the slot's named producer may move
 * TAIL past it, so there is no instant at which a slot is claimed and
 * nameless. (A producer that finds the slot named by another waits for
 * TAIL to move; if the named producer died before claiming, TAIL cannot
 * have moved, and the waiting producer moves it past the slot for it: the
 * slot becomes a claimed slot of a dead producer, recovered as below.) The
 * consumer that
 * releases a slot clears the name before it stores the next lap's stamp. A
 * consumer that has backed off on such a
 * slot for a while (about 50 µs of spinning, then every ~8 ms) asks the
 * liveness oracles (`shm/liveness.ts`: managed workers, registered
 * processes) whether that owner is dead; if so it *recovers* the slot:
 * 1. it moves HEAD past the slot with a compare-exchange (one winner among
 *    the consumers: the one that now owns this slot's read, as in a get);
 * 2. it moves the stamp from `head` (claimed, unpublished) to `head + oneLap`
 *    (free for the next lap) with a compare-exchange, without delivering
 *    anything. The producer publishes with a compare-exchange from `head`
 *    to `head + 1` (the same one atomic operation a store costs), so
 *    exactly one of the two succeeds. If the publish won, the consumer holds
 *    an ordinary read claim and delivers the item: nothing is lost.
 * Invariant: a slot's stamp leaves `head` exactly once, either published
 * (`head + 1`, delivered by exactly one consumer) or recovered
 * (`head + oneLap`, delivered by nobody); a producer whose publish fails
 * puts the item again in a fresh slot, so a live producer never loses a put
 * even if it was wrongly reported dead. A put that returned was published,
 * hence delivered; only a put that never returned can be lost.
 * Limits: (a) recovery needs a liveness oracle that knows the dead owner
 * (an unmanaged worker or unregistered process is never reported dead, so
 * its stuck slot blocks the queue; the wait for a half-done peer is not
 * bounded by the caller's timeout). (b) The recovery
 * relies on "dead" meaning the thread can no longer run: a thread reported
 * dead that still executes plain byte writes into a recovered slot could
 * spoil the next lap's item in it (worker handles mark a force-stopped
 * worker dead just before stopping it; processes are dead for good). A
 * consumer that dies between claiming and releasing a slot stops producers
 * one lap later (not recovered). JoinableQueue's unfinished count is
 * decremented exactly once for each recovered put that was counted (the
 * slot's counted mark, cleared by compare-exchange; see `#countPut`); a
 * producer killed between counting its put and marking the slot leaves the
 * count one too high.
 *
 * @module
 */

import { type Codec, type CodecName, resolveCodec } from "../shm/codec.ts";
import type { Memory } from "../shm/memory.ts";
import {
  type AsyncWaitOptions,
  Deadline,
  normalizeTimeout,
  type WaitOptions,
} from "../shm/timeout.ts";
import {
  attachQueueMemory,
  checkQueueParams,
  CLAIMED,
  claimedBy,
  CLOSED,
  codecFor,
  createQueueMemory,
  DEFAULT_CAPACITY,
  DEFAULT_MAX_MESSAGE_BYTES,
  GET_SLEEPERS,
  HEAD,
  NOT_EMPTY_BELL,
  NOT_FULL_BELL,
  PUT_SLEEPERS,
  SLOT_CLAIMER,
  SLOT_COUNTED,
  SLOT_HEADER_CELLS,
  SLOT_LENGTH,
  slotCells,
  SLOTS,
  TAIL,
  TOMBSTONE,
  UNFINISHED,
} from "./_queue_layout.ts";
import {
  type CreateOptions,
  isMemory,
  type KindName,
  type PrimitiveHandle,
  readParam,
} from "./_header.ts";
import { allocateBytes } from "./_byte_pool.ts";
import { currentOwnerId } from "./_owner.ts";
import { isOwnerDead } from "../shm/liveness.ts";
import { ceilPow2 } from "./_spsc_ring.ts";
import {
  MessageCorruptError,
  QueueClosedError,
  QueueEmptyError,
  QueueFullError,
} from "./errors.ts";
import { DENO_INSPECT, describeState } from "./_inspect.ts";

/**
 * The structured-cloneable form of a {@linkcode Queue} (or of a
 * `JoinableQueue`, which only `JoinableQueue.from` revives).
 *
 * @example Post the handle to a worker and revive it there
 * ```ts
 * import { Queue, type QueueHandle } from "@concur/shm";
 *
 * const queue = new Queue<string>(8, { codec: "string" });
 * const handle: QueueHandle = queue.handle; // worker.postMessage(handle)
 * const there = Queue.from<string>(handle); // in the worker
 * there.put("hi");
 * console.log(queue.get()); // "hi"
 * ```
 */
export type QueueHandle = PrimitiveHandle<"Queue" | "JoinableQueue">;

/**
 * Options of the {@linkcode Queue} constructor.
 *
 * @example
 * ```ts
 * import { Queue, type QueueOptions } from "@concur/shm";
 *
 * const options: QueueOptions<{ id: number }> = { codec: "json", maxMessageBytes: 256 };
 * const queue = new Queue(64, options);
 * queue.put({ id: 1 });
 * console.log(queue.get().id); // 1
 * ```
 */
export interface QueueOptions<T> extends CreateOptions {
  /**
   * The largest encoded message a slot holds, in bytes (each slot reserves
   * this much). A `put` of a longer message throws a `RangeError`.
   *
   * @default {1024}
   */
  maxMessageBytes?: number;
  /**
   * How values become bytes: `"structured"` (the default: what
   * `structuredClone` accepts), `"json"`, `"string"`, `"bytes"`,
   * `"number"`, or a custom {@linkcode Codec}.
   *
   * @default {"structured"}
   */
  codec?: CodecName | Codec<T>;
}

/**
 * Options of {@linkcode Queue.from}.
 *
 * @example A custom codec must be given again on the reviving side
 * ```ts
 * import { createCodec, Queue, type QueueAttachOptions } from "@concur/shm";
 *
 * const codec = createCodec("string");
 * const queue = new Queue<string>(8, { codec });
 * const options: QueueAttachOptions<string> = { codec };
 * Queue.from(queue.handle, options).put("x");
 * console.log(queue.get()); // "x"
 * ```
 */
export interface QueueAttachOptions<T> {
  /** The codec, required when the queue was created with a custom codec. */
  codec?: Codec<T>;
}

/** Returned by the internal try-get when there is nothing to take. */
const EMPTY: unique symbol = Symbol("empty");
/** Returned by a get attempt that found the queue closed and drained. */
const DRAINED: unique symbol = Symbol("drained");
/** Claim results besides a slot cell. */
const CLAIM_FULL = -1;
const CLAIM_CLOSED = -2;
/**
 * The counted mark of the put at position `stamp` (never 0: the top bit is
 * set; marks of laps less than 2^30 positions apart differ).
 */
function countedMark(stamp: number): number {
  return stamp | 0x80000000;
}

/** Whether counted mark `a` is of an earlier position than mark `b` (31-bit serial order). */
function lapsBefore(a: number, b: number): boolean {
  return ((a - b) << 1) >> 1 < 0;
}

/** Results of a recovery attempt besides a slot cell. */
const NOT_RECOVERED = -1;
const RECOVERED = -2;
/** Reads of the queue state before a blocked call goes to sleep (about 10 µs). */
const SPIN = 250;
/** The first reads go without a CPU pause (a pause costs about 50 ns here). */
const TIGHT_SPIN = 50;
/** Pauses before a wait for a half-done peer operation backs off to 1 ms sleeps. */
const BACKOFF_SPINS = 1000;
/**
 * Back-off rounds a consumer waits on a claimed, unpublished slot before it
 * asks whether the claimer is dead (then again every 8 rounds, ~8 ms apart).
 */
const RECOVER_AFTER_SPINS = BACKOFF_SPINS + 2;
/** The same bound where back-off rounds are 1 ms sleeps from the start (no spinning). */
const RECOVER_AFTER_SLEEPS = 2;
const CODEC_NUMBER = 5;
const CODEC_BYTES = 1;

const pause: () => void = typeof Atomics.pause === "function" ? () => Atomics.pause() : () => {};
const f64 = new Float64Array(1);
const f64Cells = new Int32Array(f64.buffer);

/**
 * A bounded queue for any number of producers and consumers across workers.
 *
 * - `put`/`get` block (in workers) with an optional `timeout` and throw
 *   {@linkcode QueueFullError}/{@linkcode QueueEmptyError} when it expires;
 *   `putNowait`/`getNowait` never wait; `putAsync`/`getAsync` never block the
 *   event loop and take an `AbortSignal`.
 * - `put` encodes and copies the value into shared memory before it returns:
 *   encoding errors are thrown to the caller, and `qsize()`/`empty()` count
 *   the item at once (unlike Python's feeder thread).
 * - Each producer's items arrive in the order it put them; each item goes to
 *   exactly one consumer.
 * - `close()` shuts the queue for everyone: `put` throws
 *   {@linkcode QueueClosedError}; consumers take what is left, then get
 *   `QueueClosedError` instead of waiting forever; `for await` loops end.
 *
 * @typeParam T The values carried (see the `codec` option).
 *
 * @example Producer and consumer
 * ```ts
 * import { Queue } from "@concur/shm";
 *
 * const queue = new Queue<{ id: number }>(16, { codec: "json" });
 * // new Worker(url).postMessage(queue.handle); in the worker: Queue.from(handle)
 * queue.put({ id: 1 });
 * queue.put({ id: 2 });
 * queue.close();
 * for await (const item of queue) console.log(item.id); // 1, 2
 * ```
 */
export class Queue<T = unknown> {
  readonly #memory: Memory;
  readonly #codec: Codec<T>;
  readonly #codecId: number;
  readonly #kind: KindName;
  readonly #capacity: number;
  readonly #slotBytes: number;
  readonly #slotCells: number;
  readonly #oneLap: number;
  readonly #indexMask: number;
  readonly #lapMask: number;
  /** The stamp of the slot the last claim returned. */
  #stamp = 0;
  /**
   * The memory's `batch`, bound, or undefined (SAB, mmap: their operations
   * are atomic one by one, and the fast paths then call the step directly).
   */
  readonly #batch: (<R>(fn: () => R) => R) | undefined;
  /** Whether spinning on loads before sleeping pays (not when each load is a syscall). */
  readonly #spin: boolean;
  /** Whether puts are counted in UNFINISHED (a JoinableQueue). */
  readonly #counting: boolean;

  /**
   * Creates an empty queue.
   *
   * @param capacity How many items it holds at most (an integer >= 1;
   * default 1024: unlike Python's, a queue is never unbounded).
   * @param options `maxMessageBytes`, `codec`, and where to allocate it.
   * @throws {RangeError} If `capacity` or `maxMessageBytes` is out of range.
   */
  constructor(capacity?: number, options?: QueueOptions<T>);
  /** @internal Wraps an already checked memory. */
  constructor(memory: Memory, codec: Codec<T>);
  constructor(arg?: number | Memory, options?: QueueOptions<T> | Codec<T>) {
    if (isMemory(arg)) {
      this.#memory = arg;
      this.#codec = options as Codec<T>;
    } else {
      const opts = options as QueueOptions<T> | undefined;
      const { codec, id } = resolveCodec(opts?.codec, "structured");
      const maxBytes = opts?.maxMessageBytes ??
        (id === CODEC_NUMBER ? 8 : DEFAULT_MAX_MESSAGE_BYTES);
      if (id === CODEC_NUMBER && maxBytes < 8) {
        throw new RangeError(
          `Cannot create ${this.constructor.name}: the "number" codec needs maxMessageBytes >= 8, received ${maxBytes}`,
        );
      }
      const params = checkQueueParams(
        this.kindName(),
        arg === undefined ? DEFAULT_CAPACITY : arg,
        maxBytes,
      );
      this.#memory = createQueueMemory(this.kindName(), params, id, opts?.allocate);
      this.#codec = codec;
    }
    const memory = this.#memory;
    this.#kind = this.kindName();
    this.#codecId = readParam(memory, 2);
    this.#capacity = readParam(memory, 0);
    this.#slotBytes = readParam(memory, 1);
    this.#slotCells = slotCells(this.#slotBytes);
    this.#oneLap = ceilPow2(this.#capacity + 1);
    this.#indexMask = this.#oneLap - 1;
    this.#lapMask = ~this.#indexMask;
    this.#batch = memory.batch?.bind(memory) as (<R>(fn: () => R) => R) | undefined;
    this.#spin = memory.spinWorthwhile !== false;
    this.#counting = this.countsPuts();
  }

  /**
   * @internal The kind stored in the header ("Queue" here; subclasses
   * override it).
   */
  protected kindName(): KindName {
    return "Queue";
  }
  /**
   * @internal Whether each put is counted as an unfinished task (see
   * `JoinableQueue`): counted between the claim of its slot and its
   * publication, so a consumer that takes the item always finds it counted,
   * and a put that fails was never counted.
   */
  protected countsPuts(): boolean {
    return false;
  }

  /** @internal The memory (for subclasses that add cells of their own). */
  protected get memory(): Memory {
    return this.#memory;
  }

  /**
   * Revives a queue from its handle (typically in a worker). The codec is
   * the one the queue was created with.
   *
   * @param handle The {@linkcode Queue.handle} of a queue.
   * @param options The `codec`, if the queue was created with a custom one.
   * @returns A queue on the same shared state.
   * @throws {LayoutError} If the handle is not a valid queue, or the codec does not match.
   *
   * @example
   * ```ts
   * import { Queue } from "@concur/shm";
   *
   * const queue = new Queue<string>(4, { codec: "string" });
   * Queue.from<string>(queue.handle).put("hi");
   * console.log(queue.get()); // "hi"
   * ```
   */
  static from<T = unknown>(handle: QueueHandle, options?: QueueAttachOptions<T>): Queue<T> {
    const memory = attachQueueMemory(handle, "Queue");
    return new Queue<T>(memory, codecFor<T>(memory, "Queue", options?.codec));
  }

  /**
   * Plain data to post to a worker; revive it with {@linkcode Queue.from}.
   *
   * @example
   * ```ts
   * import { Queue } from "@concur/shm";
   *
   * console.log(new Queue(4).handle.kind); // "Queue"
   * ```
   */
  get handle(): QueueHandle {
    return { kind: this.#kind as "Queue", memory: this.#memory.handle() };
  }

  /**
   * How many items the queue holds at most.
   *
   * @example
   * ```ts
   * import { Queue } from "@concur/shm";
   *
   * console.log(new Queue(3).capacity); // 3
   * ```
   */
  get capacity(): number {
    return this.#capacity;
  }

  /**
   * The largest encoded message a slot holds, in bytes.
   *
   * @example
   * ```ts
   * import { Queue } from "@concur/shm";
   *
   * console.log(new Queue(3, { maxMessageBytes: 64 }).maxMessageBytes); // 64
   * ```
   */
  get maxMessageBytes(): number {
    return this.#slotBytes;
  }

  /**
   * The codec's name (`"structured"`, `"json"`, ... or a custom codec's name).
   *
   * @example
   * ```ts
   * import { Queue } from "@concur/shm";
   *
   * console.log(new Queue(3).codec); // "structured"
   * ```
   */
  get codec(): string {
    return this.#codec.name;
  }

  // ------------------------------------------------------------ internals

  /** Runs a non-waiting step as one batch when the memory has batches (slow paths). */
  #step<R>(fn: () => R): R {
    const batch = this.#batch;
    return batch === undefined ? fn() : batch(fn);
  }

  /** One put attempt, as one batch on memories with batches: 1 put, 0 full. */
  #attemptPut(value: T, bytes: Uint8Array | undefined): number {
    const batch = this.#batch;
    return batch === undefined
      ? this.#tryPut(value, bytes)
      : batch(() => this.#tryPut(value, bytes));
  }

  /** One get attempt, as one batch on memories with batches. */
  #attemptGet(): T | typeof EMPTY {
    const batch = this.#batch;
    return batch === undefined ? this.#tryGet() : batch(() => this.#tryGet());
  }

  /** Waits a little for a peer that is half-way through an operation. */
  #backoff(cell: number, value: number, spins: number): number {
    if (spins < BACKOFF_SPINS && this.#spin) {
      pause();
    } else {
      // The peer is descheduled (or dead): sleep 1 ms at a time instead of
      // burning the core. Nobody notifies this cell; the wait returns at once
      // if the cell already changed.
      this.#memory.wait(cell, value, 1);
    }
    return spins + 1;
  }

  /**
   * Claims a slot to write: its first cell, or CLAIM_FULL / CLAIM_CLOSED.
   * The producer names itself in the slot's claimer cell (a
   * compare-exchange from 0) before it claims the slot (the
   * compare-exchange on TAIL), so a claimed slot always names its claimer
   * (see "Crash recovery" in the module doc). Only the holder of a slot's
   * claimer cell can move TAIL past that slot: another producer that finds
   * the cell taken waits for TAIL to move, and clears the cell itself only
   * if its holder died before claiming.
   */
  #claimWrite(): number {
    const m = this.#memory;
    // An early out only (an unordered read): the check that makes close()
    // strand nothing is the seq-cst one after the claim.
    if (m.loadPlain(CLOSED) !== 0) return CLAIM_CLOSED;
    const oneLap = this.#oneLap;
    const me = claimedBy(currentOwnerId());
    let tail = m.load(TAIL);
    let spins = 0;
    for (;;) {
      const index = tail & this.#indexMask;
      const slot = SLOTS + index * this.#slotCells;
      const stamp = m.load(slot);
      if (stamp === tail) {
        const holder = m.compareExchange(slot + SLOT_CLAIMER, 0, me);
        if (holder === 0) {
          const seen = m.compareExchange(TAIL, tail, this.#after(tail));
          // Claimed, by us or (we were reported dead) for us by a producer
          // that moved TAIL past our named slot (see below): the slot is
          // still at `tail` and still names us.
          if (
            seen === tail ||
            (m.load(slot) === tail && m.load(slot + SLOT_CLAIMER) === me)
          ) {
            this.#stamp = tail;
            return slot;
          }
          // Our TAIL was stale: the slot is free for a later lap, not ours.
          m.compareExchange(slot + SLOT_CLAIMER, me, 0);
          tail = seen;
          continue;
        }
        // Another producer is between naming itself and claiming (a few
        // instructions), or died there: then TAIL stays at `tail` (nobody
        // else can move it past this slot). Its name is left in place and
        // TAIL moved past the slot for it, as if it had claimed it: the
        // slot is then a claimed slot of a dead producer, which consumers
        // recover; and if the "dead" producer still runs, it finds its slot
        // claimed for it and fills it (its publish and a recovery are
        // arbitrated by the stamp as usual). Clearing the name instead
        // would race with the producer's own claim and could leave a
        // claimed slot that names nobody.
        if (
          spins >= (this.#spin ? RECOVER_AFTER_SPINS : RECOVER_AFTER_SLEEPS) &&
          (spins & 7) === 0 && holder <= CLAIMED && m.load(TAIL) === tail &&
          isOwnerDead(CLAIMED - holder)
        ) {
          const next = this.#after(tail);
          tail = m.compareExchange(TAIL, tail, next) === tail ? next : m.load(TAIL);
          continue;
        }
        spins = this.#backoff(TAIL, tail, spins);
        tail = m.load(TAIL);
      } else if (((stamp + oneLap) | 0) === ((tail + 1) | 0)) {
        // The slot still holds last lap's item: full, unless a consumer
        // is half-way through taking it.
        if (((m.load(HEAD) + oneLap) | 0) === tail) return CLAIM_FULL;
        spins = this.#backoff(slot, stamp, spins);
        tail = m.load(TAIL);
      } else {
        // Our TAIL is stale, or last lap's producer has not published yet.
        spins = this.#backoff(slot, stamp, spins);
        tail = m.load(TAIL);
      }
    }
  }

  /** Claims a slot to read: its first cell, or -1 if the queue is empty. */
  #claimRead(): number {
    const m = this.#memory;
    let head = m.load(HEAD);
    let spins = 0;
    for (;;) {
      const index = head & this.#indexMask;
      const slot = SLOTS + index * this.#slotCells;
      const stamp = m.load(slot);
      if (stamp === ((head + 1) | 0)) {
        const seen = m.compareExchange(HEAD, head, this.#after(head));
        if (seen === head) {
          this.#stamp = head;
          return slot;
        }
        head = seen;
      } else if (stamp === head) {
        // Nothing published here: empty, unless a producer is half-way.
        if (m.load(TAIL) === head) return -1;
        if (
          spins >= (this.#spin ? RECOVER_AFTER_SPINS : RECOVER_AFTER_SLEEPS) && (spins & 7) === 0
        ) {
          const taken = this.#recoverAbandoned(slot, head);
          if (taken === RECOVERED) {
            spins = 0;
            head = m.load(HEAD);
            continue;
          }
          if (taken === slot) return slot;
        }
        spins = this.#backoff(slot, stamp, spins);
        head = m.load(HEAD);
      } else {
        spins = this.#backoff(slot, stamp, spins);
        head = m.load(HEAD);
      }
    }
  }

  /**
   * Skips the slot at `head` if its claimer died before publishing it (see
   * "Crash recovery" in the module doc). Returns RECOVERED if this consumer
   * turned it into a tombstone (and released it), `slot` if it claimed the
   * read of a slot that turned out published after all (the caller reads it
   * as usual), or NOT_RECOVERED (the claimer is alive, unknown, or another
   * consumer moved HEAD first).
   */
  #recoverAbandoned(slot: number, head: number): number {
    const m = this.#memory;
    const claimer = m.load(slot + SLOT_CLAIMER);
    // A claimed slot names its claimer while the claimer may still publish
    // it; a claimed slot whose name was given up (a producer reported dead
    // gives its name back when it finds TAIL moved for it on a later lap)
    // has no claimer left, like one whose claimer is dead.
    if (claimer !== 0 && (claimer > CLAIMED || !isOwnerDead(CLAIMED - claimer))) {
      return NOT_RECOVERED;
    }
    // One winner: the consumer that moves HEAD past the slot owns its read.
    if (m.compareExchange(HEAD, head, this.#after(head)) !== head) return NOT_RECOVERED;
    this.#stamp = head;
    // Release it to the next lap unpublished. The claimer publishes with a
    // compare-exchange from `head`, so exactly one of the two succeeds: if
    // it published first, this consumer holds a normal read claim on it.
    // (The claimer cell is cleared first, so that the next lap's claim never
    // shows this dead owner; the compare-exchange publishes the clearing.)
    // A compare-exchange from the value judged abandoned: a live producer
    // that named the slot since (possible only when that value was 0) keeps
    // its name, which holds the next lap's producers off until it gives it
    // back after its publish fails.
    m.compareExchange(slot + SLOT_CLAIMER, claimer, 0);
    if (m.compareExchange(slot, head, (head + this.#oneLap) | 0) !== head) return slot;
    if (m.load(PUT_SLEEPERS) !== 0) {
      m.add(NOT_FULL_BELL, 1);
      m.notify(NOT_FULL_BELL, 1);
    }
    // Uncount the dead put if it was counted and nobody uncounted it yet
    // (see #countPut: whoever clears its mark uncounts it).
    this.#uncountIfMarked(slot, head);
    return RECOVERED;
  }

  /**
   * @internal Called once for each put whose claimer died before publishing
   * it (the item was never delivered): subclasses undo their bookkeeping.
   */
  protected abandonedPut(): void {}

  /**
   * Publishes a written slot and wakes one sleeping consumer, if any.
   * Returns false if a consumer had tombstoned the slot (this thread was
   * reported dead while it held the claim): nothing was published.
   */
  #publish(slot: number, stamp: number): boolean {
    const m = this.#memory;
    // A compare-exchange, not a store (the same one atomic RMW on the
    // hardware): a producer that comes back after its slot was recovered
    // cannot publish into it.
    if (m.compareExchange(slot, stamp, (stamp + 1) | 0) !== stamp) return false;
    if (m.load(GET_SLEEPERS) !== 0) {
      m.add(NOT_EMPTY_BELL, 1);
      m.notify(NOT_EMPTY_BELL, 1);
    }
    return true;
  }

  /** Hands a read slot to the next lap and wakes one sleeping producer, if any. */
  #release(slot: number, stamp: number): void {
    const m = this.#memory;
    // The next lap's claim starts from a claimer cell that names nobody.
    m.storePlain(slot + SLOT_CLAIMER, 0);
    // Only this lap's mark: a stale one (a put recovered before it marked)
    // is its producer's or a later producer's to clear and uncount.
    if (this.#counting) {
      const mark = countedMark(stamp);
      m.compareExchange(slot + SLOT_COUNTED, mark, 0);
    }
    m.store(slot, (stamp + this.#oneLap) | 0);
    if (m.load(PUT_SLEEPERS) !== 0) {
      m.add(NOT_FULL_BELL, 1);
      m.notify(NOT_FULL_BELL, 1);
    }
  }

  /** Encodes `value` for a put (nothing for the number fast path); throws before anything is claimed. */
  #encode(value: T): Uint8Array | undefined {
    if (this.#codecId === CODEC_NUMBER) {
      if (typeof value !== "number") {
        throw new TypeError(
          `Cannot put: the "number" codec carries numbers, received ${typeof value}`,
        );
      }
      return undefined;
    }
    const bytes = this.#codec.encode(value);
    if (bytes.length > this.#slotBytes) {
      throw new RangeError(
        `Cannot put: the message is ${bytes.length} bytes, more than the ${this.#slotBytes} a slot of this ${this.#kind} can ever hold (maxMessageBytes)`,
      );
    }
    return bytes;
  }

  /** One attempt: 1 put, 0 full; throws QueueClosedError. */
  #tryPut(value: T, bytes: Uint8Array | undefined): number {
    for (;;) {
      const done = this.#tryPutOnce(value, bytes);
      // -1: the slot was recovered under us (we were reported dead while we
      // held it): nothing was published, so put the item again.
      if (done >= 0) return done;
    }
  }

  #tryPutOnce(value: T, bytes: Uint8Array | undefined): number {
    const slot = this.#claimWrite();
    if (slot < 0) {
      if (slot === CLAIM_FULL) return 0;
      throw new QueueClosedError(`Cannot put: the ${this.#kind} is closed`);
    }
    const m = this.#memory;
    const stamp = this.#stamp;
    // Plain stores into the claimed slot (which already names us): the
    // publishing compare-exchange of its stamp orders them before any
    // consumer's read.
    if (m.load(CLOSED) !== 0) {
      m.store(slot + SLOT_LENGTH, TOMBSTONE);
      // If recovered meanwhile, the slot is skipped all the same; give our
      // name back then, as below.
      if (!this.#publish(slot, stamp)) this.#giveNameBack(slot);
      throw new QueueClosedError(`Cannot put: the ${this.#kind} is closed`);
    }
    if (this.#counting) this.#countPut(slot, stamp);
    if (bytes === undefined) {
      f64[0] = value as number;
      m.storePlain(slot + SLOT_HEADER_CELLS, f64Cells[0]);
      m.storePlain(slot + SLOT_HEADER_CELLS + 1, f64Cells[1]);
      m.storePlain(slot + SLOT_LENGTH, 8);
    } else {
      m.writeBytes((slot + SLOT_HEADER_CELLS) * 4, bytes);
      m.storePlain(slot + SLOT_LENGTH, bytes.length);
    }
    if (this.#publish(slot, stamp)) return 1;
    // Recovered under us (we were reported dead, or our TAIL was stale and a
    // consumer was recovering the slot's dead claimer): uncount, unless the
    // recovering consumer or a later producer already did, and give our
    // name back (the slot is free for the next lap, whose producers would
    // otherwise wait for us).
    this.#uncountIfMarked(slot, stamp);
    this.#giveNameBack(slot);
    return -1;
  }

  /** Uncounts the put at `stamp` if its slot still carries its counted mark (clearing it). */
  #uncountIfMarked(slot: number, stamp: number): void {
    const mark = countedMark(stamp);
    if (this.#counting && this.#memory.compareExchange(slot + SLOT_COUNTED, mark, 0) === mark) {
      this.abandonedPut();
    }
  }

  /** Clears our name from `slot` if it is still there (a slot we no longer hold). */
  #giveNameBack(slot: number): void {
    this.#memory.compareExchange(slot + SLOT_CLAIMER, claimedBy(currentOwnerId()), 0);
  }

  /** The position after `position` (the next slot; past the last one, the next lap's first). */
  #after(position: number): number {
    return (position & this.#indexMask) + 1 < this.#capacity
      ? (position + 1) | 0
      : ((position & this.#lapMask) + this.#oneLap) | 0;
  }

  /**
   * Counts the put claimed at `stamp` as an unfinished task and marks its
   * slot with the lap's mark. Exactly one party clears a mark, with a
   * compare-exchange, and uncounts that put: the consumer that recovers the
   * slot, the producer itself if its publish fails, or a later lap's
   * producer that finds the stale mark of a put recovered before it could
   * mark (a producer reported dead while it still ran). A producer killed
   * between counting and marking leaves the count one too high, never too
   * low: join waits rather than lies.
   */
  #countPut(slot: number, stamp: number): void {
    const m = this.#memory;
    const mine = countedMark(stamp);
    m.add(UNFINISHED, 1);
    for (;;) {
      const seen = m.compareExchange(slot + SLOT_COUNTED, 0, mine);
      if (seen === 0) return;
      if (lapsBefore(seen, mine)) {
        // An earlier lap's put, recovered before it marked: uncount it.
        if (m.compareExchange(slot + SLOT_COUNTED, seen, 0) === seen) this.abandonedPut();
        continue;
      }
      // A later lap already uses the slot: ours was recovered (our publish
      // will fail); nobody else can uncount our unmarked count.
      this.abandonedPut();
      return;
    }
  }

  /** One attempt: the item, or EMPTY. */
  #tryGet(): T | typeof EMPTY {
    const m = this.#memory;
    for (;;) {
      const slot = this.#claimRead();
      if (slot < 0) return EMPTY;
      const stamp = this.#stamp;
      // Unordered reads of the slot: its published stamp, loaded seq-cst by
      // #claimRead, orders the producer's writes before them.
      const length = m.loadPlain(slot + SLOT_LENGTH);
      if (length === TOMBSTONE) {
        this.#release(slot, stamp);
        continue;
      }
      try {
        if (length < 0 || length > this.#slotBytes) {
          throw new MessageCorruptError(
            `Cannot get: a slot records ${length} bytes, outside [0, ${this.#slotBytes}] (the queue memory is corrupt)`,
          );
        }
        const payload = (slot + SLOT_HEADER_CELLS) * 4;
        if (this.#codecId === CODEC_NUMBER) {
          if (length !== 8) {
            throw new MessageCorruptError(
              `Cannot get: a number message is 8 bytes, the slot records ${length}`,
            );
          }
          f64Cells[0] = m.loadPlain(slot + SLOT_HEADER_CELLS);
          f64Cells[1] = m.loadPlain(slot + SLOT_HEADER_CELLS + 1);
          return f64[0] as T;
        }
        if (this.#codecId === CODEC_BYTES) {
          const out = allocateBytes(length);
          m.readBytes(payload, out);
          return out as T;
        }
        return this.#codec.decode(m.viewBytes(payload, length));
      } finally {
        this.#release(slot, stamp);
      }
    }
  }

  #closedAndDrained(): boolean {
    const m = this.#memory;
    return m.load(CLOSED) !== 0 && m.load(TAIL) === m.load(HEAD);
  }

  #empty(): QueueEmptyError {
    return new QueueEmptyError(`Cannot get: the ${this.#kind} is empty`);
  }

  #full(): QueueFullError {
    return new QueueFullError(`Cannot put: the ${this.#kind} is full`);
  }

  #closedGet(): QueueClosedError {
    return new QueueClosedError(`Cannot get: the ${this.#kind} is closed and drained`);
  }

  // ------------------------------------------------------------ producers

  /**
   * Puts an item, waiting for room while the queue is full.
   *
   * @param value The item (encoded and copied before this returns).
   * @param options `timeout` in ms (default: forever; negative: poll once).
   * @throws {QueueFullError} If the timeout expired while the queue was full.
   * @throws {QueueClosedError} If the queue is (or gets) closed.
   * @throws {RangeError} If the encoded item is larger than `maxMessageBytes`.
   * @throws {TypeError} If the codec cannot encode the item.
   *
   * @example
   * ```ts
   * import { Queue } from "@concur/shm";
   *
   * const queue = new Queue<number>(1, { codec: "number" });
   * queue.put(1);
   * try {
   *   queue.put(2, { timeout: 10 });
   * } catch (err) {
   *   console.log((err as Error).name); // "QueueFullError"
   * }
   * ```
   */
  put(value: T, options?: WaitOptions): void {
    // Checked before the fast path: a bad timeout is an error whether or not it would wait.
    const timeout = normalizeTimeout(options?.timeout);
    const bytes = this.#encode(value);
    const batch = this.#batch;
    if (
      (batch === undefined
        ? this.#tryPut(value, bytes)
        : batch(() => this.#tryPut(value, bytes))) ===
        1
    ) return;
    if (timeout === 0) throw this.#full();
    const deadline = new Deadline(timeout);
    const m = this.#memory;
    const oneLap = this.#oneLap;
    for (let i = 0; this.#spin && i < SPIN; i++) {
      if (((m.load(HEAD) + oneLap) | 0) !== m.load(TAIL) || m.load(CLOSED) !== 0) {
        if (this.#tryPut(value, bytes) === 1) return;
      }
      if (i >= TIGHT_SPIN) pause();
    }
    m.add(PUT_SLEEPERS, 1);
    try {
      let bell = 0;
      const attempt = () => {
        bell = m.load(NOT_FULL_BELL);
        return this.#tryPut(value, bytes);
      };
      for (;;) {
        if (this.#step(attempt) === 1) return;
        const remaining = deadline.remaining();
        if (remaining === 0) throw this.#full();
        m.wait(NOT_FULL_BELL, bell, remaining);
      }
    } finally {
      m.add(PUT_SLEEPERS, -1);
    }
  }

  /**
   * Puts an item if there is room now (Python's `put_nowait`).
   *
   * @param value The item.
   * @throws {QueueFullError} If the queue is full.
   * @throws {QueueClosedError} If the queue is closed.
   *
   * @example
   * ```ts
   * import { Queue } from "@concur/shm";
   *
   * const queue = new Queue<string>(1, { codec: "string" });
   * queue.putNowait("a");
   * try {
   *   queue.putNowait("b");
   * } catch (err) {
   *   console.log((err as Error).name); // "QueueFullError"
   * }
   * ```
   */
  putNowait(value: T): void {
    const bytes = this.#encode(value);
    if (this.#attemptPut(value, bytes) !== 1) throw this.#full();
  }

  /**
   * {@linkcode Queue.put} without blocking the thread or the event loop.
   *
   * @param value The item.
   * @param options `timeout` in ms and an abort `signal`.
   * @throws {QueueFullError} If the timeout expired while the queue was full.
   * @throws {QueueClosedError} If the queue is (or gets) closed.
   * @throws The signal's reason, if it aborts first (nothing is put).
   *
   * @example
   * ```ts
   * import { Queue } from "@concur/shm";
   *
   * const queue = new Queue(2);
   * await queue.putAsync({ any: "value" });
   * console.log(await queue.getAsync()); // { any: "value" }
   * ```
   */
  async putAsync(value: T, options?: AsyncWaitOptions): Promise<void> {
    const signal = options?.signal;
    signal?.throwIfAborted();
    let bytes = this.#encode(value);
    if (this.#attemptPut(value, bytes) === 1) return;
    const timeout = normalizeTimeout(options?.timeout);
    if (timeout === 0) throw this.#full();
    // The codec's scratch buffer may be reused by another put while we wait.
    bytes = bytes?.slice();
    const deadline = new Deadline(timeout);
    const m = this.#memory;
    m.add(PUT_SLEEPERS, 1);
    try {
      let bell = 0;
      const attempt = () => {
        bell = m.load(NOT_FULL_BELL);
        return this.#tryPut(value, bytes);
      };
      for (;;) {
        if (this.#step(attempt) === 1) return;
        const remaining = deadline.remaining();
        if (remaining === 0) throw this.#full();
        await m.waitAsync(NOT_FULL_BELL, bell, remaining, signal);
      }
    } finally {
      m.add(PUT_SLEEPERS, -1);
    }
  }

  /**
   * Puts several items in order, waiting for room as needed; the timeout
   * covers the whole batch.
   *
   * @param values The items.
   * @param options `timeout` in ms.
   * @throws {QueueFullError} If the timeout expired; the items before the
   * failing one were put, and `err.cause` is how many (a number).
   * @throws {RangeError} If an item is too large, and {TypeError} if the
   * codec cannot carry it; the items before it were put, and the message
   * says how many (`err.cause` is the codec's or the size check's error).
   * @throws {QueueClosedError} If the queue is (or gets) closed.
   *
   * @example
   * ```ts
   * import { Queue } from "@concur/shm";
   *
   * const queue = new Queue<number>(8, { codec: "number" });
   * queue.putMany([1, 2, 3]);
   * console.log(queue.getMany(8)); // [ 1, 2, 3 ]
   * ```
   */
  putMany(values: Iterable<T>, options?: WaitOptions): void {
    // One batch for the whole loop on memories with batches (one lock and
    // one write-back for many items; a put that must wait splits it).
    const batch = this.#batch;
    if (batch === undefined) this.#putAll(values, options);
    else batch(() => this.#putAll(values, options));
  }

  #putAll(values: Iterable<T>, options: WaitOptions | undefined): void {
    const deadline = new Deadline(options?.timeout);
    let done = 0;
    for (const value of values) {
      try {
        this.put(value, { timeout: deadline.remaining() });
      } catch (err) {
        throw this.#batchPutError(err, done);
      }
      done++;
    }
  }

  /**
   * {@linkcode Queue.putMany} without blocking the thread: the items go in
   * order, waiting for room as needed.
   *
   * @param values The items.
   * @param options `timeout` in ms for the whole batch, and an abort `signal`.
   * @throws {QueueFullError} If the timeout expired (`err.cause`: how many were put).
   * @throws {RangeError} If an item is too large, and {TypeError} if the codec
   * cannot carry it (the message says how many were put before it).
   * @throws The signal's reason, if it aborts first (the items before were put).
   *
   * @example
   * ```ts
   * import { Queue } from "@concur/shm";
   *
   * const queue = new Queue<number>(8, { codec: "number" });
   * await queue.putManyAsync([1, 2, 3], { timeout: 1000 });
   * console.log(await queue.getManyAsync(8)); // [ 1, 2, 3 ]
   * ```
   */
  async putManyAsync(values: Iterable<T>, options?: AsyncWaitOptions): Promise<void> {
    const deadline = new Deadline(options?.timeout);
    let done = 0;
    for (const value of values) {
      try {
        await this.putAsync(value, { timeout: deadline.remaining(), signal: options?.signal });
      } catch (err) {
        throw this.#batchPutError(err, done);
      }
      done++;
    }
  }

  /** The error of a put that failed after `done` items of a batch went in. */
  #batchPutError(err: unknown, done: number): unknown {
    if (err instanceof QueueFullError) {
      return new QueueFullError(`Cannot put: the ${this.#kind} is full (${done} items put)`, {
        cause: done,
      });
    }
    if (done > 0 && (err instanceof RangeError || err instanceof TypeError)) {
      const Kind = err instanceof RangeError ? RangeError : TypeError;
      const before = done === 1
        ? "the item before it was put"
        : `the ${done} items before it were put`;
      return new Kind(`${err.message} (${before})`, { cause: err });
    }
    return err;
  }

  // ------------------------------------------------------------ consumers

  /**
   * Takes the oldest item, waiting while the queue is empty.
   *
   * @param options `timeout` in ms (default: forever; negative: poll once).
   * @returns The item.
   * @throws {QueueEmptyError} If the timeout expired while the queue was empty.
   * @throws {QueueClosedError} If the queue is (or gets) closed and is drained.
   * @throws {MessageCorruptError} If the item's bytes are not a valid message (it is consumed).
   *
   * @example
   * ```ts
   * import { Queue } from "@concur/shm";
   *
   * const queue = new Queue<number>(2, { codec: "number" });
   * queue.put(7);
   * console.log(queue.get({ timeout: 100 })); // 7
   * ```
   */
  get(options?: WaitOptions): T {
    // Checked before the fast path: a bad timeout is an error whether or not it would wait.
    const timeout = normalizeTimeout(options?.timeout);
    const batch = this.#batch;
    const value = batch === undefined ? this.#tryGet() : batch(() => this.#tryGet());
    if (value !== EMPTY) return value;
    return this.#getSlow(timeout);
  }

  #getSlow(timeout: number): T {
    if (this.#step(() => this.#closedAndDrained())) throw this.#closedGet();
    if (timeout === 0) throw this.#empty();
    const deadline = new Deadline(timeout);
    const m = this.#memory;
    for (let i = 0; this.#spin && i < SPIN; i++) {
      if (m.load(TAIL) !== m.load(HEAD)) {
        const value = this.#tryGet();
        if (value !== EMPTY) return value;
      } else if (m.load(CLOSED) !== 0) {
        break;
      }
      if (i >= TIGHT_SPIN) pause();
    }
    m.add(GET_SLEEPERS, 1);
    try {
      let bell = 0;
      const attempt = (): T | typeof EMPTY | typeof DRAINED => {
        bell = m.load(NOT_EMPTY_BELL);
        const value = this.#tryGet();
        return value === EMPTY && this.#closedAndDrained() ? DRAINED : value;
      };
      for (;;) {
        const value = this.#step(attempt);
        if (value === DRAINED) throw this.#closedGet();
        if (value !== EMPTY) return value;
        const remaining = deadline.remaining();
        if (remaining === 0) throw this.#empty();
        m.wait(NOT_EMPTY_BELL, bell, remaining);
      }
    } finally {
      m.add(GET_SLEEPERS, -1);
    }
  }

  /**
   * Takes the oldest item if there is one (Python's `get_nowait`).
   *
   * @returns The item.
   * @throws {QueueEmptyError} If the queue is empty.
   * @throws {QueueClosedError} If the queue is closed and drained.
   *
   * @example
   * ```ts
   * import { Queue } from "@concur/shm";
   *
   * try {
   *   new Queue(1).getNowait();
   * } catch (err) {
   *   console.log((err as Error).name); // "QueueEmptyError"
   * }
   * ```
   */
  getNowait(): T {
    const value = this.#attemptGet();
    if (value !== EMPTY) return value;
    if (this.#step(() => this.#closedAndDrained())) throw this.#closedGet();
    throw this.#empty();
  }

  /**
   * {@linkcode Queue.get} without blocking the thread or the event loop.
   *
   * @param options `timeout` in ms and an abort `signal`.
   * @returns The item.
   * @throws {QueueEmptyError} If the timeout expired while the queue was empty.
   * @throws {QueueClosedError} If the queue is (or gets) closed and is drained.
   * @throws The signal's reason, if it aborts first (nothing is taken).
   *
   * @example
   * ```ts
   * import { Queue } from "@concur/shm";
   *
   * const queue = new Queue<string>(1, { codec: "string" });
   * setTimeout(() => queue.put("late"), 10);
   * console.log(await queue.getAsync({ timeout: 1000 })); // "late"
   * ```
   */
  async getAsync(options?: AsyncWaitOptions): Promise<T> {
    const signal = options?.signal;
    signal?.throwIfAborted();
    const first = this.#attemptGet();
    if (first !== EMPTY) return first;
    if (this.#step(() => this.#closedAndDrained())) throw this.#closedGet();
    const timeout = normalizeTimeout(options?.timeout);
    if (timeout === 0) throw this.#empty();
    const deadline = new Deadline(timeout);
    const m = this.#memory;
    m.add(GET_SLEEPERS, 1);
    try {
      let bell = 0;
      const attempt = (): T | typeof EMPTY | typeof DRAINED => {
        bell = m.load(NOT_EMPTY_BELL);
        const value = this.#tryGet();
        return value === EMPTY && this.#closedAndDrained() ? DRAINED : value;
      };
      for (;;) {
        const value = this.#step(attempt);
        if (value === DRAINED) throw this.#closedGet();
        if (value !== EMPTY) return value;
        const remaining = deadline.remaining();
        if (remaining === 0) throw this.#empty();
        await m.waitAsync(NOT_EMPTY_BELL, bell, remaining, signal);
      }
    } finally {
      m.add(GET_SLEEPERS, -1);
    }
  }

  /**
   * Waits for one item (like {@linkcode Queue.get}), then also takes up to
   * `max - 1` more that are waiting, without waiting for them.
   *
   * @param max The most items to return (>= 1).
   * @param options `timeout` in ms for the first item.
   * @returns Between 1 and `max` items, oldest first.
   * @throws {QueueEmptyError} If the timeout expired with nothing to take.
   * @throws {QueueClosedError} If the queue is (or gets) closed and is drained.
   *
   * @example
   * ```ts
   * import { Queue } from "@concur/shm";
   *
   * const queue = new Queue<number>(4, { codec: "number" });
   * queue.putMany([1, 2]);
   * console.log(queue.getMany(10)); // [ 1, 2 ]
   * ```
   */
  getMany(max: number, options?: WaitOptions): T[] {
    checkMax(max);
    const items = [this.get(options)];
    this.#takeMoreBatched(items, max);
    return items;
  }

  /**
   * {@linkcode Queue.getMany} without blocking the thread: waits for one
   * item, then takes up to `max` of those waiting.
   *
   * @param max The most to take (an integer >= 1).
   * @param options `timeout` in ms and an abort `signal`.
   * @returns The items, oldest first (at least one).
   * @throws {QueueEmptyError} If the timeout expired while the queue was empty.
   * @throws {QueueClosedError} If the queue is (or gets) closed and is drained.
   * @throws The signal's reason, if it aborts first.
   *
   * @example
   * ```ts
   * import { Queue } from "@concur/shm";
   *
   * const queue = new Queue<number>(4, { codec: "number" });
   * queue.putMany([1, 2]);
   * console.log(await queue.getManyAsync(10, { timeout: 100 })); // [ 1, 2 ]
   * ```
   */
  async getManyAsync(max: number, options?: AsyncWaitOptions): Promise<T[]> {
    checkMax(max);
    const items = [await this.getAsync(options)];
    this.#takeMoreBatched(items, max);
    return items;
  }

  /** {@linkcode Queue.#takeMore} as one batch on memories that have batches. */
  #takeMoreBatched(items: T[], max: number): void {
    if (items.length >= max) return;
    const batch = this.#batch;
    if (batch === undefined) this.#takeMore(items, max);
    else batch(() => this.#takeMore(items, max));
  }

  /** Appends items that are waiting, without waiting, until `items` holds `max`. */
  #takeMore(items: T[], max: number): void {
    while (items.length < max) {
      const value = this.#tryGet();
      if (value === EMPTY) break;
      items.push(value);
    }
  }

  /**
   * Iterates over the items as they arrive (with {@linkcode Queue.getAsync});
   * the loop ends when the queue is closed and drained.
   *
   * @returns An async iterator over the items.
   *
   * @example
   * ```ts
   * import { Queue } from "@concur/shm";
   *
   * const queue = new Queue<number>(4, { codec: "number" });
   * queue.putMany([1, 2]);
   * queue.close();
   * const seen: number[] = [];
   * for await (const n of queue) seen.push(n);
   * console.log(seen); // [ 1, 2 ]
   * ```
   */
  [Symbol.asyncIterator](): AsyncGenerator<T, void, undefined> {
    return this.items();
  }

  /**
   * Iterates over the items as they arrive, like `for await (... of queue)`,
   * with an abort `signal`: the loop ends when the queue is closed and
   * drained, and throws the signal's reason if it aborts first.
   *
   * @param options An abort `signal`.
   * @returns An async iterator over the items.
   *
   * @example
   * ```ts
   * import { Queue } from "@concur/shm";
   *
   * const queue = new Queue<number>(4, { codec: "number" });
   * queue.put(1);
   * const stop = new AbortController();
   * for await (const n of queue.items({ signal: stop.signal })) {
   *   console.log(n); // 1
   *   stop.abort(); // the next wait throws the reason
   *   break;
   * }
   * ```
   */
  async *items(options?: { signal?: AbortSignal }): AsyncGenerator<T, void, undefined> {
    for (;;) {
      let value: T;
      try {
        value = await this.getAsync({ signal: options?.signal });
      } catch (err) {
        if (err instanceof QueueClosedError) return;
        throw err;
      }
      yield value;
    }
  }

  // ---------------------------------------------------------------- state

  /**
   * How many items are in the queue (a snapshot; exact once the `put`s and
   * `get`s it should count have returned).
   *
   * @returns The count.
   *
   * @example
   * ```ts
   * import { Queue } from "@concur/shm";
   *
   * const queue = new Queue(4);
   * queue.put("a");
   * console.log(queue.qsize()); // 1
   * ```
   */
  qsize(): number {
    const batch = this.#batch;
    return batch === undefined ? this.#count() : batch(() => this.#count());
  }

  #count(): number {
    const m = this.#memory;
    for (;;) {
      const tail = m.load(TAIL);
      const head = m.load(HEAD);
      if (m.load(TAIL) !== tail) continue;
      const hix = head & this.#indexMask;
      const tix = tail & this.#indexMask;
      if (hix < tix) return tix - hix;
      if (hix > tix) return this.#capacity - hix + tix;
      return tail === head ? 0 : this.#capacity;
    }
  }

  /**
   * Whether the queue holds no item (a snapshot).
   *
   * @returns `true` if empty.
   *
   * @example
   * ```ts
   * import { Queue } from "@concur/shm";
   *
   * console.log(new Queue(4).empty()); // true
   * ```
   */
  empty(): boolean {
    return this.qsize() === 0;
  }

  /**
   * Whether the queue holds `capacity` items (a snapshot).
   *
   * @returns `true` if full.
   *
   * @example
   * ```ts
   * import { Queue } from "@concur/shm";
   *
   * const queue = new Queue(1);
   * queue.put(1);
   * console.log(queue.full()); // true
   * ```
   */
  full(): boolean {
    return this.qsize() === this.#capacity;
  }

  /**
   * Whether {@linkcode Queue.close} was called (by any thread).
   *
   * @example
   * ```ts
   * import { Queue } from "@concur/shm";
   *
   * const queue = new Queue(1);
   * queue.close();
   * console.log(queue.closed); // true
   * ```
   */
  get closed(): boolean {
    return this.#memory.load(CLOSED) !== 0;
  }

  /**
   * Closes the queue for every thread: `put` throws {@linkcode QueueClosedError}
   * from now on; consumers take the items left, then get `QueueClosedError`;
   * blocked producers and consumers wake. Closing twice does nothing.
   *
   * @example
   * ```ts
   * import { Queue } from "@concur/shm";
   *
   * const queue = new Queue<number>(2, { codec: "number" });
   * queue.put(1);
   * queue.close();
   * console.log(queue.get()); // 1; the next get() throws QueueClosedError
   * ```
   */
  close(): void {
    const m = this.#memory;
    if (m.exchange(CLOSED, 1) !== 0) return;
    m.add(NOT_EMPTY_BELL, 1);
    m.notify(NOT_EMPTY_BELL);
    m.add(NOT_FULL_BELL, 1);
    m.notify(NOT_FULL_BELL);
  }

  /**
   * @internal Whether the slot at the head is claimed by a producer that has
   * not published it yet, and by whom: 0 if not (the head slot is published,
   * or the queue is empty); the claimer's owner id; or -1 if the slot names
   * nobody (not expected: producers name themselves before claiming). A supervisor
   * checks this (with the liveness of the owner) to tell a dead producer
   * from a slow one: consumers wait for a claimed slot, they never skip it.
   */
  stuckProducer(): number {
    const m = this.#memory;
    const head = m.load(HEAD);
    if (m.load(TAIL) === head) return 0;
    const slot = SLOTS + (head & this.#indexMask) * this.#slotCells;
    if (m.load(slot) !== head || m.load(TAIL) === head) return 0;
    const claimer = m.load(slot + SLOT_CLAIMER);
    return claimer <= CLAIMED ? CLAIMED - claimer : -1;
  }

  /**
   * What `console.log` and `Deno.inspect` show: the state at this moment
   * (a snapshot), like Python's repr.
   *
   * @example
   * ```ts
   * import { Queue } from "@concur/shm";
   *
   * console.log(new Queue(4)); // Queue { size: 0, capacity: 4, closed: false }
   * ```
   */
  [DENO_INSPECT](): string {
    return describeState("Queue", {
      size: this.qsize(),
      capacity: this.capacity,
      closed: this.closed,
    });
  }
}

function checkMax(max: number): void {
  if (!Number.isInteger(max) || max < 1) {
    throw new RangeError(`Cannot get: max must be an integer >= 1, received ${max}`);
  }
}
