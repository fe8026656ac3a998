/**
 * The pool's dispatch channel: a multi-producer, multi-consumer ring of
 * framed byte records in shared memory. The pool pushes tasks into one ring
 * that every worker pops from, and workers push results into a second ring
 * that the pool drains: no `postMessage` per task.
 *
 * (The module's general `Queue` was not available when the pool was built;
 * this ring is the small subset the pool needs: records tagged with a task id,
 * non-blocking push for the parent, sliced interruptible blocking pop for
 * workers, and an async "data available" wait for the parent.)
 *
 * Layout (32-bit cells, then the data area):
 *
 * | cell        | content                                                        |
 * |-------------|----------------------------------------------------------------|
 * | 0           | futex lock word guarding cells 1..3 and the data (`_futex_lock.ts`) |
 * | 1 HEAD      | byte position of the next record to read (wraps at 2^32)        |
 * | 2 TAIL      | byte position where the next record is written                  |
 * | 3 COUNT     | records in the ring                                              |
 * | 4 SEQ       | bumped after every push; consumers sleep on it                   |
 * | 5 SLEEPERS  | consumers asleep (or about to sleep) on SEQ                      |
 * | 6 CLOSED    | 1 once closed: consumers drain what is left, then stop           |
 * | 7 SPACE     | bumped after every pop; producers waiting for room sleep on it   |
 * | 8 SPACE_SLEEPERS | producers asleep on SPACE                                   |
 * | CLAIMS + slot × MAX_BATCH + i | ids consumer `slot` popped and whose result is not yet pushed (0: free) |
 * | PROGRESS + slot | how many of those claims consumer `slot` has started           |
 * | data        | records `[length u32][id u32][tag u32][payload, padded to 4]`  |
 *
 * Invariants: HEAD, TAIL, COUNT and the data are written only under the lock,
 * so a record is popped by exactly one consumer; a consumer writes the ids it
 * popped into its claim cells (and resets its PROGRESS to 0) before it
 * releases the lock, bumps PROGRESS before it starts each claimed task, and
 * clears claims only after their results are pushed. So a consumer that dies
 * leaves a trace of every task it took: claims below PROGRESS ran (their
 * results are lost), the others never started. No lost
 * wake-up: a consumer increments SLEEPERS, then re-checks COUNT, then sleeps
 * on the SEQ value read before; a producer publishes (COUNT under the lock),
 * bumps SEQ, then reads SLEEPERS. In the sequentially consistent order either
 * the consumer's re-check sees the record, or the producer sees the sleeper
 * and notifies (and the bumped SEQ makes a late sleep return at once).
 *
 * @module
 */

import type { Memory } from "../shm/memory.ts";
import { acquireLock, releaseLock } from "../primitives/_futex_lock.ts";
import { currentOwnerId } from "../primitives/_owner.ts";
import { SabMemory } from "../shm/sab_memory.ts";

const LOCK = 0;
const HEAD = 1;
const TAIL = 2;
const COUNT = 3;
const SEQ = 4;
const SLEEPERS = 5;
const CLOSED = 6;
const SPACE = 7;
const SPACE_SLEEPERS = 8;
const CLAIMS = 16;
/** Most consumers (pool workers) a ring can track. */
export const MAX_CONSUMERS = 256;
/** Most records a consumer pops at once. */
export const MAX_BATCH = 32;
const PROGRESS = CLAIMS + MAX_CONSUMERS * MAX_BATCH;
const DATA_OFFSET = (PROGRESS + MAX_CONSUMERS) * 4;
const RECORD_HEADER = 12;
/** Reads of COUNT before a consumer goes to sleep. */
const SPIN_LIMIT = 200;

/** One record. */
export interface RingRecord {
  /** The task id. */
  readonly id: number;
  /** What the payload is (a function index, ok/error...). */
  readonly tag: number;
  /** The payload bytes (a copy). */
  readonly payload: Uint8Array;
}

/** A record to push. */
export interface PendingRecord {
  /** The task id. */
  readonly id: number;
  /** Its tag. */
  readonly tag: number;
  /** Its payload. */
  readonly payload: Uint8Array;
}

/** A framed byte ring in shared memory (see the module doc). */
export class TaskRing {
  readonly #memory: Memory;
  readonly #capacity: number;
  readonly #mask: number;
  readonly #header = new Uint8Array(RECORD_HEADER);
  readonly #headerView = new DataView(this.#header.buffer);

  /** Wraps a ring memory (from {@linkcode TaskRing.create} or a handle). */
  constructor(memory: Memory) {
    this.#memory = memory;
    this.#capacity = memory.byteLength - DATA_OFFSET;
    this.#mask = this.#capacity - 1;
  }

  /** Allocates a ring whose data area holds `capacity` bytes (rounded up to a power of 2). */
  static create(capacity: number): TaskRing {
    let size = 4096;
    while (size < capacity) size *= 2;
    return new TaskRing(new SabMemory(DATA_OFFSET + size));
  }

  /** The memory, to post to workers. */
  get memory(): Memory {
    return this.#memory;
  }

  /** Largest payload a record can carry. */
  get maxPayload(): number {
    return this.#capacity - RECORD_HEADER;
  }

  /** Records currently in the ring. */
  get count(): number {
    return this.#memory.load(COUNT);
  }

  #lock(): void {
    acquireLock(this.#memory, LOCK, currentOwnerId(), Infinity);
  }

  #write(position: number, bytes: Uint8Array): void {
    const at = position & this.#mask;
    const first = Math.min(bytes.length, this.#capacity - at);
    this.#memory.writeBytes(
      DATA_OFFSET + at,
      first === bytes.length ? bytes : bytes.subarray(0, first),
    );
    if (first < bytes.length) this.#memory.writeBytes(DATA_OFFSET, bytes.subarray(first));
  }

  #read(position: number, target: Uint8Array): void {
    const at = position & this.#mask;
    const first = Math.min(target.length, this.#capacity - at);
    this.#memory.readBytes(
      DATA_OFFSET + at,
      first === target.length ? target : target.subarray(0, first),
    );
    if (first < target.length) this.#memory.readBytes(DATA_OFFSET, target.subarray(first));
  }

  /**
   * Appends a record if there is room; never waits.
   *
   * @returns Whether it was appended.
   * @throws {RangeError} If the payload can never fit.
   */
  tryPush(id: number, tag: number, payload: Uint8Array): boolean {
    this.#checkSize(payload);
    const memory = this.#memory;
    this.#lock();
    const written = this.#append(id, tag, payload);
    if (written) memory.add(COUNT, 1);
    releaseLock(memory, LOCK);
    if (written) this.#published(1);
    return written;
  }

  /**
   * Appends `records[from..]` in order, as many as fit, under one lock
   * acquisition and with one wake-up; never waits.
   *
   * @returns How many were appended.
   */
  tryPushMany(records: readonly PendingRecord[], from: number): number {
    const memory = this.#memory;
    let pushed = 0;
    this.#lock();
    for (let i = from; i < records.length; i++) {
      const { id, tag, payload } = records[i];
      if (!this.#append(id, tag, payload)) break;
      pushed++;
    }
    if (pushed > 0) memory.add(COUNT, pushed);
    releaseLock(memory, LOCK);
    if (pushed > 0) this.#published(pushed);
    return pushed;
  }

  #checkSize(payload: Uint8Array): void {
    if (payload.length > this.maxPayload) {
      throw new RangeError(
        `Cannot send task data: ${payload.length} bytes exceed the ring's ${this.maxPayload}`,
      );
    }
  }

  /** Under the lock: writes one record if it fits (COUNT is the caller's). */
  #append(id: number, tag: number, payload: Uint8Array): boolean {
    const memory = this.#memory;
    const need = RECORD_HEADER + ((payload.length + 3) & ~3);
    const tail = memory.load(TAIL);
    if (this.#capacity - ((tail - memory.load(HEAD)) >>> 0) < need) return false;
    this.#headerView.setUint32(0, payload.length, true);
    this.#headerView.setUint32(4, id, true);
    this.#headerView.setUint32(8, tag, true);
    this.#write(tail, this.#header);
    this.#write(tail + RECORD_HEADER, payload);
    memory.store(TAIL, (tail + need) | 0);
    return true;
  }

  /** After publishing `count` records: bump SEQ, wake sleepers if any. */
  #published(count: number): void {
    const memory = this.#memory;
    memory.add(SEQ, 1);
    const sleepers = memory.load(SLEEPERS);
    if (sleepers > 0) memory.notify(SEQ, Math.min(sleepers, count));
  }

  /** Appends a record, blocking the thread while the ring is full (workers only). */
  push(id: number, tag: number, payload: Uint8Array): void {
    const memory = this.#memory;
    for (;;) {
      if (this.tryPush(id, tag, payload)) return;
      const seen = memory.load(SPACE);
      memory.add(SPACE_SLEEPERS, 1);
      try {
        if (!this.tryPush(id, tag, payload)) memory.wait(SPACE, seen);
        else return;
      } finally {
        memory.add(SPACE_SLEEPERS, -1);
      }
    }
  }

  /**
   * Appends all `records` in order, in as few lock acquisitions as room
   * allows, blocking the thread while the ring is full (workers only).
   */
  pushAll(records: readonly PendingRecord[]): void {
    const memory = this.#memory;
    let from = 0;
    for (;;) {
      from += this.tryPushMany(records, from);
      if (from >= records.length) return;
      const seen = memory.load(SPACE);
      memory.add(SPACE_SLEEPERS, 1);
      try {
        const more = this.tryPushMany(records, from);
        from += more;
        if (from >= records.length) return;
        if (more === 0) memory.wait(SPACE, seen);
      } finally {
        memory.add(SPACE_SLEEPERS, -1);
      }
    }
  }

  /** Removes the oldest record if there is one; never waits. */
  tryPop(): RingRecord | undefined {
    const out: RingRecord[] = [];
    return this.tryPopMany(1, -1, out) === 1 ? out[0] : undefined;
  }

  /**
   * Removes up to `max` of the oldest records into `out` under one lock
   * acquisition; never waits. With `slot` ≥ 0, their ids are written into
   * that consumer's claim cells (which must be free) before the lock is
   * released; `max` is then at most {@linkcode MAX_BATCH}.
   *
   * @returns How many were removed.
   */
  tryPopMany(max: number, slot: number, out: RingRecord[]): number {
    const memory = this.#memory;
    if (memory.load(COUNT) === 0) return 0;
    this.#lock();
    const available = memory.load(COUNT);
    const count = Math.min(available, max);
    let head = memory.load(HEAD);
    for (let i = 0; i < count; i++) {
      this.#read(head, this.#header);
      const length = this.#headerView.getUint32(0, true);
      const id = this.#headerView.getUint32(4, true);
      const tag = this.#headerView.getUint32(8, true);
      const payload = new Uint8Array(length);
      this.#read(head + RECORD_HEADER, payload);
      head = (head + RECORD_HEADER + ((length + 3) & ~3)) | 0;
      if (slot >= 0) memory.store(CLAIMS + slot * MAX_BATCH + i, id);
      out.push({ id, tag, payload });
    }
    if (count > 0) {
      memory.store(HEAD, head);
      memory.add(COUNT, -count);
      if (slot >= 0) memory.store(PROGRESS + slot, 0);
    }
    releaseLock(memory, LOCK);
    if (count > 0) {
      memory.add(SPACE, 1);
      if (memory.load(SPACE_SLEEPERS) > 0) memory.notify(SPACE);
    }
    return count;
  }

  /**
   * Removes up to `max` (≤ {@linkcode MAX_BATCH}) records into `out`,
   * claiming them for consumer `slot`; blocks the thread while the ring is
   * empty (workers only; the wait is interruptible). Returns 0 once the ring
   * is closed and empty.
   */
  popMany(max: number, slot: number, out: RingRecord[]): number {
    const memory = this.#memory;
    for (;;) {
      const count = this.tryPopMany(max, slot, out);
      if (count > 0) return count;
      if (memory.load(CLOSED) !== 0) return 0;
      for (let i = 0; i < SPIN_LIMIT && memory.load(COUNT) === 0; i++) { /* spin (reads only) */ }
      if (memory.load(COUNT) !== 0) continue;
      const seen = memory.load(SEQ);
      memory.add(SLEEPERS, 1);
      try {
        if (memory.load(COUNT) === 0 && memory.load(CLOSED) === 0) memory.wait(SEQ, seen);
      } finally {
        memory.add(SLEEPERS, -1);
      }
    }
  }

  /** Resolves once the ring may hold a record (or is closed), without blocking the thread. */
  async waitForRecord(signal?: AbortSignal): Promise<void> {
    const memory = this.#memory;
    const seen = memory.load(SEQ);
    memory.add(SLEEPERS, 1);
    try {
      if (memory.load(COUNT) === 0 && memory.load(CLOSED) === 0) {
        await memory.waitAsync(SEQ, seen, Infinity, signal);
      }
    } finally {
      memory.add(SLEEPERS, -1);
    }
  }

  /**
   * What consumer `slot` holds: the ids it claimed whose results are not
   * pushed, split into those it started and those it never started.
   */
  claims(slot: number): { started: number[]; unstarted: number[] } {
    const progress = this.#memory.load(PROGRESS + slot);
    const started: number[] = [];
    const unstarted: number[] = [];
    for (let i = 0; i < MAX_BATCH; i++) {
      const id = this.#memory.load(CLAIMS + slot * MAX_BATCH + i);
      if (id !== 0) (i < progress ? started : unstarted).push(id);
    }
    return { started, unstarted };
  }

  /** Consumer `slot` is about to start its claim `index`. */
  starting(slot: number, index: number): void {
    this.#memory.store(PROGRESS + slot, index + 1);
  }

  /** Frees claims `[from, to)` of consumer `slot` (their results were pushed). */
  release(slot: number, from: number, to: number): void {
    for (let i = from; i < to; i++) this.#memory.store(CLAIMS + slot * MAX_BATCH + i, 0);
  }

  /** Frees every claim of consumer `slot`. */
  releaseAll(slot: number): void {
    this.release(slot, 0, MAX_BATCH);
    this.#memory.store(PROGRESS + slot, 0);
  }

  /** Closes the ring: consumers drain it and then stop. */
  close(): void {
    this.#memory.store(CLOSED, 1);
    // Change SEQ too: a consumer between two slices of its sliced wait misses
    // the notify, and only a changed SEQ makes its next slice return.
    this.#memory.add(SEQ, 1);
    this.#memory.notify(SEQ);
  }

  /** Wakes every consumer (so it re-checks closing or interrupts). */
  wakeAll(): void {
    this.#memory.add(SEQ, 1);
    this.#memory.notify(SEQ);
  }
}
